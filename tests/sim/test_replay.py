"""``scc replay``: short days through the real controller, real HTTP to the simulated cloud."""

from __future__ import annotations

import json
import math
import struct
import sys

import pytest

from common.config import Config
from controller.policy import PolicySettings
from scc.cli import main as scc_main
from scc.replay import ReplayOptions, replay
from scc.simcharger import CarOptions
from sim.profiles import Profile, write_csv

WPA = Config().charging.effective_watts_per_amp  # 692.8 W/A
#: The settings the numbers below were worked out for (independent of the shipped defaults).
PINNED = {
    "charging.start_delay_s": 120,
    "charging.stop_delay_s": 300,
    "charging.window_s": 120,
    "charging.solar_share_target": 1.0,
}
#: The cloud's cycle they assume; local control keeps its own (``charger.kind: ocpp``).
PINNED_CLOUD = {"charging.interval_s": 60}
TEN_AM = 36_000


def steady_day(seconds: int = 7200, pv_w: float = 6000.0, house_w: float = 300.0) -> Profile:
    return Profile("steady", TEN_AM, (pv_w,) * seconds, (house_w,) * seconds)


def cloudy_day(shadow_pv_w: float = 2500.0, seconds: int = 7200) -> Profile:
    """Two hours of 6 min sun (PV 6 kW) and 3 min shadow, house 300 W."""
    pv = tuple(6000.0 if (t % 540) < 360 else shadow_pv_w for t in range(seconds))
    return Profile("cloudy", TEN_AM, pv, (300.0,) * seconds)


def pinned(**more: object) -> Config:
    cloud = PINNED_CLOUD if more.get("charger.kind", "wallbox_cloud") == "wallbox_cloud" else {}
    return Config().with_overrides({**PINNED, **cloud, **more})


def test_steady_sun_numbers_worked_out_by_hand():
    r = replay(steady_day(), pinned())
    m = r.metrics
    # Surplus 5700 W -> floor(5700 / 692.8) = 8 A. Cycles every 60 s from 10:01; the surplus
    # covers 6 A from the first cycle, so the start comes 120 s later (10:03), and the charger
    # follows 15 s after that: 8 A x 692.8 W/A for 7200 - 195 s.
    starts = [d for d in r.decisions if d.action.value == "start"]
    assert [(d.ts.hour, d.ts.minute, d.target_a) for d in starts] == [(10, 3, 8)]
    assert m.ev_kwh == pytest.approx(8 * WPA * (7200 - 195) / 3.6e6, rel=1e-9)
    assert m.solar_share == 1.0 and m.ev_grid_kwh == 0.0 and m.import_kwh == 0.0
    assert (m.starts, m.stops) == (1, 0)
    # One status read per cycle, writes only on change (current, then resume), no 429.
    assert len(r.decisions) == 119 and m.charger_reads == 119
    assert (m.charger_writes, m.current_changes, m.rate_limited) == (2, 1, 0)
    # The limit takes 8 A from the first second: the replay captured (7200 - 195) / 7200.
    assert r.limit_solar_kwh == pytest.approx(8 * WPA * 7200 / 3.6e6)
    assert r.captured == pytest.approx((7200 - 195) / 7200)


