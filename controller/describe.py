"""What the controller logs about one cycle: pure, so every line can be tested for its exact text.

The log is how a person on the server follows the car, so its lines are fixed text (the README
quotes some): one line per cycle with what the charger has, the grid mean the decision used, the
surplus, the mode and the decision; one more when commands go out (start, pause, adjust, hand
back); and for a few quiet states (stale data, car full, no car, start delay) one when the reason
first appears, which the caller says with ``reason_changed``.

The cycle line is at INFO when something happens (a command, a new reason) and otherwise once a
minute (``STEADY_LOG_S``), at DEBUG in between: a 10 s cycle would write 8 640 lines a day of
the same hold.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from common.models import Action, Decision, Reason
from common.snapshot import ChargerSnapshot, Phase
from controller.commands import Command
from controller.measure import WattsPerAmp
from controller.rules import TIMER_SLACK_S
from controller.state import PolicySettings

#: A cycle that changes nothing logs its line at INFO at most this often.
STEADY_LOG_S = 60.0


def steady_due(last_logged: datetime | None, now: datetime) -> bool:
    """Whether a cycle that changes nothing logs at INFO: ``STEADY_LOG_S`` since the last cycle
    line at INFO (a cycle a few ms early is due: its minute is up), or none yet, or a clock
    that stepped back (a line due, not an hour of silence)."""
    if last_logged is None:
        return True
    since_s = (now - last_logged).total_seconds()
    return not 0 <= since_s < STEADY_LOG_S - TIMER_SLACK_S


class LogLine(NamedTuple):
    """One line to log; the level matters too (missing meter data is a warning)."""

    level: int
    text: str


def describe(
    decision: Decision,
    snapshot: ChargerSnapshot | None,
    settings: PolicySettings,
    commands: Sequence[Command] = (),
    settled_from: datetime | None = None,
    reason_changed: bool = True,
    measured_w_per_a: float | None = None,
    steady_due: bool = True,
) -> list[LogLine]:
    """The lines to log for a cycle's decision.

    ``settled_from`` is the start of the settled window the decision's mean covers (the
    policy state's ``settled_since`` before deciding); ``commands`` are those sent. A decision
    whose commands failed (``command_error``) gets only the cycle line: the failure is logged
    where it happened. ``steady_due``: ``STEADY_LOG_S`` have passed since the last cycle line
    at INFO, so a cycle that changes nothing logs at INFO too.
    """
    line = cycle_line(decision, snapshot, settings, settled_from, measured_w_per_a)
    if decision.command_error is not None:
        return [LogLine(logging.INFO, line)]
    event = _action_line(decision, snapshot, settings, commands)
    if event is None and reason_changed:
        event = _reason_line(decision, snapshot, settings)
    news = event is not None or reason_changed or steady_due
    lines = [LogLine(logging.INFO if news else logging.DEBUG, line)]
    return lines if event is None else [*lines, event]


def cycle_line(
    d: Decision,
    snapshot: ChargerSnapshot | None,
    settings: PolicySettings,
    settled_from: datetime | None = None,
    measured_w_per_a: float | None = None,
) -> str:
    """E.g. ``Wallbox: 10 A - P1 (60 s mean): -622 W - surplus: 7552 W - mode: solar -> hold
    10 A (hold)``. Without a surplus the mean shown is the whole window's. Once the car's watts
    per ampere is measured, the surplus says which: ``surplus: 3500 W (car: 230.0 W/A)``."""
    since = None if d.surplus_w is None else settled_from
    span = window_label(settings.window_s, since, d.ts)
    car = "" if measured_w_per_a is None else f" (car: {measured_w_per_a:.1f} W/A)"
    return (
        f"Wallbox: {charger_label(snapshot)} - P1 ({span} mean): {_watts(d.grid_power_mean_w)}"
        f" - surplus: {_watts(d.surplus_w)}{car} - mode: {d.mode.value}"
        f" -> {d.action.value} {d.target_a} A ({d.stored_reason})"
    )


def window_label(window_s: float, settled_from: datetime | None, now: datetime) -> str:
    """How much of the window the mean covers: all of it, or only what came after the settle."""
    span = window_s
    if settled_from is not None:
        span = min(window_s, max((now - settled_from).total_seconds(), 0.0))
    return f"{span / 60:.0f} min" if span >= 120 and span % 60 == 0 else f"{span:.0f} s"


def charger_label(snapshot: ChargerSnapshot | None) -> str:
    """The setpoint when the charger is on (with its status unless charging), else its status."""
    if snapshot is None:
        return "unknown"
    if not snapshot.enabled or snapshot.setpoint_a is None:
        return snapshot.status.lower()
    if snapshot.phase is Phase.CHARGING:
        return f"{snapshot.setpoint_a} A"
    return f"{snapshot.setpoint_a} A ({snapshot.status.lower()})"


def _action_line(
    d: Decision,
    snapshot: ChargerSnapshot | None,
    s: PolicySettings,
    commands: Sequence[Command],
) -> LogLine | None:
    setpoint = None if snapshot is None else snapshot.setpoint_a
    mean = _watts(d.grid_power_mean_w)
    wpa = (
        s.watts_per_amp
        if snapshot is None or snapshot.watts_per_amp is None
        else snapshot.watts_per_amp
    )
    if d.reason is Reason.READY_PROBE:
        return _info(
            f"The charger says Ready and there is sun to spare: asking it once to start at "
            f"{d.target_a} A, in case a car waits for a schedule set in the Wallbox app"
        )
    if d.action is Action.START and d.reason is Reason.SHARE_START:
        return _info(
            f"Part sun: {mean}. Start charging at {d.target_a} A, the rest paid for by the"
            " solar share so far"
        )
    if d.action is Action.START:
        return _info(f"Sufficient power: {mean}. Start charging at {d.target_a} A")
    if d.action is Action.STOP and d.reason is Reason.STALE:
        return LogLine(
            logging.WARNING,
            f"Pause charging: no P1 reading in the last {s.window_s:.0f} s"
            " (meter or collector down)",
        )
    if d.action is Action.STOP:
        why = "not enough power" if d.reason is Reason.SURPLUS_STOP else "charging from the grid"
        return _info(f"Pause charging, {why}: {mean} - {setpoint} A")
    if d.action is Action.ADJUST and d.reason is Reason.NO_SURPLUS:
        return _info(
            f"The car is paused: setting the charger back to {d.target_a} A for a schedule or a"
            " start by hand"
        )
    if d.action is Action.ADJUST:
        dip = {
            Reason.DIP_HOLD_MIN: ", holding min current until the stop delay",
            Reason.SHARE_HOLD: ", holding min current on the solar share so far",
        }.get(d.reason, "")
        return _info(
            f"Adjust charging current: {setpoint} A -> {d.target_a} A"
            f" (surplus {_watts(d.surplus_w)} / {wpa:.1f} W/A){dip}"
        )
    if d.action is Action.RELEASE:
        sent = ", ".join(str(c) for c in commands) or "nothing to change"
        return _info(f"Manual mode: handing the charger back ({sent})")
    return None


def _reason_line(
    d: Decision, snapshot: ChargerSnapshot | None, s: PolicySettings
) -> LogLine | None:
    if d.reason is Reason.STALE:
        return LogLine(
            logging.WARNING, f"No P1 reading in the last {s.window_s:.0f} s: not charging"
        )
    if d.reason is Reason.CAR_FULL:
        status_id = None if snapshot is None else snapshot.status_id
        return _info(f"The car takes no power (status {status_id}): leaving it alone")
    if d.reason is Reason.NO_CAR and snapshot is not None and snapshot.ready:
        return _info(
            "Ready: no car connected, or a car waiting for a schedule set in the Wallbox app"
        )
    if d.reason is Reason.NO_CAR:
        return _info("No car connected")
    if d.reason is Reason.START_DELAY:
        return _info(
            f"Surplus {_watts(d.surplus_w)} covers {s.min_current_a} A:"
            f" starting after {s.start_delay_s:.0f} s if it lasts"
        )
    return _situation_line(d, snapshot, s)


def _situation_line(
    d: Decision, snapshot: ChargerSnapshot | None, s: PolicySettings
) -> LogLine | None:
    """The reasons for what the charger and the store really do (controller.rules_car)."""
    if d.reason is Reason.START_REFUSED:
        return LogLine(
            logging.WARNING,
            "The charger stayed Scheduled when asked to start: a schedule set in the Wallbox app "
            "holds the car. Solar charging asks again in an hour; remove the schedule in the app "
            "to charge on the sun",
        )
    if d.reason is Reason.SCHEDULE:
        return _info("The Wallbox app's schedule started charging: left alone until it stops")
    if d.reason is Reason.STORE_UNAVAILABLE:
        return LogLine(
            logging.WARNING, "Store unavailable: holding the charger as it is for up to 2 cycles"
        )
    if d.reason is Reason.CHARGER_UNKNOWN:
        status_id = None if snapshot is None else snapshot.status_id
        return LogLine(logging.WARNING, f"Unknown charger status {status_id}: nothing sent")
    return None


def notice_lines(
    before: ChargerSnapshot | None,
    snapshot: ChargerSnapshot | None,
    news: WattsPerAmp | None,
    configured_w_per_a: float,
) -> list[LogLine]:
    """Lines for what changed about the charger itself: OCPP mode on or off, a new measurement
    of what the car draws per ampere."""
    lines = []
    was_ocpp = before is not None and before.ocpp_mode
    if snapshot is not None and snapshot.ocpp_mode and not was_ocpp:
        lines.append(LogLine(logging.WARNING, OCPP_MODE_TEXT))
    elif snapshot is not None and was_ocpp and not snapshot.ocpp_mode:
        lines.append(_info("The Wallbox left OCPP mode: the cloud takes commands again"))
    if news is not None:
        phases = f" on {news.phases}" if news.phases else ""
        how = _MEASURED_FROM[news.source]
        lines.append(
            _info(
                f"The car draws {news.value:.1f} W per A{phases} (measured from {how}; the "
                f"config says {configured_w_per_a:.1f} W/A)"
            )
        )
    return lines


_MEASURED_FROM = {
    "status": "the charger status",
    "meter": "the meter's step",
    "charger": "the charger's own meter over OCPP",
}

#: One clear line for the log, the page and ``scc status``: what OCPP mode means, two ways out.
OCPP_MODE_TEXT = (
    "The Wallbox is in OCPP mode: the cloud refuses pause and resume (HTTP 403), so solar "
    "charging cannot start or pause the car. Either switch OCPP off in the Wallbox app, or let "
    "Solar Car Charge control the charger over local OCPP"
)


def _watts(w: float | None) -> str:
    return "n/a" if w is None else f"{w:.0f} W"


def _info(text: str) -> LogLine:
    return LogLine(logging.INFO, text)
