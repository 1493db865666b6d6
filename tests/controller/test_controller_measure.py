"""controller.measure: what the car draws per ampere, from the status and the meter's step, and
the power to believe while the status says Charging (pure functions, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.models import PhaseMeans
from common.snapshot import ChargerSnapshot
from controller.measure import (
    CarSession,
    PendingStep,
    WattsPerAmp,
    corrected,
    observe_read,
    observe_step,
    step_watts_per_amp,
)

T0 = datetime(2026, 6, 21, 10, tzinfo=UTC)
CONFIG = 692.8


def snap(status=194, setpoint=16, power=3690.0, kwh=1.0, at_s=0.0, estimated=()):
    return ChargerSnapshot(
        ts=T0 + timedelta(seconds=at_s), charger_id="1", status_id=status, setpoint_a=setpoint,
        power_w=power, added_energy_kwh=kwh, read_at=T0 + timedelta(seconds=at_s),
        estimated=frozenset(estimated),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        # A 1-phase car at 16 A: 3.69 kW reported -> (3690 - 5) / 16, once two reads agree.
        ([snap(), snap(at_s=60)], 230.3),
        # One read alone is not trusted, nor one the next read does not agree with (a glitch).
        ([snap()], None),
        ([snap(power=12000.0), snap(at_s=60)], None),
        ([snap(), snap(power=12000.0, at_s=60)], None),
        # Two that agree: the higher of them (a car takes at most its setpoint).
        ([snap(power=3690.0), snap(power=3750.0, at_s=60)], 234.1),
        # The highest of the session: a car that limits itself or tapers draws less.
        ([snap(power=3690.0), snap(at_s=30), snap(power=2000.0, at_s=60)], 230.3),
        ([snap(setpoint=6, power=1390.0), snap(power=3690.0, at_s=60), snap(at_s=90)], 230.8),
        # Within 2 % of the config: the config is confirmed (rounding, not a different car).
        ([snap(power=11090.0), snap(power=11000.0, at_s=60)], CONFIG),
        # Nothing to learn from: paused, 0 kW, our own estimate, an implausible ratio.
        ([snap(status=182, power=0.0)], None),
        ([snap(power=0.0)], None),
        ([snap(estimated={"power_w"})], None),
        ([snap(power=16 * 2000.0)], None),
        # A car gone ends the session.
        ([snap(), snap(status=163, power=0.0, at_s=60)], None),
    ],
)
def test_the_status_measures_the_car(reads, expected):
    session = CarSession()
    for s in reads:
        session = observe_read(session, s, CONFIG)
    got = None if session.measured is None else session.measured.value
    assert got == (None if expected is None else pytest.approx(expected, abs=0.05))


def means(total, l1, l2, l3):
    return PhaseMeans(total, l1, l2, l3)


@pytest.mark.parametrize(
    ("before", "after", "from_a", "to_a", "expected"),
    [
        # A 1-phase car from 0 to 6 A on L1 while the sun gave 100 W more on each phase: the
        # moved phase counts whole (sun included), the others not at all.
        (means(-3000, -1000, -1000, -1000), means(-1515, 685, -1100, -1100), 0, 6, (280.8, "L1")),
        # Without the sun's change: exactly a phase's voltage.
        (means(-3000, -1000, -1000, -1000), means(-1615, 385, -1000, -1000), 0, 6, (230.8, "L1")),
        # A 3-phase car: all three moved.
        (means(-6000, -2000, -2000, -2000), means(-1843, -614, -614, -615), 0, 6,
         (692.8, "L1 L2 L3")),
        # Down from 16 to 10 A on a 1-phase car: a negative step over a negative change.
        (means(0, 1000, -500, -500), means(-1385, -385, -500, -500), 16, 10, (230.8, "L1")),
        # A meter without phases: the total only.
        (means(-3000, None, None, None), means(-1615, None, None, None), 0, 6, (230.8, "")),
        # Too small a step, or a step no car makes.
        (means(0, 0, 0, 0), means(460, 460, 0, 0), 10, 12, None),
        (means(0, 0, 0, 0), means(9000, 9000, 0, 0), 0, 6, None),
    ],
)  # fmt: skip
def test_the_meter_step_measures_the_car_and_names_its_phases(
    before, after, from_a, to_a, expected
):
    got = step_watts_per_amp(PendingStep(T0, before, from_a, to_a), after)
    if expected is None:
        assert got is None
    else:
        assert (got.value, got.phases) == (pytest.approx(expected[0], abs=0.1), expected[1])


def test_the_status_wins_over_the_meter_but_the_meter_names_the_phases():
    session = observe_read(CarSession(), snap(), CONFIG)
    session = observe_read(session, snap(at_s=60), CONFIG)
    step = PendingStep(T0, means(-3000, -1000, -1000, -1000), 0, 6)
    session = observe_step(session, step, means(-1400, 800, -1100, -1100), CONFIG)
    assert session.measured == WattsPerAmp(pytest.approx(230.3, abs=0.05), "status", "L1")


def test_a_meter_step_close_to_the_config_confirms_it():
    step = PendingStep(T0, means(-6000, -2000, -2000, -2000), 0, 6)
    session = observe_step(CarSession(), step, means(-1700, -566, -567, -567), CONFIG)
    assert session.measured.value == CONFIG and session.measured.source == "meter"


def measured(value):
    return CarSession(measured=WattsPerAmp(value, "status"))


@pytest.mark.parametrize(
    ("session", "s", "power_w", "estimated"),
    [
        # Between reads the estimate is setpoint x the measured watts per ampere.
        (measured(230.9), snap(estimated={"power_w", "setpoint_a"}), 16 * 230.9, True),
        # 0 kW while Charging: not believed, energy rising or not known yet...
        (measured(230.9), snap(power=0.0), 16 * 230.9, True),
        (CarSession(), snap(power=0.0), 16 * CONFIG, True),
        # ... unless the session's energy stopped rising: then the car really takes nothing.
        (CarSession(energy_rising=False), snap(power=0.0), 0.0, False),
        # A real reading stands; paused draws nothing.
        (measured(230.9), snap(power=3690.0), 3690.0, False),
        (measured(230.9), snap(status=182, power=0.0), 0.0, False),
    ],
)
def test_the_power_to_believe(session, s, power_w, estimated):
    got = corrected(s, session, CONFIG)
    assert got.power_w == pytest.approx(power_w)
    assert ("power_w" in got.estimated) is estimated
    assert got.watts_per_amp == (CONFIG if session.measured is None else session.measured.value)


def test_energy_that_stops_rising_is_seen_across_reads():
    session = observe_read(CarSession(), snap(power=0.0, kwh=2.0), CONFIG)
    assert session.energy_rising is None
    session = observe_read(session, snap(power=0.0, kwh=2.0, at_s=60), CONFIG)
    assert session.energy_rising is False
    session = observe_read(session, snap(power=0.0, kwh=2.02, at_s=120), CONFIG)
    assert session.energy_rising is True


# -- local control (OCPP): the charger's own meter -------------------------------------------


def ocpp(power=3463.5, currents=(15.0, 0.0, 0.0), setpoint=16, status="Charging", at_s=0.0, **kw):
    """A snapshot of the OCPP adapter: the charger's power and currents from its MeterValues."""
    return ChargerSnapshot(
        ts=T0 + timedelta(seconds=at_s), charger_id="cp", status_id=None, setpoint_a=setpoint,
        power_w=power, added_energy_kwh=1.0, read_at=T0 + timedelta(seconds=at_s),
        connector_status=status, current_per_phase_a=currents, **kw,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        # A 1-phase car that takes 15 A of a 16 A limit: power over its current, not over the
        # limit (the status would say 3458.5 / 16 = 216.2), and its phase.
        ([ocpp()], (230.9, "L1")),
        # A 3-phase car: the config confirmed, on all three phases.
        ([ocpp(power=11085.0, currents=(16.0, 16.0, 16.0))], (CONFIG, "L1 L2 L3")),
        # As it comes, not the session's highest: a car that switched to one phase shows at once.
        ([ocpp(power=11085.0, currents=(16.0, 16.0, 16.0)), ocpp(at_s=10)], (230.9, "L1")),
        # Nothing measured: no draw, or the sample is older than the last command (no currents).
        ([ocpp(power=0.0, currents=(0.0, 0.0, 0.0))], None),
        ([ocpp(currents=None, estimated=frozenset({"power_w"}))], None),
    ],
)
def test_the_chargers_own_meter_measures_the_car_on_local_control(reads, expected):
    session = CarSession()
    for s in reads:
        session = observe_read(session, s, CONFIG)
    if expected is None:
        assert session.measured is None
    else:
        got = session.measured
        assert (got.value, got.phases, got.source) == (
            pytest.approx(expected[0], abs=0.05),
            expected[1],
            "charger",
        )