def test_a_cloud_longer_than_the_stop_delay_worked_out_by_hand():
    """The shipped defaults (cycle 10 s, window 15 s, start 60 s, stop 180 s) on one hour: PV
    5 kW and a 500 W house, then from 10:30 PV 1 kW. Every number below is worked out by hand.

    Surplus 4500 W pays 6 A (4156.9 W). The first cycle (+10 s) sees it, the start comes 60 s
    later (+70 s) and the charger draws from +85 s. At +1800 s the surplus falls to 500 W; the
    +1810 s cycle's window (10 s of shade in 15) already falls short, so the car is held at 6 A
    until +1990 s and draws until +2005 s: 205 s of 4156.9 W of which 500 W is solar. 500 W is
    too little for the share budget (75 % of 6 A), and the session's share stays above 75 %, so
    the stop delay runs its course.
    """
    seconds = 3600
    pv = tuple(5000.0 if t < 1800 else 1000.0 for t in range(seconds))
    day = Profile("cloud", TEN_AM, pv, (500.0,) * seconds)
    r = replay(day, Config())
    m = r.metrics
    ev_w = 6 * WPA
    assert [(d.action.value, round((d.ts.timestamp() % 86400) - TEN_AM)) for d in r.decisions
            if d.action.value in ("start", "stop")] == [("start", 70), ("stop", 1990)]  # fmt: skip
    assert m.ev_kwh == pytest.approx(ev_w * (2005 - 85) / 3.6e6, rel=1e-6)
    assert m.ev_solar_kwh == pytest.approx(
        (ev_w * (1800 - 85) + 500 * (2005 - 1800)) / 3.6e6, rel=1e-6
    )  # all of it while the sun shone, then only the 500 W surplus
    assert m.ev_grid_kwh == pytest.approx((ev_w - 500) * (2005 - 1800) / 3.6e6, rel=1e-6)
    assert m.export_kwh == pytest.approx(
        (4500 * 85 + (4500 - ev_w) * (1800 - 85) + 500 * (3600 - 2005)) / 3.6e6, rel=1e-6
    )
    assert m.import_kwh == pytest.approx(m.ev_grid_kwh, rel=1e-6)  # only the car imported
    # The limit takes 6 A while the surplus covers it, nothing after: 30 min of 4156.9 W.
    assert r.limit_solar_kwh == pytest.approx(ev_w * 1800 / 3.6e6, rel=1e-6)
    assert r.captured == pytest.approx(m.ev_solar_kwh / r.limit_solar_kwh)
    assert (m.starts, m.stops, m.rate_limited) == (1, 1, 0)


def test_default_starts_less_than_naive_on_a_cloudy_day_and_neither_hits_429():
    day = cloudy_day()
    ours = replay(day, pinned(), ReplayOptions(policy="default")).metrics
    naive = replay(day, pinned(), ReplayOptions(policy="naive")).metrics
    # Shadows of 3 min are shorter than the 5 min stop delay: one session all along. The
    # naive rule pauses in (nearly) every shadow and starts again in the sun.
    assert ours.starts == 1
    assert naive.starts >= 8 and naive.starts > 4 * ours.starts
    assert naive.charger_writes > 2 * ours.charger_writes
    # ... and, pausing late and starting on a mixed window, takes less energy and less of it solar.
    assert ours.ev_kwh > naive.ev_kwh and ours.solar_share > naive.solar_share
    assert ours.rate_limited == naive.rate_limited == 0


def test_perfect_limit_beats_default_solar_when_shadows_leave_no_surplus():
    # Shadows at 100 W PV leave no surplus at all: holding 6 A through them takes no solar, so
    # nothing can beat following the sun exactly. (With partial shadows the default can take
    # more solar than the limit, which drops to 0 A below 6 A of surplus; see the README.)
    day = cloudy_day(shadow_pv_w=100.0)
    ours = replay(day, pinned())
    perfect = replay(day, pinned(), ReplayOptions(policy="perfect"))
    assert perfect.metrics.ev_solar_kwh == pytest.approx(perfect.limit_solar_kwh)
    assert perfect.metrics.solar_share == 1.0
    assert perfect.limit_solar_kwh >= ours.metrics.ev_solar_kwh
    # A dip with no sun left pauses after a minute, not the 300 s stop delay: with these slow
    # settings (60 s cycles, a 2 min window, a 2 min start delay) each 3 min shadow pauses the
    # car, and the next start takes a third of the sunny spell (it rode them out before: 87 %).
    assert ours.captured is not None and 0.4 < ours.captured < 0.5
    assert ours.metrics.starts == 13
    assert (perfect.metrics.starts, perfect.metrics.stops) == (14, 13)  # every sunny spell
    assert perfect.cloud_requests is None


def test_a_full_car_stops_taking_and_gets_no_more_commands():
    r = replay(steady_day(), pinned(), ReplayOptions(car_kwh=2.0))
    assert r.metrics.ev_kwh == pytest.approx(2.0, abs=0.01)
    reasons = [d.reason for d in r.decisions]
    assert reasons[-1] == "car-full" and reasons.count("car-full") > 90
    assert r.metrics.charger_writes == 2  # the start only: nothing is sent to a full car
    assert (r.metrics.starts, r.metrics.stops) == (1, 1)


def test_shipped_defaults_are_what_the_benchmark_chose():
    s = PolicySettings.from_config(Config().charging)
    assert (s.window_s, s.start_delay_s, s.stop_delay_s) == (15.0, 60.0, 180.0)
    assert (Config().charging.interval_s, s.solar_share_target) == (10.0, 0.975)


