"""The store contract, one set of tests for every backend (docs/design.md, "Fail-safe" and "Store
schema").

Backends: SQLite on a temporary file, InfluxStore on the in-test fake InfluxDB; tests/live runs
these same functions against a real InfluxDB 2 by overriding the ``backend`` fixture. Timestamps
sit an hour before the real clock because the InfluxDB store looks for the "last" points within
a lookback from the real now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.models import (
    Action,
    ChargerState,
    CommandError,
    Decision,
    EnergySummary,
    Mode,
    ModeChange,
    Reading,
    Reason,
    Status,
)
from common.store import Store, build_status
from tests.fakes.influxdb import FakeInfluxDB
from tests.support.backends import Backend, fake_influx_backend, sqlite_backend
from tests.support.sample_day import sample_day


@pytest.fixture(params=["sqlite", "influx-fake"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        b = sqlite_backend(tmp_path / "scc.db")
        yield b
        b.close_all()
    else:
        with FakeInfluxDB() as fake:
            b = fake_influx_backend(fake)
            yield b
            b.close_all()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open_tracked()


@pytest.fixture
def t0() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def s(t0: datetime, seconds: float) -> datetime:
    return t0 + timedelta(seconds=seconds)


def full_reading(ts: datetime, i: int) -> Reading:
    return Reading(
        ts=ts,
        meter="5c2fafabcdef",
        active_power_w=-1234.5 + i,
        active_power_l1_w=-400.25,
        active_power_l2_w=-420.0,
        active_power_l3_w=-414.25 + i,
        active_voltage_l1_v=231.1,
        active_voltage_l2_v=230.4,
        active_voltage_l3_v=229.9,
        active_current_l1_a=1.74,
        active_current_l2_a=1.83,
        active_current_l3_a=1.8,
        total_power_import_kwh=1234.567 + i / 1000,
        total_power_export_kwh=987.654,
        active_power_average_w=150.0,
        montly_power_peak_w=4321.0,
    )


# -- readings and the window mean -------------------------------------------------------------


def test_batch_write_then_read_back_every_field(store: Store, t0: datetime) -> None:
    batch = [full_reading(s(t0, -i), i) for i in range(10)]
    store.write_readings(batch)
    assert store.latest_reading(t0) == batch[0]
    assert store.latest_reading(s(t0, -4.5)) == batch[5]


def test_latest_reading_ignores_readings_after_now_and_none_when_empty(store: Store, t0) -> None:
    assert store.latest_reading(t0) is None
    store.write_readings([Reading(ts=s(t0, -10), active_power_w=1.0)])
    store.write_readings([Reading(ts=s(t0, 5), active_power_w=2.0)])
    assert store.latest_reading(t0) == Reading(ts=s(t0, -10), active_power_w=1.0)


def power_series(t0: datetime) -> list[Reading]:
    """1-second readings from t0-130 s to t0 inclusive, values with fractions and signs."""
    return [Reading(ts=s(t0, -k), active_power_w=((k * 37) % 1000) - 400.25) for k in range(0, 131)]


def mean_of(readings: list[Reading], start: datetime, stop: datetime) -> float:
    values = [r.active_power_w for r in readings if start <= r.ts < stop]
    assert values
    return sum(values) / len(values)


def test_window_mean_is_the_arithmetic_mean_of_readings_in_the_half_open_window(store, t0) -> None:
    readings = power_series(t0)
    store.write_readings(readings)
    expected = mean_of(readings, s(t0, -120), t0)  # 120 readings: t0-120 .. t0-1
    assert store.grid_power_mean(120, t0) == pytest.approx(expected, abs=1e-9)
    # A reading exactly at now is not in the window; one exactly at now - window is.
    assert expected != pytest.approx(mean_of(readings, s(t0, -119), s(t0, 1)))
    assert store.grid_power_mean(10, s(t0, -60)) == pytest.approx(
        mean_of(readings, s(t0, -70), s(t0, -60)), abs=1e-9
    )


def test_since_narrows_the_window(store, t0) -> None:
    readings = power_series(t0)
    store.write_readings(readings)
    narrowed = store.grid_power_mean(120, t0, since=s(t0, -30))
    assert narrowed == pytest.approx(mean_of(readings, s(t0, -30), t0), abs=1e-9)
    assert narrowed != pytest.approx(store.grid_power_mean(120, t0))
    # A since before the window start changes nothing; one at or after now leaves nothing.
    assert store.grid_power_mean(120, t0, since=s(t0, -500)) == pytest.approx(
        store.grid_power_mean(120, t0), abs=1e-9
    )
    assert store.grid_power_mean(120, t0, since=t0) is None


def test_window_mean_is_none_when_the_window_holds_no_reading(store, t0) -> None:
    assert store.grid_power_mean(120, t0) is None
    store.write_readings(
        [
            Reading(ts=s(t0, -121), active_power_w=500.0),  # just before the window
            Reading(ts=t0, active_power_w=600.0),  # at now: outside [now - window, now)
            Reading(ts=s(t0, -60), total_power_import_kwh=12.0),  # no power in it
        ]
    )
    assert store.grid_power_mean(120, t0) is None


def test_the_same_point_written_twice_is_stored_once(store, backend: Backend, t0) -> None:
    readings = power_series(t0)
    store.write_readings(readings)
    before = store.grid_power_mean(120, t0)
    store.write_readings(readings[:60])  # a spool flushed again after an unclear failure
    store.write_readings(readings)
    assert backend.count("p1") == len(readings)
    assert store.grid_power_mean(120, t0) == pytest.approx(before, abs=1e-9)


def test_a_later_write_of_the_same_point_overrides_its_fields_and_keeps_the_others(store, t0):
    ts = s(t0, -5)
    store.write_readings([Reading(ts=ts, active_power_w=100.0, total_power_import_kwh=5.0)])
    store.write_readings([Reading(ts=ts, active_power_w=200.0)])
    assert store.latest_reading(t0) == Reading(
        ts=ts, active_power_w=200.0, total_power_import_kwh=5.0
    )
    assert store.grid_power_mean(60, t0) == 200.0


def test_timestamps_are_kept_to_the_millisecond_truncated(store, t0) -> None:
    store.write_readings([Reading(ts=s(t0, -1 + 0.123_987), active_power_w=7.0)])
    assert store.latest_reading(t0).ts == s(t0, -1 + 0.123)


def test_readings_of_two_meters_are_two_series(store, backend: Backend, t0) -> None:
    store.write_readings(
        [
            Reading(ts=s(t0, -2), meter="a", active_power_w=100.0),
            Reading(ts=s(t0, -2), meter="b", active_power_w=300.0),
        ]
    )
    assert backend.count("p1") == 2
    assert store.grid_power_mean(60, t0) == 200.0


def test_latest_reading_is_the_newest_whichever_meter_wrote_it(store, t0) -> None:
    # Series sort by tag value ("a" before "b"): the newest must win by time, not by that order.
    store.write_readings([Reading(ts=s(t0, -10), meter="b", active_power_w=1.0)])
    store.write_readings([Reading(ts=s(t0, -5), meter="a", active_power_w=2.0)])
    store.write_readings([Reading(ts=s(t0, -20), meter="c", active_power_w=3.0)])
    assert store.latest_reading(t0) == Reading(ts=s(t0, -5), meter="a", active_power_w=2.0)


# -- charger state, decisions, mode -----------------------------------------------------------


def test_charger_state_round_trips_with_types(store, t0) -> None:
    assert store.last_charger_state() is None
    older = ChargerState(
        ts=s(t0, -120), charger_id="12345", status_id=181, status="Waiting for car demand",
        current_a=6.0, power_w=0.0, added_energy_kwh=None,
    )  # fmt: skip
    newer = ChargerState(
        ts=s(t0, -60), charger_id="12345", status_id=194, status="Charging",
        current_a=10.0, power_w=6900.5, added_energy_kwh=3.25,
    )  # fmt: skip
    store.write_charger_state(newer)
    store.write_charger_state(older)  # written late, still older
    got = store.last_charger_state()
    assert got == newer
    assert isinstance(got.status_id, int) and not isinstance(got.status_id, bool)
    assert isinstance(got.current_a, float) and isinstance(got.power_w, float)


def test_charger_state_with_unknown_values_round_trips(store, t0) -> None:
    state = ChargerState(
        ts=s(t0, -1), charger_id="c 1,=x", status_id=None, status="unknown",
        current_a=None, power_w=None,
    )  # fmt: skip
    store.write_charger_state(state)
    assert store.last_charger_state() == state


def test_a_later_charger_write_at_the_same_time_keeps_the_fields_it_lacks(store, t0) -> None:
    ts = s(t0, -3)
    store.write_charger_state(ChargerState(ts=ts, charger_id="c", status_id=194, status="Charging",
                                           current_a=6.0, power_w=4140.0))  # fmt: skip
    store.write_charger_state(ChargerState(ts=ts, charger_id="c", status_id=None, status="Paused",
                                           current_a=8.0, power_w=None))  # fmt: skip
    assert store.last_charger_state() == ChargerState(
        ts=ts, charger_id="c", status_id=194, status="Paused", current_a=8.0, power_w=4140.0
    )


def test_decision_round_trips_with_types(store, t0) -> None:
    assert store.last_decision() is None
    d = Decision(
        ts=s(t0, -30),
        mode=Mode.MIN_SOLAR,
        action=Action.NONE,
        reason=Reason.SURPLUS_ADJUST,
        command_error=CommandError.RATE_LIMITED,
        target_a=10,
        grid_power_mean_w=-1845.75,
        surplus_w=2345.0,
    )
    store.write_decision(Decision(ts=s(t0, -90), mode=Mode.SOLAR, action=Action.START,
                                  reason="surplus-start", target_a=6))  # fmt: skip
    store.write_decision(d)
    got = store.last_decision()
    assert got == d
    assert isinstance(got.target_a, int) and isinstance(got.mode, Mode)
    assert isinstance(got.action, Action)
    assert got.reason is Reason.SURPLUS_ADJUST and got.command_error is CommandError.RATE_LIMITED
    assert got.stored_reason == "surplus-adjust/rate-limited"  # the text Grafana shows


def test_decision_without_mean_or_surplus_round_trips(store, t0) -> None:
    d = Decision(ts=s(t0, -1), mode=Mode.SOLAR, action=Action.STOP, reason="stale", target_a=0)
    store.write_decision(d)
    assert store.last_decision() == d


def test_mode_round_trips_and_the_latest_wins(store, t0) -> None:
    assert store.get_mode() is None
    first = store.set_mode(Mode.MANUAL, "phone", s(t0, -20))
    assert first == ModeChange(ts=s(t0, -20), mode=Mode.MANUAL, source="phone")
    assert store.get_mode() == first
    store.set_mode(Mode.SOLAR, "cli", s(t0, -10))
    assert store.get_mode() == ModeChange(ts=s(t0, -10), mode=Mode.SOLAR, source="cli")


def test_a_switch_after_a_row_dated_in_the_future_is_still_the_last(store, t0) -> None:
    """A clock that was an hour ahead (DST bug, a wrong RTC) left a row in the future; the
    switches made after the clock was put right must not hide behind it (issue 11, item 8)."""
    store.set_mode(Mode.MANUAL, "phone, clock ahead", s(t0, 3600))
    later = store.set_mode(Mode.SOLAR, "phone", s(t0, 0))
    assert later.ts == s(t0, 3600) + timedelta(milliseconds=1)
    assert store.get_mode() == later
    store.set_mode(Mode.MIN_SOLAR, "cli", s(t0, 10))
    assert store.get_mode().mode is Mode.MIN_SOLAR


def test_grid_phase_means_per_phase_and_total(store, t0) -> None:
    store.write_readings(
        [
            Reading(ts=s(t0, 0), active_power_w=-900.0, active_power_l1_w=-300.0,
                    active_power_l2_w=-300.0, active_power_l3_w=-300.0),
            Reading(ts=s(t0, 1), active_power_w=480.0, active_power_l1_w=1080.0,
                    active_power_l2_w=-300.0, active_power_l3_w=-300.0),
            Reading(ts=s(t0, 2), active_power_w=100.0),  # a phase-less reading counts in the total
        ]
    )  # fmt: skip
    got = store.grid_phase_means(60, s(t0, 3))
    assert got is not None
    assert got.active_power_w == pytest.approx(-320 / 3)
    assert got.phases() == (pytest.approx(390.0), pytest.approx(-300.0), pytest.approx(-300.0))
    since = store.grid_phase_means(60, s(t0, 3), since=s(t0, 1))
    assert since is not None and since.active_power_l1_w == pytest.approx(1080.0)
    assert store.grid_phase_means(60, s(t0, 200)) is None


def test_charger_state_keeps_watts_per_amp_and_the_cloud_mode(store, t0) -> None:
    state = ChargerState(
        ts=s(t0, -5), charger_id="12345", status_id=194, status="Charging", current_a=16.0,
        power_w=3680.0, watts_per_amp=230.0, operation_mode="ocpp", refused="pause,resume",
    )  # fmt: skip
    store.write_charger_state(state)
    assert store.last_charger_state() == state


def test_mode_survives_reopening_the_store(backend: Backend, t0) -> None:
    first = backend.open_tracked()
    first.set_mode(Mode.MIN_SOLAR, "phone", s(t0, -5))
    first.close()
    again = backend.open_tracked()
    assert again.get_mode() == ModeChange(ts=s(t0, -5), mode=Mode.MIN_SOLAR, source="phone")


def test_mode_set_long_ago_still_holds(store, t0) -> None:
    store.set_mode(Mode.MANUAL, "phone", t0 - timedelta(days=400))
    assert store.get_mode().mode is Mode.MANUAL


def test_a_mode_outlives_the_retention_while_it_is_read(backend: Backend) -> None:
    """The mode is set once and holds: read as the controller reads it, it survives the bucket's
    retention (here a week, applied daily for 40 days) with the time it was really set."""
    now = [datetime.now(UTC).replace(microsecond=0)]
    store = backend.open_tracked(clock=lambda: now[0])
    set_at = now[0] - timedelta(days=2)
    store.set_mode(Mode.MANUAL, "phone", set_at)
    for _ in range(40):
        assert store.get_mode() == ModeChange(ts=set_at, mode=Mode.MANUAL, source="phone")
        now[0] += timedelta(days=1)
        backend.expire(now[0], now[0] - timedelta(days=7))
    later = backend.open_tracked(clock=lambda: now[0])  # another process, started today
    assert later.get_mode() == ModeChange(ts=set_at, mode=Mode.MANUAL, source="phone")
    # A later change still wins over the kept one.
    change = later.set_mode(Mode.SOLAR, "cli", now[0] - timedelta(seconds=1))
    assert store.get_mode() == change


# -- energy summary ---------------------------------------------------------------------------


def energy_scenario(store: Store, t0: datetime) -> None:
    """Five controller cycles of 60 s from t0, plus points just outside [t0, t0 + 300 s)."""
    cycles = [  # (offset s, charger power W, surplus W, action)
        (0, 0.0, 1000.0, Action.NONE),
        (60, 4140.0, 5000.0, Action.START),
        (120, 4140.0, 3000.0, Action.HOLD),
        (180, 6900.0, 8000.0, Action.ADJUST),
        (240, 0.0, -500.0, Action.STOP),
    ]
    for offset, power_w, surplus_w, action in [(-600, 9999.0, 9999.0, Action.START), *cycles]:
        ts = s(t0, offset)
        store.write_charger_state(
            ChargerState(ts=ts, charger_id="12345", status_id=194, status="Charging",
                         current_a=power_w / 690, power_w=power_w)
        )  # fmt: skip
        store.write_decision(
            Decision(ts=ts, mode=Mode.SOLAR, action=action, reason="hold", target_a=6,
                     grid_power_mean_w=power_w - surplus_w, surplus_w=surplus_w)
        )  # fmt: skip
    # A start exactly at the stop of the period is outside it.
    store.write_decision(Decision(ts=s(t0, 300), mode=Mode.SOLAR, action=Action.START,
                                  reason="hold", target_a=6, surplus_w=5000.0))  # fmt: skip
    store.write_readings(
        [
            Reading(ts=s(t0, -60), total_power_import_kwh=99.0, total_power_export_kwh=40.0),
            Reading(ts=t0, active_power_w=-900.0, total_power_import_kwh=100.0,
                    total_power_export_kwh=50.0),
            Reading(ts=s(t0, 100), active_power_w=-800.0),  # no counters in this one
            Reading(ts=s(t0, 150), total_power_import_kwh=100.05, total_power_export_kwh=50.1),
            Reading(ts=s(t0, 299), total_power_import_kwh=100.2, total_power_export_kwh=50.1),
            Reading(ts=s(t0, 300), total_power_import_kwh=200.0, total_power_export_kwh=90.0),
        ]
    )  # fmt: skip


def test_energy_summary_on_a_hand_computed_scenario(store, t0) -> None:
    energy_scenario(store, t0)
    summary = store.energy_summary(t0, s(t0, 300))
    # EV: each charger sample holds 60 s: (0 + 4140 + 4140 + 6900 + 0) W x 60 s = 910,800 J.
    # Solar part: min(ev, max(0, surplus)) = 0 + 4140 + 3000 + 6900 + 0 = 14,040 W x 60 s.
    assert summary.ev_kwh == pytest.approx(910_800 / 3.6e6)
    assert summary.ev_solar_kwh == pytest.approx(842_400 / 3.6e6)
    assert summary.import_kwh == pytest.approx(0.2)
    assert summary.export_kwh == pytest.approx(0.1)
    assert summary.starts == 1
    assert summary.solar_share == pytest.approx(842_400 / 910_800)


def test_meter_counters_span_a_replaced_meter(store, t0) -> None:
    store.write_readings(
        [
            Reading(ts=t0, meter="b", total_power_import_kwh=100.0, total_power_export_kwh=7.0),
            Reading(ts=s(t0, 60), meter="b", total_power_import_kwh=100.1),
            Reading(ts=s(t0, 100), meter="a", total_power_import_kwh=100.3),
        ]
    )
    summary = store.energy_summary(t0, s(t0, 300))
    assert summary.import_kwh == pytest.approx(0.3)
    assert summary.export_kwh == 0.0


def test_energy_summary_of_an_empty_period(store, t0) -> None:
    assert store.energy_summary(t0, s(t0, 300)) == EnergySummary(
        ev_kwh=0.0, ev_solar_kwh=0.0, import_kwh=None, export_kwh=None, starts=0
    )


def test_a_charger_state_of_unknown_power_counts_as_no_draw(store, t0) -> None:
    charging = ChargerState(ts=t0, charger_id="c", status_id=194, status="Charging",
                            current_a=6.0, power_w=4140.0)  # fmt: skip
    unknown = ChargerState(ts=s(t0, 60), charger_id="c", status_id=None, status="unknown",
                           current_a=None, power_w=None)  # fmt: skip
    store.write_charger_state(charging)
    store.write_charger_state(unknown)
    summary = store.energy_summary(t0, s(t0, 180))
    assert summary.ev_kwh == pytest.approx(4140 * 60 / 3.6e6)
    assert summary.ev_solar_kwh == 0.0  # no decision, so no surplus known


def test_a_whole_sample_day_reads_back_consistently(store, t0) -> None:
    day = sample_day(t0 - timedelta(days=1), reading_interval_s=60, cycle_s=300)
    day.write_to(store)
    ev_kwh, solar_kwh = day.ev_kwh_and_solar_kwh
    assert ev_kwh > 10 and 0 < solar_kwh < ev_kwh  # it charged, partly from the grid (manual)
    summary = store.energy_summary(day.start, day.stop)
    assert summary.ev_kwh == pytest.approx(ev_kwh)
    assert summary.ev_solar_kwh == pytest.approx(solar_kwh)
    assert summary.import_kwh == pytest.approx(day.counter_delta_kwh("total_power_import_kwh"))
    assert summary.export_kwh == pytest.approx(day.counter_delta_kwh("total_power_export_kwh"))
    assert summary.starts == day.starts >= 1
    noon = day.start + timedelta(hours=12)
    window = [r.active_power_w for r in day.readings if noon - timedelta(minutes=10) <= r.ts < noon]
    assert store.grid_power_mean(600, noon) == pytest.approx(sum(window) / len(window))
    assert store.latest_reading(day.stop) == day.readings[-1]
    assert store.get_mode() == day.modes[-1]
    assert store.last_decision() == day.decisions[-1]
    assert store.last_charger_state() == day.charger_states[-1]


# -- retention and what the store says about itself ------------------------------------------


def test_retention_keeps_what_the_contract_reads(backend: Backend, store, t0) -> None:
    """After the retention ran (SQLite rolls 1 s readings older than a week up into minutes;
    InfluxDB keeps its bucket's), today's reads and a past day's energy are what they were."""
    old_day = (t0 - timedelta(days=9)).replace(second=0)
    counters = [
        Reading(ts=old_day + timedelta(seconds=60 * k), total_power_import_kwh=10.0 + k / 60,
                total_power_export_kwh=5.0 + k / 120, active_power_w=float(k % 50))
        for k in range(1440)
    ]  # fmt: skip
    store.write_readings(counters)
    store.write_readings(power_series(t0))
    energy_scenario(store, t0)
    mode = store.set_mode(Mode.MIN_SOLAR, "phone", t0 - timedelta(days=8))
    day = (old_day, old_day + timedelta(days=1))

    def reads() -> tuple:
        return (
            store.energy_summary(*day),
            store.energy_summary(t0, s(t0, 300)),
            store.grid_power_mean(120, t0),
            store.latest_reading(t0),
            store.power_series(old_day, old_day + timedelta(hours=2), 600),
        )

    before = reads()
    while store.prune(t0, budget_s=5):
        pass
    after = reads()
    assert after[0] == before[0] and after[0].import_kwh == pytest.approx(1439 / 60)
    assert after[1:4] == before[1:4]
    # The chart of a past day: its grid power from the minutes it was rolled up into.
    assert [p.ts for p in after[4]] == [p.ts for p in before[4]] and len(after[4]) >= 12
    assert [p.grid_power_w for p in after[4]] == pytest.approx([p.grid_power_w for p in before[4]])
    assert store.get_mode() == mode


def test_info_tells_the_span_of_the_readings(store, t0) -> None:
    empty = store.info(t0)
    assert (empty.oldest_reading, empty.newest_reading) == (None, None)
    store.write_readings(power_series(t0))
    store.write_readings([Reading(ts=s(t0, -86400), active_power_w=5.0)])
    info = store.info(t0)
    assert (info.oldest_reading, info.newest_reading) == (s(t0, -86400), t0)
    assert info.where and info.retention
    assert info.size_bytes is None or info.size_bytes > 0


# -- status for the phone page ----------------------------------------------------------------


def test_build_status_gathers_the_latest_of_everything(store, t0) -> None:
    energy_scenario(store, t0)
    mode = store.set_mode(Mode.SOLAR, "phone", s(t0, 10))
    now = s(t0, 299.5)
    status = build_status(store, now=now, window_s=120, day_start=t0)
    assert status == Status(
        now=now,
        latest_reading=Reading(ts=s(t0, 299), total_power_import_kwh=100.2,
                               total_power_export_kwh=50.1),
        grid_power_mean_w=None,  # the readings in the last 120 s carry no power
        window_s=120,
        mode=mode,
        last_decision=Decision(ts=s(t0, 300), mode=Mode.SOLAR, action=Action.START,
                               reason="hold", target_a=6, surplus_w=5000.0),
        charger=ChargerState(ts=s(t0, 240), charger_id="12345", status_id=194,
                             status="Charging", current_a=0.0, power_w=0.0),
        today=store.energy_summary(t0, now),
    )  # fmt: skip
    assert status.today.ev_kwh == pytest.approx((4140 + 4140 + 6900) * 60 / 3.6e6)
    assert status.to_json()["mode"] == {
        "ts": mode.ts.isoformat().replace("+00:00", "Z"),
        "mode": "solar",
        "source": "phone",
    }


# -- the phone page's chart: a downsampled series -----------------------------------------------


def minute_of(t0: datetime) -> datetime:
    """The whole minute (since the epoch) at or before t0: where a 60 s bucket starts."""
    return t0.replace(second=0)


def chart_scenario(store: Store, m: datetime) -> None:
    """Readings every second from m-30 s to m+149 s (two meters in the second minute), the car's
    draw at three cycles, and decisions with and without a surplus."""
    store.write_readings([Reading(ts=s(m, k), active_power_w=100.0 + k) for k in range(-30, 150)])
    store.write_readings([Reading(ts=s(m, 60 + k) + timedelta(milliseconds=500), meter="b",
                                  active_power_w=-50.0) for k in range(60)])  # fmt: skip
    for sec, power in ((10, 1380.0), (70, 4140.0), (75, 4200.0)):
        store.write_charger_state(
            ChargerState(
                ts=s(m, sec),
                charger_id="c",
                status_id=194,
                status="Charging",
                current_a=6.0,
                power_w=power,
            )
        )
    for sec, surplus in ((10, 2000.0), (70, None), (130, 3000.0), (135, 3100.0)):
        store.write_decision(
            Decision(
                ts=s(m, sec),
                mode=Mode.SOLAR,
                action=Action.HOLD,
                reason=Reason.HOLD,
                target_a=6,
                surplus_w=surplus,
            )
        )


def test_power_series_gives_means_per_step_in_epoch_aligned_buckets(store, t0) -> None:
    m = minute_of(t0)
    chart_scenario(store, m)
    # A start inside a minute rounds down to it; the last bucket ends at stop.
    points = store.power_series(s(m, -25), s(m, 140), 60)
    assert [p.ts for p in points] == [s(m, -60), m, s(m, 60), s(m, 120)]
    grid = [p.grid_power_w for p in points]
    assert grid == pytest.approx(
        [
            sum(100.0 + k for k in range(-30, 0)) / 30,  # m-30 .. m-1
            sum(100.0 + k for k in range(0, 60)) / 60,
            (sum(100.0 + k for k in range(60, 120)) - 50.0 * 60) / 120,  # both meters, one mean
            sum(100.0 + k for k in range(120, 140)) / 20,  # m+120 .. m+139: stop is open
        ]
    )
    assert [p.ev_power_w for p in points] == [None, 1380.0, pytest.approx(4170.0), None]
    assert [p.surplus_w for p in points] == [None, 2000.0, None, pytest.approx(3050.0)]


def test_power_series_of_other_steps_and_of_nothing(store, t0) -> None:
    m = minute_of(t0) - timedelta(minutes=t0.minute % 5)  # a whole five minutes
    chart_scenario(store, m)
    five = store.power_series(m, s(m, 150), 300)
    assert len(five) == 1 and five[0].ts == m
    assert five[0].ev_power_w == pytest.approx((1380.0 + 4140.0 + 4200.0) / 3)
    assert five[0].surplus_w == pytest.approx((2000.0 + 3000.0 + 3100.0) / 3)
    assert store.power_series(s(m, -3600), s(m, -60), 60) == []
    with pytest.raises(ValueError, match="at least 1 s"):
        store.power_series(m, s(m, 60), 0.5)
