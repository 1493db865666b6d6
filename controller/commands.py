"""From a decision to charger calls: only those that change something.

The Wallbox cloud allows about 5 writes a minute (docs/design.md, "The Wallbox cloud"), so a
decision that holds sends nothing and a start sends only what the charger does not have yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.models import Action, Decision
from common.snapshot import ChargerSnapshot, Phase


@dataclass(frozen=True, slots=True)
class Command:
    kind: Literal["set_current", "resume", "pause"]
    current_a: int | None = None

    def __str__(self) -> str:
        return f"set_current({self.current_a})" if self.kind == "set_current" else self.kind


def commands_for(decision: Decision, charger: ChargerSnapshot | None) -> tuple[Command, ...]:
    """The charger calls a decision needs: only those that change something.

    With no snapshot we cannot know what the charger has, so a start or release sends everything.
    The current goes first so a resumed car starts at the intended current.
    """
    a, t = decision.action, decision.target_a
    setpoint = None if charger is None else charger.setpoint_a
    enabled = False if charger is None else charger.enabled
    cmds: list[Command] = []
    if a in (Action.START, Action.ADJUST, Action.RELEASE) and setpoint != t:
        cmds.append(Command("set_current", t))
    if a is Action.START and not enabled:
        cmds.append(Command("resume"))
    if a is Action.RELEASE and (charger is None or charger.phase is Phase.PAUSED):
        cmds.append(Command("resume"))
    if a is Action.STOP and (charger is None or enabled or charger.drawing):
        cmds.append(Command("pause"))
    return tuple(cmds)
