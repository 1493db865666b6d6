"""What the phone page and ``GET /api/status`` show, derived from one Status read.

Pure: it takes the Status, the settings and the time, and does no I/O, so every number and every
stale rule is testable with a fixed clock. The page and the API share one payload; its ``display``
part holds the ready-formatted strings, so the page's script only copies text into place and the
server-rendered page (JavaScript off) shows exactly the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.charger_words import charger_note, control_lines
from common.models import Decision, Mode, Status, to_jsonable
from common.timeutil import format_age, format_duration

#: The meter counts as stale after this many poll intervals without a reading ...
METER_STALE_POLLS = 3
#: ... but never sooner than this: a 1 s poll with a short hiccup is not worth a banner.
METER_STALE_MIN_S = 10.0
#: The controller counts as stale after this many of its intervals without a decision.
CONTROLLER_STALE_INTERVALS = 2

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

    @property
    def meter_stale_after_s(self) -> float:
        return max(METER_STALE_POLLS * self.poll_interval_s, METER_STALE_MIN_S)

    @property
    def controller_stale_after_s(self) -> float:
        return CONTROLLER_STALE_INTERVALS * self.interval_s

    @property
    def min_power_w(self) -> float:
        return self.min_current_a * self.watts_per_amp


def _seconds(delta: timedelta) -> float:
    return delta / timedelta(seconds=1)


def format_w(value: float | None) -> str:
    """Whole watts with a thin-space thousands separator and a real minus sign."""
    if value is None:
        return "–"
    text = f"{abs(value):,.0f}".replace(",", "\u202f")
    return f"{'−' if round(value) < 0 else ''}{text} W"


def mode_label(mode: Mode, min_current_a: int) -> str:
    return MODE_LABELS[mode].format(min_a=min_current_a)


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
    mode_applied: bool


def facts(status: Status, settings: ViewSettings, now: datetime) -> Facts:
    reading, decision, charger = status.latest_reading, status.last_decision, status.charger
    mode = status.mode.mode if status.mode is not None else Mode.SOLAR
    meter_age_s = _seconds(now - reading.ts) if reading is not None else None
    decision_age_s = _seconds(now - decision.ts) if decision is not None else None
    next_cycle_at = (
        decision.ts + timedelta(seconds=settings.interval_s) if decision is not None else None
    )
    # What the car could take with the house load as it is (docs/design.md, "Surplus arithmetic"):
    # the charger's draw now minus the grid's window mean. An unknown charger draw counts as nothing
    # drawn.
    charger_power_w = charger.power_w if charger is not None else None
    mean_w = status.grid_power_mean_w
    controller_fresh = (
        decision_age_s is not None and decision_age_s <= settings.controller_stale_after_s
    )
    return Facts(
        mode=mode,
        meter_age_s=meter_age_s,
        meter_stale=meter_age_s is None or meter_age_s > settings.meter_stale_after_s,
        decision_age_s=decision_age_s,
        controller_stale=(
            decision_age_s is None or decision_age_s > settings.controller_stale_after_s
        ),
        next_cycle_at=next_cycle_at,
        next_cycle_in_s=(
            None if next_cycle_at is None else max(0.0, _seconds(next_cycle_at - now))
        ),
        charger_power_w=charger_power_w,
        surplus_w=_surplus_w(decision, controller_fresh, charger_power_w, mean_w),
        # The controller follows the mode once it has decided in it after the change.
        mode_applied=(
            decision is not None
            and decision.mode == mode
            and (status.mode is None or decision.ts >= status.mode.ts)
        ),
    )


def _surplus_w(
    decision: Decision | None,
    controller_fresh: bool,
    charger_power_w: float | None,
    mean_w: float | None,
) -> float | None:
    """The surplus the controller acted on, while its decision is fresh.

    Right after a command the window mean mixes readings from before and after the charger
    changed; the controller then averages only the settled readings, and the page must show the
    same number, not a figure that overstates the surplus for two minutes after every start.
    Without a fresh decision (or in manual mode, where it has none) the window estimate stands in.
    """
    if controller_fresh and decision is not None and decision.surplus_w is not None:
        return decision.surplus_w
    return None if mean_w is None else (charger_power_w or 0.0) - mean_w


def derive(status: Status, settings: ViewSettings, now: datetime) -> dict[str, object]:
    """The /api/status payload: the Status as JSON plus what the page computes from it."""
    f = facts(status, settings, now)
    payload = status.to_json()
    payload.update(
        effective_mode=f.mode.value,
        solar_on=f.mode is not Mode.MANUAL,
        mode_applied=f.mode_applied,
        charger_power_w=f.charger_power_w,
        surplus_w=f.surplus_w,
        meter_age_s=f.meter_age_s,
        meter_stale=f.meter_stale,
        meter_stale_after_s=settings.meter_stale_after_s,
        decision_age_s=f.decision_age_s,
        controller_stale=f.controller_stale,
        controller_stale_after_s=settings.controller_stale_after_s,
        interval_s=settings.interval_s,
        next_cycle_at=to_jsonable(f.next_cycle_at),
        next_cycle_in_s=f.next_cycle_in_s,
        display=display(status, settings, f),
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


def _direction(w: float | None) -> str:
    if w is None:
        return "no data"
    if round(w) == 0:
        return "balanced"
    return "importing" if w > 0 else "exporting"


def _surplus_sub(
    surplus_w: float | None, settings: ViewSettings, car_w_per_a: float | None = None
) -> str:
    """How many amperes the surplus pays for, at what the car draws per ampere when measured."""
    if surplus_w is None:
        return "no meter data"
    amps = math.floor(surplus_w / (car_w_per_a or settings.watts_per_amp))
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


def display(status: Status, settings: ViewSettings, f: Facts) -> dict[str, str]:
    """Every string the page shows, formatted once here for the page and its script."""
    reading = status.latest_reading
    grid_w = reading.active_power_w if reading is not None else None
    mean_w = status.grid_power_mean_w

    charger = status.charger
    car_w_per_a = None if charger is None else charger.watts_per_amp
    if charger is None:
        charger_main, charger_sub = "–", "no charger data yet"
    else:
        charger_main = "–" if charger.current_a is None else f"{charger.current_a:.0f} A"
        power = "" if charger.power_w is None else f" · {charger.power_w / 1000:.1f} kW"
        wpa = "" if car_w_per_a is None else f" · {car_w_per_a:.0f} W/A"
        age = format_age(_seconds(status.now - charger.ts))
        charger_sub = f"{charger.status}{power}{wpa} · {age}"

    decision = status.last_decision
    if decision is None:
        decision_main, decision_sub = "none yet", ""
    else:
        decision_main = f"{decision.action.value} · {decision.target_a} A"
        decision_sub = f"{decision.stored_reason} · {format_age(f.decision_age_s)}"

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

    hints = {
        Mode.SOLAR: "The car charges from sunshine the house does not use.",
        Mode.MIN_SOLAR: f"The car charges at least {settings.min_current_a} A, more with sunshine.",
        Mode.MANUAL: "Solar control is off: the car charges as with a plain charger.",
    }
    return {
        "mode": mode_label(f.mode, settings.min_current_a),
        "switch": "On" if f.mode is not Mode.MANUAL else "Off",
        "mode_hint": hints[f.mode],
        "mode_who": who,
        "pending": pending_text(f, settings.interval_s),
        "grid_now": format_w(grid_w),
        "grid_now_sub": f"{_direction(grid_w)} · {format_age(f.meter_age_s)}",
        "grid_mean": format_w(mean_w),
        "grid_mean_sub": _direction(mean_w),
        "surplus": format_w(f.surplus_w),
        "surplus_sub": _surplus_sub(f.surplus_w, settings, car_w_per_a),
        "charger": charger_main,
        "charger_sub": charger_sub,
        "decision": decision_main,
        "decision_sub": decision_sub,
        "today": today_main,
        "today_sub": today_sub,
        "charger_note": charger_note(status.charger, status.last_decision),
        "banner": banner_text(settings, f, status),
    }
