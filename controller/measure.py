"""What the car really draws per ampere, learnt from what is measured rather than configured.

Many cars charge on one phase behind a 3-phase charger (plug-in hybrids, older EVs): they draw
230 W per ampere of setpoint, not the 692.8 a 3N~400 V config assumes, and the surplus arithmetic
then cuts a car that could take 15 A to 6 A and pauses it (docs/design.md, "Surplus arithmetic").
Two measurements, both pure functions of what the controller already has:

- the charger status: ``charging_power / setpoint`` of a settled read. A car takes at most its
  setpoint (less when it limits itself or tapers near full), so a read is a lower bound on the
  truth and the session keeps the highest; it is exact whenever the car takes its setpoint. One
  read is not trusted alone: a ratio counts once the next read agrees with it (within
  ``AGREES``), so a wild read (a glitch of the cloud, a car ramping up) is neither used nor kept;
- the P1 meter's step when a command takes effect: the change of the settled grid mean divided by
  the change of the setpoint. The per-phase powers show which phases moved (a 1-phase car moves
  one), and only those count, so house loads on the other phases stay out of it. The status wins
  when both exist; the meter stands in when the status reports no power.

The cloud sometimes reports ``charging_power: 0`` during a running session while ``added_energy``
rises (Home Assistant issues #83744, #69320, #124185). ``corrected`` does not believe a 0 kW
while the status says Charging unless the session's energy stopped rising: it takes setpoint x
watts per ampere instead, marked as an estimate.

A session is one car plugged in: it ends when a status read says no car. Its measurement is kept
across a restart (controller.localstate); the configured value is the assumption until then.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from common.models import PhaseMeans
from common.snapshot import ChargerSnapshot, Phase

#: Watts per ampere a car can plausibly draw: from one phase at 150 V to three at 260 V.
PLAUSIBLE_W_PER_A = (150.0, 800.0)
#: A meter step counts only when the setpoint moved this many amperes (noise is a few 100 W).
MIN_STEP_A = 3.0
#: The cloud reports kW to two decimals: a reported power may be this much above the truth,
#: and the highest of many ratios would find it.
ROUNDING_W = 5.0
#: A measurement this close to the configured value confirms it.
CONFIRMS = 0.02
STEP_CONFIRMS = 0.15
#: Two status ratios this close agree, and both are trusted.
AGREES = 0.05
#: A phase "moved" with the command when its step is this share of the total step or more.
MOVED_SHARE = 0.25

Source = Literal["status", "meter"]


@dataclass(frozen=True, slots=True)
class WattsPerAmp:
    value: float
    source: Source
    #: The phases the meter saw move ("L1", "L1 L2 L3"); "" when not known.
    phases: str = ""


@dataclass(frozen=True, slots=True)
class CarSession:
    """What is known about the car plugged in now."""

    measured: WattsPerAmp | None = None
    #: The highest plausible ``power / setpoint`` of a settled read this session.
    best_status_w_per_a: float | None = None
    #: The last read's time and ``added_energy_kwh``, and whether it rose since the one before.
    last_energy: tuple[datetime, float] | None = None
    energy_rising: bool | None = None
    #: The last read's plausible ratio, trusted only when the next one agrees with it.
    last_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class PendingStep:
    """A command that changes what the car draws, waiting for its settled window."""

    at: datetime
    before: PhaseMeans
    from_a: float
    to_a: float


def plausible(w_per_a: float) -> bool:
    return PLAUSIBLE_W_PER_A[0] <= w_per_a <= PLAUSIBLE_W_PER_A[1]


def observe_read(session: CarSession, snap: ChargerSnapshot, configured: float) -> CarSession:
    """Learn from a status read (call once per new read): a car gone ends the session.

    A ratio within ``CONFIRMS`` of the configured value confirms it (the cloud reports kW to two
    decimals, and the highest of several rounded ratios would otherwise sit a little above it).
    """
    if snap.phase is Phase.NO_CAR and "status" not in snap.estimated:
        return CarSession()
    session = _energy(session, snap)
    if (
        snap.phase is not Phase.CHARGING
        or snap.estimated & {"status", "setpoint_a", "power_w"}
        or not snap.setpoint_a
        or snap.power_w <= 0
    ):
        return session
    ratio = (snap.power_w - ROUNDING_W) / snap.setpoint_a
    if not plausible(ratio):
        return session
    if abs(ratio - configured) <= CONFIRMS * configured:
        ratio = configured
    before, session = session.last_ratio, replace(session, last_ratio=ratio)
    if before is None or abs(ratio - before) > AGREES * before:
        return session  # not trusted until the next read agrees
    best = max(ratio, before, session.best_status_w_per_a or 0.0)
    phases = "" if session.measured is None else session.measured.phases
    return replace(
        session, best_status_w_per_a=best, measured=WattsPerAmp(round(best, 1), "status", phases)
    )


def _energy(session: CarSession, snap: ChargerSnapshot) -> CarSession:
    kwh, at = snap.added_energy_kwh, snap.read_at
    if kwh is None or at is None:
        return session
    last = session.last_energy
    if last is not None and at <= last[0]:
        return session  # the same read again
    rising = None if last is None else kwh > last[1]
    return replace(session, last_energy=(at, kwh), energy_rising=rising)


def observe_step(
    session: CarSession, step: PendingStep, after: PhaseMeans, configured: float
) -> CarSession:
    """Learn from the meter's step at a command; the status's measurement wins when there is one
    (the step still names the phases). A step within ``STEP_CONFIRMS`` of the configured value
    confirms it: the house and the sun move too while a command settles."""
    got = step_watts_per_amp(step, after)
    if got is None:
        return session
    if abs(got.value - configured) <= STEP_CONFIRMS * configured:
        got = replace(got, value=configured)
    if session.measured is not None and session.measured.source == "status":
        return replace(session, measured=replace(session.measured, phases=got.phases))
    return replace(session, measured=got)


def observe_probe(session: CarSession, configured: float) -> CarSession:
    """The meter showed a start at min current step up by about the configured draw: the car
    draws on all the configured phases. A few seconds of meter (the house moves too) are too
    rough to be a value of their own, so they only confirm the configured one; a read measures
    the car properly later."""
    if session.measured is not None:
        return session
    return replace(session, measured=WattsPerAmp(configured, "meter"))


def step_watts_per_amp(step: PendingStep, after: PhaseMeans) -> WattsPerAmp | None:
    """The grid's step over the setpoint's, counting only the phases that moved."""
    delta_a = step.to_a - step.from_a
    before = step.before
    if abs(delta_a) < MIN_STEP_A or after.active_power_w is None or before.active_power_w is None:
        return None
    total_w = after.active_power_w - before.active_power_w
    steps = [
        None if a is None or b is None else a - b
        for a, b in zip(after.phases(), before.phases(), strict=True)
    ]
    moved = [
        k for k, d in enumerate(steps) if d is not None and abs(d) >= MOVED_SHARE * abs(total_w)
    ]
    watts = sum(steps[k] or 0.0 for k in moved) if moved and None not in steps else total_w
    w_per_a = watts / delta_a
    if not plausible(w_per_a):
        return None
    label = " ".join(f"L{k + 1}" for k in moved) if None not in steps else ""
    return WattsPerAmp(round(w_per_a, 1), "meter", label)


def corrected(snap: ChargerSnapshot, session: CarSession, configured: float) -> ChargerSnapshot:
    """The snapshot with the car's power as measured: an estimate between reads at the measured
    watts per ampere, and no 0 kW while Charging unless the session's energy stopped rising."""
    wpa = configured if session.measured is None else session.measured.value
    power_w = snap.power_w
    estimated = snap.estimated
    if snap.phase is Phase.CHARGING and snap.setpoint_a:
        reported_zero = "power_w" not in estimated and power_w <= 0
        if "power_w" in estimated or (reported_zero and session.energy_rising is not False):
            power_w = snap.setpoint_a * wpa
            estimated = estimated | {"power_w"}
    return replace(snap, power_w=power_w, estimated=estimated, watts_per_amp=wpa)