def test_a_long_replay_without_the_series():
    # The whole broken-cloud day is bench/policy_bench.py's job; one shortened day here.
    r = replay(cloudy_day(seconds=4 * 3600), Config(), ReplayOptions(keep_series=False))
    # (how fast: bench/policy_bench.py prints it; no timed assertion here)
    assert r.series is None and r.metrics.charger_reads == 240  # one a minute for 4 h


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def csv_day(tmp_path):
    path = tmp_path / "cloudy.csv"
    write_csv(cloudy_day(), path)
    return path


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("charging:\n  start_delay_s: 120\n  stop_delay_s: 300\n  window_s: 120\n")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = scc_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_has_the_design_keys(capsys, csv_day, cfg_file):
    code, out, _ = run(capsys, "replay", str(csv_day), "--config", str(cfg_file), "--json")
    assert code == 0
    data = json.loads(out)  # exactly one JSON object on stdout
    for key in (
        "pv_kwh", "house_kwh", "ev_kwh", "ev_solar_kwh", "ev_grid_kwh", "import_kwh",
        "export_kwh", "surplus_kwh", "solar_share", "starts", "stops", "current_changes",
        "charger_writes", "rate_limited", "limit_solar_kwh", "captured",
    ):  # fmt: skip
        assert key in data, key
    assert data["policy"] == "default" and data["profile"] == "cloudy"
    assert data["charging"]["stop_delay_s"] == 300.0
    sun_s = 13 * 360 + 180  # 13 whole 9-minute periods, then 3 minutes of sun
    assert data["pv_kwh"] == pytest.approx((sun_s * 6000 + (7200 - sun_s) * 2500) / 3.6e6)
    assert data["starts"] == 1 and data["rate_limited"] == 0


def test_cli_set_changes_the_result_and_table_reads_well(capsys, csv_day, cfg_file):
    base = ["replay", str(csv_day), "--config", str(cfg_file)]
    _, out, _ = run(capsys, *base, "--json", "--set", "charging.stop_delay_s=120")
    assert json.loads(out)["starts"] > 1  # shadows of 180 s now outlast the stop delay
    code, out, _ = run(capsys, *base, "--set", "charging.max_current_a=7")
    assert code == 0
    assert "policy default" in out and "max_current_a 7" in out
    assert "solar share" in out and "captured" in out and "429 answers from the cloud" in out


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("charging.start_delay=60", "unknown key charging.start_delay"),
        ("charging.start_delay_s=soon", "charging.start_delay_s must be a number"),
        ("charging.min_current_a=3", "must be at least 6"),
        ("nosuch.key=1", "unknown section 'nosuch'"),
        ("start_delay_s", "expected SECTION.KEY=VALUE"),
    ],
)
def test_cli_bad_set_is_one_line_and_exit_2(capsys, csv_day, cfg_file, item, needle):
    code, out, err = run(capsys, "replay", str(csv_day), "--config", str(cfg_file), "--set", item)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "--set" in err


def test_cli_bad_profile_is_one_line_and_exit_2(capsys, tmp_path, cfg_file):
    bad = tmp_path / "bad.csv"
    bad.write_text("ts_s,pv_w,house_w\n1,2,3\n2,-1,3\n")
    code, out, err = run(capsys, "replay", str(bad), "--config", str(cfg_file))
    assert code == 2 and out == ""
    assert "line 3" in err and err.count("\n") == 1


def test_cli_plot_writes_a_png_of_a_plausible_size(capsys, tmp_path, csv_day, cfg_file):
    png = tmp_path / "day.png"
    code, out, _ = run(
        capsys, "replay", str(csv_day), "--config", str(cfg_file), "--plot", str(png)
    )
    assert code == 0 and f"Plot: {png}" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1300, 750)
    assert 30_000 < len(data) < 1_000_000  # lines and fills, not an empty canvas


def test_cli_plot_without_matplotlib_says_how_to_install(capsys, monkeypatch, csv_day, cfg_file):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = run(
        capsys, "replay", str(csv_day), "--config", str(cfg_file), "--plot", "x.png"
    )
    assert code == 2 and out == ""
    assert "matplotlib" in err and "pip install" in err and err.count("\n") == 1


