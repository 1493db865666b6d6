"""What the phone page and ``GET /api/status`` show, derived from one Status read.

Pure: it takes the Status, the settings, the time and the few extra reads state.py makes
(``Extras``), and does no I/O, so every number and every stale rule is testable with a fixed
clock. The page and the API share one payload; its ``display`` part holds the ready-formatted
strings, so the page's script only copies text into place and the server-rendered page
(JavaScript off) shows exactly the same words. The controller's decision in words is in words.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from common.charger_words import charger_note, control_lines
from common.config import ChargingConfig
from common.models import Action, Decision, Mode, Reason, Status, to_jsonable
from common.timeutil import format_age, format_duration
from toggle_app import words
from toggle_app.text import clock_time, format_w

__all__ = ["format_age", "format_duration", "format_w"]

#: The meter counts as stale after this many poll intervals without a reading ...
METER_STALE_POLLS = 3
#: ... but never sooner than this: a 1 s poll with a short hiccup is not worth a banner.
METER_STALE_MIN_S = 10.0
#: The controller counts as stale after this many of its intervals without a decision.
CONTROLLER_STALE_INTERVALS = 2
#: How long after a command the grid readings reflect it: the controller's ``settle_s``
#: (docs/design.md, "The settle rule").
SETTLE_S = 30.0
#: Actions that send the charger a command, after which its draw changes.
COMMANDS = frozenset({Action.START, Action.STOP, Action.ADJUST, Action.RELEASE})

MODE_LABELS = {
    Mode.SOLAR: "Surplus only",
    Mode.MIN_SOLAR: "At least {min_a} A",
    Mode.MANUAL: "Off (plain charger)",
}


@dataclass(frozen=True, slots=True)
class ViewSettings:
    """The config values the view needs, so the view does not depend on the whole Config."""

    poll_interval_s: float
    interval_s: float
    min_current_a: int
    watts_per_amp: float
    window_s: float = ChargingConfig.window_s
    start_delay_s: float = ChargingConfig.start_delay_s
    stop_delay_s: float = ChargingConfig.stop_delay_s

    @property
    def meter_stale_after_s(self) -> float:
        return max(METER_STALE_POLLS * self.poll_interval_s, METER_STALE_MIN_S)

    @property
    def controller_stale_after_s(self) -> float:
        return CONTROLLER_STALE_INTERVALS * self.interval_s

    @property
    def min_power_w(self) -> float:
        return self.min_current_a * self.watts_per_amp

    @property
    def plan(self) -> words.Plan:
        return words.Plan(
            min_current_a=self.min_current_a,
            watts_per_amp=self.watts_per_amp,
            interval_s=self.interval_s,
            start_delay_s=self.start_delay_s,
            stop_delay_s=self.stop_delay_s,
        )


@dataclass(frozen=True, slots=True)
class Extras:
    """What the page reads beyond the Status: the grid mean since the last change of the
    charger's draw (``last_change``), and when the controller's current delay began
    (``words.delay_start``)."""

    settled_mean_w: float | None = None
    delay_since: datetime | None = None


def _seconds(delta: timedelta) -> float:
    return delta / timedelta(seconds=1)


def mode_label(mode: Mode, min_current_a: int) -> str:
    return MODE_LABELS[mode].format(min_a=min_current_a)


def last_change(decision: Decision | None) -> datetime | None:
    """From when grid readings show the charger drawing what it draws now: ``SETTLE_S`` after a
    command of the last decision, or the cycle that saw the charger change by itself; None when
    the last decision changed nothing."""
    if decision is None:
        return None
    if decision.action in COMMANDS and decision.command_error is None:
        return decision.ts + timedelta(seconds=SETTLE_S)
    if decision.reason is Reason.SETTLING:
        return decision.ts
    return None


def needs_settled_mean(status: Status, settings: ViewSettings, now: datetime) -> datetime | None:
    """The ``since`` for which the page needs a grid mean of its own (None: the window's will
    do): after a change inside the window, before which readings mix two draws."""
    change = last_change(status.last_decision)
    window_start = now - timedelta(seconds=settings.window_s)
    return change if change is not None and window_start < change < now else None


@dataclass(frozen=True, slots=True)
class Facts:
    """What derive() works out once, for both the JSON fields and the display strings."""

    mode: Mode
    meter_age_s: float | None
    meter_stale: bool
    decision_age_s: float | None
    controller_stale: bool
    next_cycle_at: datetime | None
    next_cycle_in_s: float | None
    charger_power_w: float | None
    surplus_w: float | None
    #: The charger's draw changed so recently that no reading since shows the new one.
    surplus_settling: bool
    mode_applied: bool


def facts(status: Status, settings: ViewSettings, now: datetime, extras: Extras) -> Facts:
    reading, decision, charger = status.latest_reading, status.last_decision, status.charger
    mode = status.mode.mode if status.mode is not None else Mode.SOLAR
    meter_age_s = _seconds(now - reading.ts) if reading is not None else None
    decision_age_s = _seconds(now - decision.ts) if decision is not None else None
    next_cycle_at = (
        decision.ts + timedelta(seconds=settings.interval_s) if decision is not None else None
    )
    controller_fresh = (
        decision_age_s is not None and decision_age_s <= settings.controller_stale_after_s
    )
    charger_power_w = charger.power_w if charger is not None else None
    surplus_w, settling = _surplus(status, settings, now, extras, controller_fresh)
    return Facts(
        mode=mode,
        meter_age_s=meter_age_s,
        meter_stale=meter_age_s is None or meter_age_s > settings.meter_stale_after_s,
        decision_age_s=decision_age_s,
        controller_stale=not controller_fresh,
        next_cycle_at=next_cycle_at,
        next_cycle_in_s=(
            None if next_cycle_at is None else max(0.0, _seconds(next_cycle_at - now))
        ),
        charger_power_w=charger_power_w,
        surplus_w=surplus_w,
        surplus_settling=settling,
        # The controller follows the mode once it has decided in it after the change.
        mode_applied=(
            decision is not None
            and decision.mode == mode
            and (status.mode is None or decision.ts >= status.mode.ts)
        ),
    )


def _surplus(
    status: Status, settings: ViewSettings, now: datetime, extras: Extras, controller_fresh: bool
) -> tuple[float | None, bool]:
    """The surplus the car could take, and whether it is still settling after a change.

    What the controller acted on while its decision is fresh: it averages only settled readings
    (docs/design.md, "The settle rule"), and the page must not show a figure that mixes the
    draw before a switch with the draw after it. Otherwise (manual mode, no surplus in the
    decision, the controller down) the charger's draw minus the grid mean over the readings
    since the last change; none yet means settling. An unknown draw counts as nothing drawn.
    """
    decision, charger = status.last_decision, status.charger
    if controller_fresh and decision is not None and decision.surplus_w is not None:
        return decision.surplus_w, False
    change = last_change(decision)
    mean_w = status.grid_power_mean_w
    if change is not None and change > now - timedelta(seconds=settings.window_s):
        mean_w = extras.settled_mean_w if change < now else None
        if mean_w is None:
            return None, True
    if mean_w is None:
        return None, False
    return (charger.power_w or 0.0 if charger is not None else 0.0) - mean_w, False


def derive(
    status: Status, settings: ViewSettings, now: datetime, extras: Extras | None = None
) -> dict[str, object]:
    """The /api/status payload: the Status as JSON plus what the page computes from it."""
    extras = extras or Extras()
    f = facts(status, settings, now, extras)
    plan = settings.plan
    if status.charger is not None and status.charger.watts_per_amp:
        # what "6 A needs" costs for this car, as the controller measured it
        plan = replace(plan, watts_per_amp=status.charger.watts_per_amp)
    said = (
        None
        if status.last_decision is None
        else words.explain(status.last_decision, plan, now, extras.delay_since)
    )
    payload = status.to_json()
    payload.update(
        effective_mode=f.mode.value,
        solar_on=f.mode is not Mode.MANUAL,
        mode_applied=f.mode_applied,
        charger_power_w=f.charger_power_w,
        surplus_w=f.surplus_w,
        surplus_settling=f.surplus_settling,
        meter_age_s=f.meter_age_s,
        meter_stale=f.meter_stale,
        meter_stale_after_s=settings.meter_stale_after_s,
        decision_age_s=f.decision_age_s,
        controller_stale=f.controller_stale,
        controller_stale_after_s=settings.controller_stale_after_s,
        interval_s=settings.interval_s,
        next_cycle_at=to_jsonable(f.next_cycle_at),
        next_cycle_in_s=f.next_cycle_in_s,
        next_step_at=to_jsonable(said.next_at if said is not None else None),
        display=display(status, settings, f, said),
        tones=tones(status, settings, f),
    )
    return payload


def pending_text(f: Facts, interval_s: float) -> str:
    """When the controller will act on the mode: at its next cycle."""
    if f.controller_stale and f.decision_age_s is not None:
        return "The controller is not deciding: the mode takes effect once it runs again."
    if f.mode_applied:
        return f"The controller follows this mode (last cycle {format_age(f.decision_age_s)})."
    if f.next_cycle_in_s is None:
        return f"The controller acts at its next cycle, within {format_duration(interval_s)}."
    if f.next_cycle_in_s < 1:
        return "The controller acts at its next cycle, any moment now."
    return f"The controller acts at its next cycle, within {format_duration(f.next_cycle_in_s)}."


def next_text(f: Facts, said: words.Words | None, interval_s: float) -> str:
    """The page's most useful line: what the controller does next, and when; until it has
    taken up a new mode (or while it is not deciding), when it will."""
    if said is None or f.controller_stale or not f.mode_applied:
        return pending_text(f, interval_s)
    return said.next


def _direction(w: float | None) -> str:
    if w is None:
        return "no data"
    if round(w) == 0:
        return "balanced"
    return "importing" if w > 0 else "exporting"


def _surplus_sub(f: Facts, settings: ViewSettings, car_w_per_a: float | None = None) -> str:
    """How many amperes the surplus pays for, at what the car draws per ampere when measured."""
    if f.surplus_settling:
        return "the charger just changed: waiting for new readings"
    if f.surplus_w is None:
        return "no meter data"
    amps = math.floor(f.surplus_w / (car_w_per_a or settings.watts_per_amp))
    if amps >= settings.min_current_a:
        return f"enough for {amps} A"
    return f"below the {settings.min_current_a} A minimum"


def banner_text(settings: ViewSettings, f: Facts, status: Status | None = None) -> str:
    """One line per problem (the page shows line breaks); empty when all is well."""
    lines = [] if status is None else control_lines(status.charger)
    if f.meter_stale:
        if f.meter_age_s is None:
            lines.append("No meter data yet: solar charging waits for the first readings.")
        else:
            lines.append(
                f"Meter data is stale: last reading {format_age(f.meter_age_s)} (expected every "
                f"{format_duration(settings.poll_interval_s)}). Solar charging pauses until it "
                "returns."
            )
    if f.controller_stale:
        if f.decision_age_s is None:
            lines.append("The controller has not decided anything yet. Is it running?")
        else:
            lines.append(
                f"The controller has not decided for {format_duration(f.decision_age_s)} "
                f"(expected every {format_duration(settings.interval_s)}). Is it running?"
            )
    return "\n".join(lines)


def tones(status: Status, settings: ViewSettings, f: Facts) -> dict[str, str]:
    """Colour hints: "good" (sun to spare), "warn" (importing), "stale" (old data), "" (neutral)."""
    grid_w = status.latest_reading.active_power_w if status.latest_reading else None

    def grid(w: float | None) -> str:
        return "" if w is None or round(w) == 0 else "warn" if w > 0 else "good"

    surplus_ok = f.surplus_w is not None and f.surplus_w >= settings.min_power_w
    return {
        "grid_now": "stale" if f.meter_stale and grid_w is not None else grid(grid_w),
        "grid_mean": grid(status.grid_power_mean_w),
        "surplus": "good" if surplus_ok else "",
    }


HINTS = {
    Mode.SOLAR: "The car charges from sunshine the house does not use.",
    Mode.MIN_SOLAR: "The car charges at least {min_a} A, more with sunshine.",
    Mode.MANUAL: "Solar control is off: the car charges as with a plain charger.",
}


def display(
    status: Status, settings: ViewSettings, f: Facts, said: words.Words | None
) -> dict[str, str]:
    """Every string the page shows, formatted once here for the page and its script."""
    reading, decision = status.latest_reading, status.last_decision
    grid_w = reading.active_power_w if reading is not None else None
    mean_w = status.grid_power_mean_w
    car_w_per_a = None if status.charger is None else status.charger.watts_per_amp
    charger_main, charger_sub = words.charger_tile(status.charger, status.now)
    today = status.today
    if today is None:
        today_main, today_sub = "–", ""
    else:
        today_main = f"{today.ev_kwh:.{1 if today.ev_kwh >= 10 else 2}f} kWh"
        share = today.solar_share
        today_sub = "nothing charged yet" if share is None else f"{share:.0%} from solar"
    who = ""
    if status.mode is not None:
        age = format_age(_seconds(status.now - status.mode.ts))
        who = f"Mode set by {status.mode.source} {age}."
    return {
        "mode": mode_label(f.mode, settings.min_current_a),
        "switch": "On" if f.mode is not Mode.MANUAL else "Off",
        "mode_hint": HINTS[f.mode].format(min_a=settings.min_current_a),
        "mode_who": who,
        "pending": pending_text(f, settings.interval_s),
        "next": next_text(f, said, settings.interval_s),
        "grid_now": format_w(grid_w),
        "grid_now_sub": f"{_direction(grid_w)} · {format_age(f.meter_age_s)}",
        "grid_mean": format_w(mean_w),
        "grid_mean_sub": _direction(mean_w),
        "surplus": "Settling" if f.surplus_settling else format_w(f.surplus_w),
        "surplus_sub": _surplus_sub(f, settings, car_w_per_a),
        "charger": charger_main,
        "charger_sub": charger_sub,
        "decision": "Nothing decided yet" if said is None else said.doing,
        "decision_sub": "" if decision is None else f"checked {format_age(f.decision_age_s)}",
        "decision_code": "" if decision is None else words.code(decision),
        "today": today_main,
        "today_sub": today_sub,
        "charger_note": charger_note(status.charger, status.last_decision),
        "banner": banner_text(settings, f, status),
        "updated": f"Updated {clock_time(status.now, seconds=True)}",
    }
