"""Profiles (CSV and synthetic days) and the day metrics the replay and benchmark report."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.metrics import count_sessions, energy_balance, perfect_tracking_ev_w
from sim.profiles import ProfileError, load_csv, synthetic_day

DAYS = Path(__file__).resolve().parents[1] / "bench" / "days"


def test_sparse_csv_is_held_per_second(tmp_path):
    p = tmp_path / "day.csv"
    p.write_text("ts_s,pv_w,house_w\n100,1000,300\n103,2000,400\n105,0,500\n")
    prof = load_csv(p)
    assert prof.start_s == 100 and len(prof) == 6
    assert prof.pv_w == (1000, 1000, 1000, 2000, 2000, 0)
    assert prof.at(104.7) == (2000, 400)
    assert prof.at(0) == (1000, 300)  # clamped before the start
    assert prof.at(10_000) == (0, 500)  # and after the end


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("time,pv,house\n1,2,3\n", "line 1 must be the header"),
        ("ts_s,pv_w,house_w\n1,2,3\n2,x,3\n", "line 3: expected numbers"),
        ("ts_s,pv_w,house_w\n1,2,3\n2,-5,3\n", "line 3: pv_w and house_w must be >= 0"),
        ("ts_s,pv_w,house_w\n5,2,3\n5,2,3\n", "line 3: ts_s must increase"),
        ("ts_s,pv_w,house_w\n5,2,3\n", "at least two samples"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path, text, needle):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ProfileError) as e:
        load_csv(p)
    assert needle in str(e.value) and str(p) in str(e.value)


def test_missing_csv(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_csv(tmp_path / "none.csv")


@pytest.mark.parametrize(
    ("kind", "pv_kwh_range"), [("clear", (55, 62)), ("broken", (40, 55)), ("overcast", (10, 20))]
)
def test_shipped_days_match_the_generator(kind, pv_kwh_range):
    shipped = load_csv(DAYS / f"{kind}.csv")
    fresh = synthetic_day(kind)
    assert len(shipped) == len(fresh) == 86_400
    assert [round(v) for v in fresh.pv_w[::997]] == list(shipped.pv_w[::997])
    m = energy_balance(shipped.pv_w, shipped.house_w, [0.0] * len(shipped))
    assert pv_kwh_range[0] < m.pv_kwh < pv_kwh_range[1]
    assert 10 < m.house_kwh < 13
    assert m.export_kwh == pytest.approx(m.surplus_kwh)  # no EV: all surplus is exported


def test_energy_balance_by_hand():
    # 1 h at 3600 s steps: PV 5 kW, house 1 kW, EV 6 kW -> 4 kW solar to EV, 2 kW from the grid.
    m = energy_balance([5000], [1000], [6000], step_s=3600)
    assert m.pv_kwh == pytest.approx(5)
    assert m.ev_kwh == pytest.approx(6)
    assert m.ev_solar_kwh == pytest.approx(4)
    assert m.ev_grid_kwh == pytest.approx(2)
    assert m.import_kwh == pytest.approx(2)
    assert m.export_kwh == 0
    assert m.solar_share == pytest.approx(4 / 6)


def test_perfect_tracking_whole_amps_within_limits():
    wpa = 692.8
    ev = perfect_tracking_ev_w([0, 4000, 4157, 20000], [0, 0, 0, 0], wpa, 6, 16)
    assert ev == [0.0, 0.0, pytest.approx(6 * wpa), pytest.approx(16 * wpa)]
    assert count_sessions([0, 5, 5, 0, 0, 7, 0]) == (2, 2)