def test_limit_is_whole_amps(capsys, csv_day, cfg_file):
    _, out, _ = run(capsys, "replay", str(csv_day), "--config", str(cfg_file), "--json",
                    "--policy", "perfect")  # fmt: skip
    data = json.loads(out)
    # Every sunny second at floor(5700 / 692.8) = 8 A; shadows (2200 W) are below 6 A.
    assert data["ev_kwh"] == pytest.approx(8 * WPA * (13 * 360 + 180) / 3.6e6, abs=1e-4)
    assert data["charger_writes"] == 0 and data["cloud_requests"] is None
    assert math.isclose(data["solar_share"], 1.0)


@pytest.mark.parametrize(
    "args",
    [
        ("--latency-s", "-1"),
        ("--car-kwh", "0"),
        # The cloud's quirks have no meaning on local control.
        ("--charger", "ocpp", "--ocpp-mode"),
        ("--charger", "ocpp", "--zero-kw-every", "2"),
        ("--taper-kwh", "5"),  # without --car-kwh it would be ignored
        ("--plot", "no-such-folder/day.png"),
        ("--plot", "."),
    ],
)
def test_cli_bad_car_or_latency_is_one_line_and_exit_2(capsys, csv_day, cfg_file, args):
    """Said before the replay runs (a whole day takes half a minute), not after."""
    code, out, err = run(capsys, "replay", str(csv_day), "--config", str(cfg_file), *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and args[0] in err


# -- the car as it is, whatever the config assumes (CarOptions) ------------------------------


def acted(r) -> list[tuple[int, str, int]]:
    """(minute, action, target) of every decision that sent the charger something."""
    return [
        (d.ts.minute, d.action.value, d.target_a)
        for d in r.decisions
        if d.action.value not in ("none", "hold")
    ]


def test_a_1_phase_car_this_household_charged_before_is_measured_at_min_current():
    """2700 W of surplus: enough for the 1-phase car at 11 A, not for 6 A at the configured
    692.8 W/A. The controller that charged it before starts it at 6 A to measure it, then
    follows the sun at 11 A; on its first day it waits for 4157 W that never come."""
    day = steady_day(pv_w=3000.0)
    known = replay(day, pinned(), ReplayOptions(car=CarOptions(phases=1)))
    assert acted(known) == [(3, "start", 6), (4, "adjust", 11)]
    m = known.metrics
    assert (m.starts, m.stops, m.ev_grid_kwh) == (1, 0, 0.0)
    assert m.ev_kwh == pytest.approx(4.92, abs=0.02)  # 11 A x 230.9 W/A for most of 2 h
    first = replay(day, pinned(), ReplayOptions(car=CarOptions(phases=1, first_day=True)))
    assert (first.metrics.ev_kwh, first.metrics.charger_writes) == (0.0, 0)


def test_a_3_phase_car_is_never_started_on_a_guess():
    r = replay(steady_day(pv_w=3000.0), pinned(), ReplayOptions(car=CarOptions(phases=3)))
    assert (r.metrics.ev_kwh, r.metrics.charger_writes, r.metrics.starts) == (0.0, 0, 0)


def test_a_1_phase_car_behind_a_3_phase_config_takes_16_a_not_8_a():
    """5700 W of surplus: 8 A at the configured 692.8 W/A; the car measured at 230.9 W/A then
    takes its 16 A (3694 W), all from the sun."""
    r = replay(steady_day(), pinned(), ReplayOptions(car=CarOptions(phases=1, first_day=True)))
    assert acted(r) == [(3, "start", 8), (4, "adjust", 16)]
    assert r.metrics.ev_solar_kwh == r.metrics.ev_kwh == pytest.approx(7.16, abs=0.02)
    # The limit tracks at the car's own 230.9 W/A: 16 A from the first second.
    assert r.limit_solar_kwh == pytest.approx(16 * WPA / 3 * 7200 / 3.6e6, rel=1e-3)
    assert r.captured == pytest.approx(0.969, abs=0.005)


def test_0_kw_reports_do_not_keep_the_car_charging_after_sunset():
    """Every other read says 0 kW: the session still ends at sunset, a minute into the dip (no
    sun is left in it, so the 300 s stop delay does not apply)."""
    sunset = Profile("sunset", TEN_AM, (6000.0,) * 3600 + (0.0,) * 3600, (300.0,) * 7200)
    r = replay(sunset, pinned(), ReplayOptions(car=CarOptions(zero_kw_every=2)))
    reasons = [d.reason for d in r.decisions if d.action.value not in ("none", "hold")]
    assert reasons == ["surplus-start", "dip-hold-min", "surplus-stop", "no-surplus"]
    # 6 A through the window, the minute and the latency, no more (0.46 kWh with the whole
    # 300 s stop delay).
    assert r.metrics.ev_grid_kwh == pytest.approx(0.18, abs=0.02)
    assert r.metrics.stops == 1


def test_in_ocpp_mode_nothing_starts_and_the_refusal_is_not_sent_again():
    sunset = Profile("sunset", TEN_AM, (6000.0,) * 3600 + (0.0,) * 3600, (300.0,) * 7200)
    r = replay(sunset, pinned(), ReplayOptions(car=CarOptions(ocpp_mode=True)))
    assert (r.metrics.ev_kwh, r.metrics.starts) == (0.0, 0)
    # Accepted: the current for the start, and 16 A back after sunset; the refused resume is
    # not sent again within the two hours.
    assert r.metrics.charger_writes == 2


def test_a_tapering_car_fills_up_and_is_left_alone():
    r = replay(steady_day(), pinned(), ReplayOptions(car_kwh=3.0, car=CarOptions(taper_kwh=1.0)))
    assert r.metrics.ev_kwh == pytest.approx(3.0, abs=0.02)
    assert r.metrics.ev_grid_kwh == 0.0
    assert r.decisions[-1].reason == "car-full"


@pytest.mark.parametrize(("flags", "ev_kwh"), [((), 4.96), (("--first-day",), 0.0)])
def test_cli_car_phases_and_first_day(capsys, tmp_path, cfg_file, flags, ev_kwh):
    write_csv(steady_day(pv_w=3000.0), tmp_path / "low.csv")
    argv = ["replay", str(tmp_path / "low.csv"), "--config", str(cfg_file), "--json"]
    code, out, _ = run(capsys, *argv, "--car-phases", "1", *flags)
    data = json.loads(out)
    assert code == 0 and data["charging"]["car_watts_per_amp"] == pytest.approx(230.9, abs=0.1)
    assert data["ev_kwh"] == pytest.approx(ev_kwh, abs=0.02)


# -- local control (OCPP): the real central system and the simulated Pulsar -------------------


def test_ocpp_steady_sun_numbers_worked_out_by_hand():
    """Local control's defaults (10 s cycles, 20 s window) with a 120 s start delay, one hour of
    PV 6 kW and a 300 W house: surplus 5700 W, 8 A."""
    config = pinned(**{"charger.kind": "ocpp"}).with_overrides({"charging.window_s": 20})
    r = replay(steady_day(3600), config)
    m = r.metrics
    assert r.charger == "ocpp" and r.charging["interval_s"] == 10.0
    # Cycles every 10 s from 10:00:10; the surplus covers 6 A from the first one, so the start
    # comes 120 s later (10:02:10): the 8 A profile, then the remote start; the Pulsar starts its
    # session at its next second, at the profile's 8 A.
    starts = [d for d in r.decisions if d.action.value == "start"]
    assert [(d.ts.minute, d.ts.second, d.target_a) for d in starts] == [(2, 10, 8)]
    on_s = 3600 - 131
    assert m.ev_kwh == pytest.approx(8 * 3 * 400 / math.sqrt(3) * on_s / 3.6e6, rel=1e-3)
    assert m.solar_share == 1.0 and m.ev_grid_kwh == 0.0
    assert (m.starts, m.stops, m.rate_limited) == (1, 0, 0)
    # One profile and one remote start; no cloud request, no sample asked for (10 s samples).
    assert (m.charger_writes, m.current_changes, m.charger_reads) == (2, 1, 0)
    assert r.captured == pytest.approx(on_s / 3600, rel=1e-3)


def test_ocpp_follows_a_cloudy_day_closer_than_the_cloud(capsys):
    """The same cloudy hour (6 min sun, 3 min shade) through both chargers, on the same cycle
    and window: locally the current follows the sun within seconds."""
    config = Config().with_overrides(
        {"charging.start_delay_s": 120, "charging.stop_delay_s": 120, "charging.window_s": 15}
    )
    cloud = replay(cloudy_day(), config, ReplayOptions(keep_series=False))
    local = replay(
        cloudy_day(),
        config.with_overrides({"charger.kind": "ocpp"}),
        ReplayOptions(keep_series=False),
    )
    assert local.metrics.ev_solar_kwh > cloud.metrics.ev_solar_kwh
    assert local.metrics.ev_grid_kwh < cloud.metrics.ev_grid_kwh
    assert local.metrics.rate_limited == 0 and local.cloud_requests is not None


def test_ocpp_a_1_phase_car_behind_a_3_phase_config_takes_what_the_right_config_gives():
    """Surplus 5700 W: the config's 692.8 W/A says 8 A; the car is on one phase (230.9 W/A), so
    it can take the 16 A maximum. The start goes at the config's guess, the Pulsar's first sample
    after it measures the car, and the next cycle goes to 16 A: a 1-phase car on a 3-phase
    config charges within a few Wh of one the config describes."""
    config = pinned(**{"charger.kind": "ocpp"}).with_overrides({"charging.window_s": 20})
    options = ReplayOptions(keep_series=False, car=CarOptions(phases=1))
    r = replay(steady_day(3600), config, options)
    steering = [d for d in r.decisions if d.action.value in ("start", "adjust", "stop")]
    assert [(d.action.value, d.target_a) for d in steering] == [("start", 8), ("adjust", 16)]
    assert (steering[1].ts - steering[0].ts).total_seconds() <= 20
    assert r.charging["car_watts_per_amp"] == 230.9
    right = replay(steady_day(3600), config.with_overrides({"charging.watts_per_amp": 230.9}),
                   options)  # fmt: skip
    assert right.metrics.ev_solar_kwh - r.metrics.ev_solar_kwh == pytest.approx(0, abs=0.015)
    assert r.metrics.ev_grid_kwh == 0.0 and r.metrics.starts == 1


def test_cli_replay_with_the_ocpp_charger(capsys, tmp_path):
    day = tmp_path / "steady.csv"
    write_csv(steady_day(1800), day)
    code, out, _ = run(capsys, "replay", str(day), "--charger", "ocpp", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["charger"] == "ocpp" and data["charging"]["interval_s"] == 10.0
    assert data["starts"] == 1 and data["rate_limited"] == 0
    code, out, _ = run(capsys, "replay", str(day), "--charger", "ocpp", "--latency-s", "10")
    assert code == 0
    assert "charger commands (OCPP)" in out and "OCPP calls in all" in out
    assert "429" not in out


def test_ocpp_a_1_phase_car_this_household_charged_before_is_measured_at_min_current():
    """Main's rule on local control: 2700 W of surplus pays for the 1-phase car at 11 A, not for
    6 A at the configured 692.8 W/A. Remembered, the car is started at 6 A and the charger's
    first sample after it measures 230.9 W/A, so it goes to 11 A in the same minute (through the
    cloud: the next minute); on the first day nothing starts. A 3-phase car is never started on
    a guess."""
    day, config = steady_day(pv_w=3000.0), pinned(**{"charger.kind": "ocpp"})
    known = replay(day, config, ReplayOptions(car=CarOptions(phases=1)))
    assert acted(known) == [(2, "start", 6), (2, "adjust", 11)]
    m = known.metrics
    assert (m.starts, m.stops, m.ev_grid_kwh) == (1, 0, 0.0)
    assert m.ev_kwh == pytest.approx(4.98, abs=0.02)  # 11 A x 230.9 W/A for all but 2 minutes
    first = replay(day, config, ReplayOptions(car=CarOptions(phases=1, first_day=True)))
    assert (first.metrics.ev_kwh, first.metrics.charger_writes) == (0.0, 0)
    three = replay(day, config, ReplayOptions(car=CarOptions(phases=3)))
    assert (three.metrics.ev_kwh, three.metrics.charger_writes) == (0.0, 0)


@pytest.mark.parametrize(("flags", "ev_kwh"), [((), 4.98), (("--first-day",), 0.0)])
def test_cli_first_day_with_the_ocpp_charger(capsys, tmp_path, cfg_file, flags, ev_kwh):
    write_csv(steady_day(pv_w=3000.0), tmp_path / "low.csv")
    argv = ["replay", str(tmp_path / "low.csv"), "--config", str(cfg_file), "--json"]
    code, out, _ = run(capsys, *argv, "--charger", "ocpp", "--car-phases", "1", *flags)
    data = json.loads(out)
    assert code == 0 and data["charger"] == "ocpp"
    assert data["ev_kwh"] == pytest.approx(ev_kwh, abs=0.02)
