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

from common.models import Mode, Status, to_jsonable

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


def _seconds(delta: timedelta) -> float:
    return delta / timedelta(seconds=1)


def format_w(value: float | None) -> str:
    """Whole watts with a thin-space thousands separator and a real minus sign."""
    if value is None:
        return "–"
    text = f"{abs(value):,.0f}".replace(",", "\u202f")
    return f"{'−' if round(value) < 0 else ''}{text} W"


def format_age(age_s: float | None) -> str:
    if age_s is None:
        return "never"
    if age_s < 0:
        age_s = 0.0
    if age_s < 5:
        return "just now"
    if age_s < 120:
        return f"{age_s:.0f} s ago"
    if age_s < 7200:
        return f"{age_s / 60:.0f} min ago"
    if age_s < 172800:
        return f"{age_s / 3600:.0f} h ago"
    return f"{age_s / 86400:.0f} days ago"


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def mode_label(mode: Mode, min_current_a: int) -> str:
    return MODE_LABELS[mode].format(min_a=min_current_a)


def derive(status: Status, settings: ViewSettings, now: datetime) -> dict[str, object]:
    """The /api/status payload: the Status as JSON plus what the page computes from it."""
    reading = status.latest_reading
    decision = status.last_decision
    charger = status.charger
    mode = status.mode.mode if status.mode is not None else Mode.SOLAR

    meter_age_s = _seconds(now - reading.ts) if reading is not None else None
    meter_stale = meter_age_s is None or meter_age_s > settings.meter_stale_after_s
    decision_age_s = _seconds(now - decision.ts) if decision is not None else None
    controller_stale = decision_age_s is None or decision_age_s > settings.controller_stale_after_s
    if decision is not None:
        next_cycle_at: datetime | None = decision.ts + timedelta(seconds=settings.interval_s)
        next_cycle_in_s: float | None = max(0.0, _seconds(next_cycle_at - now))
    else:
        next_cycle_at, next_cycle_in_s = None, None

    # What the car could take with the house load as it is (DESIGN.md section 4): the charger's
    # draw now minus the grid's window mean. An unknown charger draw counts as nothing drawn.
    charger_power_w = charger.power_w if charger is not None else None
    mean_w = status.grid_power_mean_w
    surplus_w = None if mean_w is None else (charger_power_w or 0.0) - mean_w

    # The controller follows the mode once it has decided in it after the change.
    mode_applied = (
        decision is not None
        and decision.mode == mode
        and (status.mode is None or decision.ts >= status.mode.ts)
    )

    payload = status.to_json()
    payload.update(
        effective_mode=mode.value,
        solar_on=mode is not Mode.MANUAL,
        mode_applied=mode_applied,
        charger_power_w=charger_power_w,
        surplus_w=surplus_w,
        meter_age_s=meter_age_s,
        meter_stale=meter_stale,
        meter_stale_after_s=settings.meter_stale_after_s,
        decision_age_s=decision_age_s,
        controller_stale=controller_stale,
        controller_stale_after_s=settings.controller_stale_after_s,
        interval_s=settings.interval_s,
        next_cycle_at=to_jsonable(next_cycle_at),
        next_cycle_in_s=next_cycle_in_s,
    )
    payload["display"] = _display(
        status, settings, mode, meter_age_s, meter_stale, decision_age_s, controller_stale,
        next_cycle_in_s, surplus_w, mode_applied,
    )  # fmt: skip
    return payload


def _surplus_sub(surplus_w: float | None, settings: ViewSettings) -> str:
    if surplus_w is None:
        return "no meter data"
    amps = math.floor(surplus_w / settings.watts_per_amp)
    if amps >= settings.min_current_a:
        return f"enough for {amps} A"
    return f"below the {settings.min_current_a} A minimum"


