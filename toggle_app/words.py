"""The controller's last decision and the charger's state in words a person understands.

The page used to show the stored codes ("hold · 6 A", ``dip-hold-min``). A person wants to know
what is happening and what comes next, and when: "Holding 6 A through a cloud" and "Pauses at
12:04 if the cloud stays". Every ``common.models.Reason`` has a line here (a test checks it); the
code itself stays in the API and behind a tap on the page. The rules behind each reason are in
docs/design.md, "Decision rules".

Pure: times and settings come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.models import ChargerState, CommandError, Decision, Mode, Reason
from common.snapshot import READY_IDS, Phase, status_phase
from common.store import PowerPoint
from common.timeutil import format_age, format_duration
from toggle_app.text import clock_time, format_w

#: (what is happening, what comes next). Fields: {a} the decision's current, {min_a}, {max_a},
#: {need} the surplus min current needs, {surplus}, {check} ("in 40 s"), {start_at} and
#: {pause_at} ("at 12:04", or "within 10 min" when the start of the delay is unknown),
#: {start_delay}, {stop_delay}.
_NEXT_CHECK = "Next check {check}."
_FOLLOWS = "Follows the sun. " + _NEXT_CHECK
TEXTS: dict[Reason, tuple[str, str]] = {
    Reason.MANUAL: (
        "Solar control is off: the charger works as a plain charger",
        "Nothing planned: switch solar charging on to let the sun steer the car.",
    ),
    Reason.MANUAL_RELEASE: (
        "Solar control is off: the charger was handed back at {a} A",
        "Nothing planned: switch solar charging on to let the sun steer the car.",
    ),
    Reason.CHARGER_UNAVAILABLE: ("No word from the charger yet", "Asks again {check}."),
    Reason.NO_CAR: ("No car plugged in", "Steers the car once one is plugged in. " + _NEXT_CHECK),
    Reason.CHARGER_ERROR: ("The charger reports an error", "Waits for it. " + _NEXT_CHECK),
    Reason.CHARGER_LOCKED: ("The charger is locked", "Unlock it in the Wallbox app."),
    Reason.CHARGER_UPDATING: ("The charger is updating its software", _NEXT_CHECK),
    Reason.CHARGER_UNKNOWN: ("The charger is in a state this app does not know", _NEXT_CHECK),
    Reason.CAR_FULL: ("The car takes no power: full, or waiting for its own timer", _NEXT_CHECK),
    Reason.STALE: (
        "No meter readings: paused, so the car never charges from the grid by mistake",
        "Carries on once readings return. " + _NEXT_CHECK,
    ),
    Reason.STORE_UNAVAILABLE: (
        "The controller cannot read the store: it holds the charger as it is",
        "Pauses a charging car if the store stays away for two more cycles. " + _NEXT_CHECK,
    ),
    Reason.SETTLING: (
        "The charger changed by itself: waiting for the numbers to settle",
        "Decides again {check}.",
    ),
    Reason.GRID_STOP: (
        "Paused: the car was charging from the grid",
        "Starts once the sun covers {min_a} A ({need}) for {start_delay}.",
    ),
    Reason.MIN_SOLAR_FLOOR: (
        "Charging at the {min_a} A minimum; the sun covers less",
        "More current once the sun pays for it. " + _NEXT_CHECK,
    ),
    Reason.NO_SURPLUS: (
        "Waiting for the sun: {surplus} to spare, {min_a} A needs {need}",
        "Starts once the sun covers {min_a} A for {start_delay}. " + _NEXT_CHECK,
    ),
    Reason.START_DELAY: (
        "Enough sun to charge: making sure it lasts",
        "Starts charging {start_at} if the sun stays.",
    ),
    Reason.SURPLUS_START: ("Started charging at {a} A from the sun", _FOLLOWS),
    Reason.SURPLUS_ADJUST: ("Charging at {a} A from the sun", _FOLLOWS),
    Reason.HOLD: ("Charging at {a} A from the sun", _FOLLOWS),
    Reason.DIP_HOLD_MIN: (
        "Holding {min_a} A through a cloud",
        "Pauses {pause_at} if the cloud stays; more current as soon as the sun is back.",
    ),
    Reason.STOP_DELAY: (
        "Holding {min_a} A through a cloud",
        "Pauses {pause_at} if the cloud stays; more current as soon as the sun is back.",
    ),
    Reason.SHARE_START: (
        "Started at {a} A on part sun: the solar share so far leaves room for a little grid",
        "Holds {a} A while the share stays above its target. " + _NEXT_CHECK,
    ),
    Reason.SHARE_HOLD: (
        "Holding {min_a} A on part sun: the solar share so far leaves room for a little grid",
        "Pauses once the share would fall under its target; more current when the sun is back.",
    ),
    Reason.SURPLUS_STOP: (
        "Paused: the sun has not covered {min_a} A for {stop_delay}",
        "Starts again once the sun covers {min_a} A for {start_delay}.",
    ),
    Reason.READY_PROBE: (
        "Asked the charger to start at {a} A: it says Ready, and a car may wait in it for a "
        "schedule set in the Wallbox app",
        "If no car charges, nothing is asked again until the charger's state changes. "
        + _NEXT_CHECK,
    ),
    Reason.START_REFUSED: (
        "The charger stayed on its schedule when asked to start",
        "Asks again within the hour; remove the schedule in the Wallbox app to charge on the sun.",
    ),
    Reason.SCHEDULE: (
        "The Wallbox app's schedule is charging the car",
        "Left alone until the schedule stops. " + _NEXT_CHECK,
    ),
    Reason.NAIVE_BELOW_THRESHOLD: ("Benchmark rule: below its threshold", _NEXT_CHECK),
    Reason.NAIVE_START: ("Benchmark rule: started at {a} A", _NEXT_CHECK),
    Reason.NAIVE_ADJUST: ("Benchmark rule: charging at {a} A", _NEXT_CHECK),
    Reason.SEED_START: ("Benchmark peer (seed rule): started at {a} A", _NEXT_CHECK),
    Reason.SEED_ADJUST: ("Benchmark peer (seed rule): charging at {a} A", _NEXT_CHECK),
    Reason.SEED_STOP: ("Benchmark peer (seed rule): paused, below its threshold", _NEXT_CHECK),
    Reason.EVCC_ENABLE_TIMER: ("Benchmark peer (evcc): surplus, waiting to start", _NEXT_CHECK),
    Reason.EVCC_ENABLE: ("Benchmark peer (evcc): started at {a} A", _NEXT_CHECK),
    Reason.EVCC_ADJUST: ("Benchmark peer (evcc): charging at {a} A", _NEXT_CHECK),
    Reason.EVCC_DISABLE_TIMER: ("Benchmark peer (evcc): short, holding {a} A", _NEXT_CHECK),
    Reason.EVCC_DISABLE: ("Benchmark peer (evcc): paused after its shortfall", _NEXT_CHECK),
}
#: Where "at least min current" says it differently.
MIN_SOLAR_TEXTS: dict[Reason, tuple[str, str]] = {
    Reason.STALE: (
        "No meter readings: holding the {min_a} A minimum",
        "Carries on once readings return. " + _NEXT_CHECK,
    ),
    Reason.HOLD: ("Charging at {a} A: the sun pays for more than the minimum", _NEXT_CHECK),
}
COMMAND_ERRORS = {
    CommandError.RATE_LIMITED: "the Wallbox cloud asked to wait",
    CommandError.UNAVAILABLE: "the Wallbox cloud did not answer",
    CommandError.AUTH_ERROR: "the Wallbox login failed (wallbox.username and password)",
    CommandError.STARTING: "the controller is still starting",
    CommandError.CHARGER_ERROR: "the charger refused it",
    CommandError.REFUSED: (
        "the Wallbox cloud refused it (HTTP 403): OCPP mode, or the account lacks the rights"
    ),
}
#: Reasons whose next step waits for a delay that started some cycles ago.
START_WAIT = frozenset({Reason.START_DELAY})
STOP_WAIT = frozenset({Reason.DIP_HOLD_MIN, Reason.STOP_DELAY})


@dataclass(frozen=True, slots=True)
class Plan:
    """What the controller settings say about timing."""

    min_current_a: int
    watts_per_amp: float
    interval_s: float
    start_delay_s: float
    stop_delay_s: float

    @property
    def min_power_w(self) -> float:
        return self.min_current_a * self.watts_per_amp

    def covers(self, surplus_w: float) -> bool:
        """The policy's test: the surplus pays for min current (floor, with its float guard)."""
        return math.floor(surplus_w / self.watts_per_amp + 1e-6) >= self.min_current_a


