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
