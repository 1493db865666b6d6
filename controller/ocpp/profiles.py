"""The charging profile that carries our limit, in the style the firmware takes.

Facts from people steering a Pulsar this way: the rate unit must be amperes, whole amps are
safest (the schema allows one decimal; the charger rounds its own way), below 6 A it charges at
6 A, and 0 A suspends the session. Which kind and stack level work depends on the firmware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ocpp.v16.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocpp.v16.enums import ChargingProfilePurposeType, ChargingRateUnitType

from controller.ocpp.samples import format_time

ProfileKind = Literal["Relative", "Absolute"]
#: Our profile's id: one id, so each limit replaces the last instead of stacking up.
PROFILE_ID = 8887


def firmware_major(firmware: str | None) -> int | None:
    """6 for "6.7.38" (or "v6.4.14"); None when the version says nothing readable."""
    m = re.search(r"(\d+)\.\d+", firmware or "")
    return None if m is None else int(m.group(1))


@dataclass(frozen=True, slots=True)
class ProfileStyle:
    """How this firmware wants its SetChargingProfile (kind and stack level)."""

    kind: ProfileKind
    stack_level: int

    def __str__(self) -> str:
        return f"{self.kind} at stack level {self.stack_level}"


def profile_styles(firmware: str | None, max_stack_level: int | None) -> tuple[ProfileStyle, ...]:
    """The styles to try, best first.

    Firmware 6.x takes a Relative TxDefaultProfile at its ``ChargeProfileMaxStackLevel`` (what
    works in the field; absolute profiles were reported as poorly supported). Firmware 5.x refused
    a profile at stack level 1 and works at level 0, absolute from a minute ago. The other style
    is the fallback when the first is rejected, for firmware that fits neither description.
    """
    top = max(max_stack_level or 0, 0)
    v6 = ProfileStyle("Relative", top)
    v5 = ProfileStyle("Absolute", 0)
    major = firmware_major(firmware)
    return (v5, v6) if major is not None and major <= 5 else (v6, v5)


def charging_profile(limit_a: int, style: ProfileStyle, now: datetime) -> ChargingProfile:
    """A TxDefaultProfile of ``limit_a`` whole amperes from 0 s on, in ``style``."""
    absolute = style.kind == "Absolute"
    return ChargingProfile(
        charging_profile_id=PROFILE_ID,
        stack_level=style.stack_level,
        charging_profile_purpose=ChargingProfilePurposeType.tx_default_profile,
        charging_profile_kind=style.kind,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType.amps,
            charging_schedule_period=[ChargingSchedulePeriod(start_period=0, limit=float(limit_a))],
            start_schedule=format_time(now - timedelta(minutes=1)) if absolute else None,
        ),
    )