@dataclass(frozen=True, slots=True)
class Words:
    doing: str
    next: str
    #: When the next step happens (a start or a pause), when it is known.
    next_at: datetime | None


def explain(d: Decision, plan: Plan, now: datetime, delay_since: datetime | None = None) -> Words:
    """The decision ``d`` in words; ``delay_since`` is when its start or stop delay began."""
    doing, following = _texts(d)
    next_check = d.ts + timedelta(seconds=plan.interval_s)
    start_at = pause_at = None
    if delay_since is not None and d.reason in START_WAIT:
        start_at = delay_since + timedelta(seconds=plan.start_delay_s)
    if delay_since is not None and d.reason in STOP_WAIT:
        pause_at = delay_since + timedelta(seconds=plan.stop_delay_s)
    values = {
        "a": d.target_a,
        "min_a": plan.min_current_a,
        "need": format_w(plan.min_power_w),
        "surplus": format_w(max(d.surplus_w or 0.0, 0.0)),
        "check": _when(next_check, now),
        "start_at": _by(start_at, now, plan.start_delay_s),
        "pause_at": _by(pause_at, now, plan.stop_delay_s),
        "start_delay": format_duration(plan.start_delay_s),
        "stop_delay": format_duration(plan.stop_delay_s),
    }
    if d.command_error is not None:
        return Words(
            f"The charger did not take the last command: {COMMAND_ERRORS[d.command_error]}",
            f"Tries again {values['check']}.",
            next_check,
        )
    return Words(doing.format(**values), following.format(**values), start_at or pause_at)


