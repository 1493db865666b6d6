"""A decision's charger calls, sent in order, and what to do when the cloud refuses one.

Kept apart from the service's cycle so the refusal rule lives in one place: a command the
cloud refuses this account (403: OCPP mode, missing rights) is told once per episode, not as
an error every cycle, and a refused pause, which leaves the car drawing, falls back to min
current, the least the cloud still lets us do (docs/design.md, "The Wallbox cloud").
"""

from __future__ import annotations

import logging
from datetime import datetime

from common.models import CommandError
from common.ports import Charger, ChargerError, ChargerRefused
from common.snapshot import ChargerSnapshot
from controller.commands import Command

log = logging.getLogger("controller")


class CommandSender:
    def __init__(self, charger: Charger, min_current_a: int) -> None:
        self.charger = charger
        self.min_current_a = min_current_a
        self._told_refused: set[str] = set()  # commands refused this episode, told once

    def send(
        self, commands: tuple[Command, ...], snap: ChargerSnapshot | None, now: datetime
    ) -> CommandError | None:
        """Send in order; stop at the first that fails (the next cycle tries again) and say
        why."""
        for cmd in commands:
            try:
                self._one(cmd, now)
            except ChargerRefused as e:
                self._refused(cmd, e, snap, now)
                return e.code
            except ChargerError as e:
                log.error("Charger command %s failed: %s", cmd, e)
                return e.code
            self._told_refused.discard(cmd.kind)
        return None

    def _one(self, cmd: Command, now: datetime) -> None:
        if cmd.kind == "set_current":
            assert cmd.current_a is not None
            self.charger.set_current(cmd.current_a, now)
        elif cmd.kind == "resume":
            self.charger.resume(now)
        else:
            self.charger.pause(now)

    def _refused(
        self, cmd: Command, e: ChargerRefused, snap: ChargerSnapshot | None, now: datetime
    ) -> None:
        """Told once per episode; a refused pause lowers the car to min current instead, and
        the pause is tried again when the back-off ends."""
        lowered = ""
        min_a = self.min_current_a
        if cmd.kind == "pause" and snap is not None and snap.setpoint_a != min_a:
            try:
                self.charger.set_current(min_a, now)
                lowered = f"; lowered the current to {min_a} A instead, the least it accepts"
            except ChargerError as low:
                log.error("Charger command set_current(%d) failed: %s", min_a, low)
        if cmd.kind in self._told_refused and not lowered:
            return
        self._told_refused.add(cmd.kind)
        log.warning("Charger command %s refused: %s%s", cmd, e, lowered)