def pending_text(next_cycle_in_s: float | None, interval_s: float) -> str:
    """When the controller will act on a new mode: its next cycle."""
    if next_cycle_in_s is None:
        return f"The controller acts at its next cycle, within {format_duration(interval_s)}."
    if next_cycle_in_s < 1:
        return "The controller acts at its next cycle, any moment now."
    return f"The controller acts at its next cycle, within {format_duration(next_cycle_in_s)}."


def _display(
    status: Status,
    settings: ViewSettings,
    mode: Mode,
    meter_age_s: float | None,
    meter_stale: bool,
    decision_age_s: float | None,
    controller_stale: bool,
    next_cycle_in_s: float | None,
    surplus_w: float | None,
    mode_applied: bool,
) -> dict[str, str]:
    reading = status.latest_reading
    grid_w = reading.active_power_w if reading is not None else None
    mean_w = status.grid_power_mean_w

    def direction(w: float | None) -> str:
        if w is None:
            return "no data"
        if round(w) == 0:
            return "balanced"
        return "importing" if w > 0 else "exporting"

    banners = []
    if meter_stale:
        if meter_age_s is None:
            banners.append("No meter data yet: solar charging waits for the first readings.")
        else:
            banners.append(
                f"Meter data is stale (last reading {format_age(meter_age_s)}, expected "
                f"every {format_duration(settings.poll_interval_s)}): solar charging pauses "
                "until it returns."
            )
    if controller_stale:
        if decision_age_s is None:
            banners.append("The controller has not decided anything yet: is it running?")
        else:
            banners.append(
                f"The controller has not decided for {format_duration(decision_age_s)} "
                f"(expected every {format_duration(settings.interval_s)}): is it running?"
            )

    charger = status.charger
    if charger is None:
        charger_main, charger_sub = "–", "no charger data yet"
    else:
        current = "–" if charger.current_a is None else f"{charger.current_a:.0f} A"
        power = "" if charger.power_w is None else f" · {charger.power_w / 1000:.1f} kW"
        charger_main = current
        charger_sub = f"{charger.status}{power} · {format_age(_seconds(status.now - charger.ts))}"

    decision = status.last_decision
    if decision is None:
        decision_main, decision_sub = "none yet", ""
    else:
        decision_main = f"{decision.action.value} · {decision.target_a} A"
        decision_sub = f"{decision.reason} · {format_age(decision_age_s)}"

    today = status.today
    if today is None:
        today_main, today_sub = "–", ""
    else:
        today_main = f"{today.ev_kwh:.{1 if today.ev_kwh >= 10 else 2}f} kWh"
        share = today.solar_share
        today_sub = "nothing charged yet" if share is None else f"{share:.0%} from solar"

    if mode_applied:
        pending = f"The controller follows this mode (last cycle {format_age(decision_age_s)})."
    else:
        pending = pending_text(next_cycle_in_s, settings.interval_s)

    who = ""
    if status.mode is not None:
        who = f"Set by {status.mode.source} {format_age(_seconds(status.now - status.mode.ts))}."

    return {
        "mode": mode_label(mode, settings.min_current_a),
        "switch": "On" if mode is not Mode.MANUAL else "Off",
        "mode_hint": (
            "The car charges from sunshine the house does not use."
            if mode is Mode.SOLAR
            else f"The car charges at least {settings.min_current_a} A, more with sunshine."
            if mode is Mode.MIN_SOLAR
            else "Solar control is off: the car charges like with a plain charger."
        ),
        "mode_who": who,
        "pending": pending,
        "grid_now": format_w(grid_w),
        "grid_now_sub": f"{direction(grid_w)} · {format_age(meter_age_s)}",
        "grid_mean": format_w(mean_w),
        "grid_mean_sub": f"{direction(mean_w)} · {format_duration(status.window_s)} mean",
        "surplus": format_w(surplus_w),
        "surplus_sub": _surplus_sub(surplus_w, settings),
        "charger": charger_main,
        "charger_sub": charger_sub,
        "decision": decision_main,
        "decision_sub": decision_sub,
        "today": today_main,
        "today_sub": today_sub,
        "banner": " ".join(banners),
    }
