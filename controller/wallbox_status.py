"""What a Wallbox cloud status body says, read field by field and trusting no number.

The cloud's numbers are not always numbers: owners and tests have met ``nan``, ``1e999``, ids too
big for any database, strings where numbers belong, and status ids no table lists
(docs/design.md, "The Wallbox cloud"). A bad field becomes "not reported" (None) and the rest of
the body still counts; a status id that is not a whole number becomes ``STATUS_UNREADABLE`` (an
unknown status, never "disconnected", which is what a missing id means). Nothing here raises
for a bad value, so a cycle never ends in a traceback because of one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.ports import ChargerUnavailable
from common.snapshot import (
    STATUS_CHARGING,
    STATUS_PAUSED,
    STATUS_UNREADABLE,
    Phase,
    status_phase,
)

#: Largest status id we keep as is: the table's ids are below 256; anything past this is noise
#: that would not even fit a database integer.
MAX_STATUS_ID = 65535
#: Plausible ranges; a value outside is a value the cloud got wrong, not one to steer by.
MAX_CURRENT_A = 80
MAX_POWER_KW = 100.0
MAX_SESSION_KWH = 10_000.0


@dataclass(frozen=True, slots=True)
class StatusRead:
    """One status read: when (wall clock for people, monotonic for ages) and what it said."""

    at: datetime
    mono_s: float
    status_id: int | None
    setpoint_a: int | None
    power_kw: float | None
    added_energy_kwh: float | None
    max_available_a: int | None = None
    operation_mode: str | None = None


def parse_status(body: object, at: datetime, mono_s: float) -> StatusRead:
    """The fields the controller uses; ChargerUnavailable only when the body is not an object."""
    if not isinstance(body, dict):
        raise ChargerUnavailable(f"unexpected status answer: {type(body).__name__}, not an object")
    config = body.get("config_data")
    if not isinstance(config, dict):
        config = {}
    mode = config.get("operation_mode")
    return StatusRead(
        at=at,
        mono_s=mono_s,
        status_id=status_id(body.get("status_id")),
        setpoint_a=whole(config.get("max_charging_current"), MAX_CURRENT_A),
        power_kw=number(body.get("charging_power"), MAX_POWER_KW),
        added_energy_kwh=number(body.get("added_energy"), MAX_SESSION_KWH),
        # amperes despite its name (docs/design.md, "The Wallbox cloud")
        max_available_a=whole(body.get("max_available_power"), MAX_CURRENT_A),
        operation_mode=mode if isinstance(mode, str) and 0 < len(mode) <= 32 else None,
    )


def schedule_enabled(body: object) -> bool | None:
    """Whether ``GET chargers/{id}/schedules`` lists an enabled schedule (the ``wallbox``
    package's README: ``{"schedules": [{"enable": 1, "start": "2100", ...}]}``); None when the
    body says nothing we can read."""
    items = body.get("schedules") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return None
    return any(isinstance(s, dict) and s.get("enable") in (1, True) for s in items)


def number(value: Any, maximum: float) -> float | None:
    """A finite number in [0, maximum] (numeric text counts), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        f = float(value)
    except OverflowError:  # an int beyond any float
        return None
    return f if math.isfinite(f) and 0.0 <= f <= maximum else None


def whole(value: Any, maximum: float) -> int | None:
    """A whole number in [0, maximum], else None."""
    f = number(value, maximum)
    return int(f) if f is not None and f == int(f) else None


def status_id(value: Any) -> int | None:
    """None when the body has no id (the package's "disconnected"); STATUS_UNREADABLE when it
    has one that is not a whole number we could keep."""
    if value is None:
        return None
    got = whole(value, MAX_STATUS_ID)
    return STATUS_UNREADABLE if got is None else got


#: Phases a pause takes to Paused (an unknown id drawing power is paused too: grid-stop rule).
_PAUSABLE = (Phase.CHARGING, Phase.CAR_DEMAND, Phase.WAITING, Phase.UNKNOWN)


def overlay(
    r: StatusRead,
    sent_setpoint_a: int | None,
    sent_enabled: bool | None,
    fresh: bool,
    watts_per_amp: float,
) -> tuple[int | None, int | None, float, frozenset[str]]:
    """Status id, setpoint, power and the names of estimated fields: the read, overlaid with the
    commands it cannot reflect yet (None: nothing sent since)."""
    estimated: set[str] = set()
    status_id, setpoint = r.status_id, r.setpoint_a
    if sent_setpoint_a is not None:
        setpoint = sent_setpoint_a
        estimated.add("setpoint_a")
    phase = status_phase(status_id)
    if sent_enabled is True and phase in (Phase.PAUSED, Phase.SCHEDULED):
        status_id = STATUS_CHARGING
        estimated.add("status")
    elif sent_enabled is False and phase in _PAUSABLE:
        status_id = STATUS_PAUSED
        estimated.add("status")
    phase = status_phase(status_id)
    if phase is Phase.UNKNOWN and not estimated and fresh and r.power_kw:
        power_w = r.power_kw * 1000.0  # an id we do not know, drawing power: say so
    elif phase is not Phase.CHARGING:
        power_w = 0.0
    elif not estimated and r.power_kw is not None and fresh:
        power_w = r.power_kw * 1000.0  # the cloud reports kW
    else:
        power_w = (setpoint or 0) * watts_per_amp
        estimated.add("power_w")
    return status_id, setpoint, power_w, frozenset(estimated)