def test_the_chargers_own_meter_wins_over_the_meter_step():
    session = observe_read(CarSession(), ocpp(), CONFIG)
    step = PendingStep(T0, means(-6000, -2000, -2000, -2000), 0, 6)
    after = observe_step(session, step, means(-1700, -566, -567, -567), CONFIG)
    assert after.measured == session.measured


def test_a_chargers_own_0_w_while_charging_is_believed():
    """The cloud's 0 kW while Charging is not believed (above); a charger that measures its own
    power reports what the car draws, and an estimate is still the measured W/A x setpoint."""
    got = corrected(ocpp(power=0.0, currents=(0.0, 0.0, 0.0)), measured(230.9), CONFIG)
    assert (got.power_w, got.estimated) == (0.0, frozenset())
    late = ocpp(currents=None, estimated=frozenset({"power_w"}), power=16 * CONFIG)
    got = corrected(late, measured(230.9), CONFIG)
    assert got.power_w == pytest.approx(16 * 230.9) and "power_w" in got.estimated


@pytest.mark.parametrize(
    ("reads", "lightest"),
    [
        # The cloud's status: power over setpoint, trusted once the next read agrees.
        ([snap()], None),
        ([snap(), snap(at_s=60)], 230.3),
        # The charger's own meter: power and phase currents of one sample, exact at once (its
        # ratio is the volts times the phases, whatever share of its limit the car takes).
        ([ocpp()], 230.9),
        ([ocpp(power=11085.0, currents=(16.0, 16.0, 16.0))], CONFIG),
        # A sample the last command has not settled into carries no currents: nothing.
        ([ocpp(currents=None, estimated=frozenset({"power_w"}))], None),
    ],
)
def test_the_households_lightest_car_from_agreeing_reads_or_one_charger_sample(reads, lightest):
    """The lightest car decides starts on a guess for every later car (controller.carwatch):
    a single status read cannot make it, a single sample of the charger's own meter can."""
    from controller.carwatch import CarWatch

    watch = CarWatch(CONFIG)
    for s in reads:
        watch.see(s)
    if lightest is None:
        assert watch.lightest_w_per_a is None and watch.car_watts().start_w_per_a is None
    else:
        assert watch.lightest_w_per_a == pytest.approx(lightest, abs=0.05)
        fewer = lightest < 0.85 * CONFIG  # a car on fewer phases: the next car's start guess
        assert watch.car_watts().start_w_per_a == (
            pytest.approx(lightest, abs=0.05) if fewer else None
        )


def test_the_state_file_keeps_where_a_measurement_came_from(tmp_path):
    import json

    from controller.localstate import LocalState, LocalStateFile

    kept = LocalStateFile(tmp_path / "state.json")
    kept.save(LocalState(session=WattsPerAmp(230.9, "charger", "L1")))
    assert LocalStateFile(kept.path).load().session == WattsPerAmp(230.9, "charger", "L1")
    data = json.loads(kept.path.read_text())
    data["session"]["source"] = "guesswork"  # a file from a version that knew other sources
    kept.path.write_text(json.dumps(data))
    assert LocalStateFile(kept.path).load().session.source == "status"