def _texts(d: Decision) -> tuple[str, str]:
    if d.mode is Mode.MIN_SOLAR and d.reason in MIN_SOLAR_TEXTS:
        return MIN_SOLAR_TEXTS[d.reason]
    return TEXTS[d.reason]


#: Closer than this, "in 40 s" reads better than a clock time.
SOON_S = 120.0


def _when(at: datetime, now: datetime) -> str:
    """ "any moment now", "in 40 s", "at 12:04"."""
    left_s = (at - now).total_seconds()
    if left_s < 1:
        return "any moment now"
    return f"in {format_duration(left_s)}" if left_s < SOON_S else f"at {clock_time(at)}"


def _by(at: datetime | None, now: datetime, delay_s: float) -> str:
    return f"within {format_duration(delay_s)}" if at is None else _when(at, now)


def code(d: Decision) -> str:
    """The stored codes, for whoever asks (the page shows them behind a tap)."""
    return f"{d.action.value} {d.target_a} A · {d.stored_reason}"


def delay_start(
    points: Sequence[PowerPoint], d: Decision, plan: Plan, not_before: datetime | None
) -> datetime | None:
    """When the start or stop delay of ``d`` began: the first cycle of the run of decisions,
    ending with ``d``, whose surplus did (start) or did not (stop) cover min current.

    ``points`` are ``Store.power_series`` buckets of ``plan.interval_s``; each holds about one
    decision, at the same offset into its bucket as ``d``, so the run's first bucket plus that
    offset is the first decision's time. A bucket without a surplus (a settling cycle) neither
    ends nor extends the run; a mode change (``not_before``) starts a new story.
    """
    if d.reason not in START_WAIT | STOP_WAIT:
        return None
    wanted = d.reason in START_WAIT
    first = None
    for p in reversed(points):
        if p.ts > d.ts or p.surplus_w is None:
            continue
        if plan.covers(p.surplus_w) is not wanted:
            break
        first = p.ts
    if first is None:
        return None
    step = timedelta(seconds=plan.interval_s)
    start = first + (d.ts - first) % step
    return start if not_before is None or start >= not_before else None


CHARGER_WORDS = {
    Phase.NO_CAR: "No car",
    Phase.PAUSED: "Paused",
    Phase.SCHEDULED: "Scheduled",
    Phase.CAR_DEMAND: "Car idle",
    Phase.WAITING: "Waiting",
    Phase.LOCKED: "Locked",
    Phase.ERROR: "Error",
    Phase.UPDATING: "Updating",
    Phase.UNKNOWN: "Unknown",
}


def charger_tile(charger: ChargerState | None, now: datetime) -> tuple[str, str]:
    """(big, small) for the charger tile: the current while it charges, else its state big, so
    a paused charger never shows a big "16 A"."""
    if charger is None:
        return "–", "no charger data yet"
    age = format_age((now - charger.ts).total_seconds())
    power = "" if charger.power_w is None else f" · {charger.power_w / 1000:.1f} kW"
    # What the car draws per ampere, once the controller has measured or assumed it.
    wpa = "" if charger.watts_per_amp is None else f" · {charger.watts_per_amp:.0f} W/A"
    phase = status_phase(charger.status_id)
    if phase is Phase.CHARGING:
        big = "–" if charger.current_a is None else f"{charger.current_a:.0f} A"
        return big, f"{charger.status}{power}{wpa} · {age}"
    # Ready is no car, or a car a schedule holds: not "No car" (docs/design.md, "Decision rules").
    big = "Ready" if charger.status_id in READY_IDS else CHARGER_WORDS[phase]
    label = "" if charger.status == big else f"{charger.status} · "
    setpoint = "" if charger.current_a is None else f"set to {charger.current_a:.0f} A · "
    return big, f"{label}{setpoint}{age}"
