"""What the controller logs about one cycle: pure, so every line can be tested for its exact text.

The log is how a person on the server follows the car, so its lines are fixed text (the README
quotes some): one line per cycle with what the charger has, the grid mean the decision used, the
surplus, the mode and the decision; one more when commands go out (start, pause, adjust, hand
back); and for a few quiet states (stale data, car full, no car, start delay) one when the reason
first appears, which the caller says with ``reason_changed``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from common.models import Action, Decision, Reason
from common.snapshot import ChargerSnapshot, Phase
from controller.commands import Command
from controller.state import PolicySettings


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
) -> list[LogLine]:
    """The lines to log for a cycle's decision.

    ``settled_from`` is the start of the settled window the decision's mean covers (the
    policy state's ``settled_since`` before deciding); ``commands`` are those sent. A decision
    whose commands failed (``command_error``) gets only the cycle line: the failure is logged
    where it happened.
    """
    lines = [LogLine(logging.INFO, cycle_line(decision, snapshot, settings, settled_from))]
    if decision.command_error is not None:
        return lines
    event = _action_line(decision, snapshot, settings, commands)
    if event is None and reason_changed:
        event = _reason_line(decision, snapshot, settings)
    if event is not None:
        lines.append(event)
    return lines


def cycle_line(
    d: Decision,
    snapshot: ChargerSnapshot | None,
    settings: PolicySettings,
    settled_from: datetime | None = None,
) -> str:
    """E.g. ``Wallbox: 10 A - P1 (60 s mean): -622 W - surplus: 7552 W - mode: solar -> hold
    10 A (hold)``. Without a surplus the mean shown is the whole window's."""
    since = None if d.surplus_w is None else settled_from
    span = window_label(settings.window_s, since, d.ts)
    return (
        f"Wallbox: {charger_label(snapshot)} - P1 ({span} mean): {_watts(d.grid_power_mean_w)}"
        f" - surplus: {_watts(d.surplus_w)} - mode: {d.mode.value}"
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
    if d.action is Action.ADJUST:
        dip = (
            ", holding min current until the stop delay" if d.reason is Reason.DIP_HOLD_MIN else ""
        )
        return _info(
            f"Adjust charging current: {setpoint} A -> {d.target_a} A"
            f" (surplus {_watts(d.surplus_w)} / {s.watts_per_amp:.1f} W/A){dip}"
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
    if d.reason is Reason.NO_CAR:
        return _info("No car connected")
    if d.reason is Reason.START_DELAY:
        return _info(
            f"Surplus {_watts(d.surplus_w)} covers {s.min_current_a} A:"
            f" starting after {s.start_delay_s:.0f} s if it lasts"
        )
    return None


def _watts(w: float | None) -> str:
    return "n/a" if w is None else f"{w:.0f} W"


def _info(text: str) -> LogLine:
    return LogLine(logging.INFO, text)
