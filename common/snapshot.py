"""What the controller knows about the charger at one moment, and what Wallbox status ids mean.

Kept apart from the adapter so the pure policy can use it without importing HTTP code. The status
table follows Home Assistant's finer-grained labels (docs/design.md, "The Wallbox cloud"); the
grouping into "car connected", "enabled" and "drawing" is ours and is what the policy needs.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime

from common.models import ChargerState, utc


class Phase(enum.StrEnum):
    """Status ids grouped by what they mean for solar charging."""

    NO_CAR = "no-car"  # 0, 163 disconnected; 161, 162 ready (no car, or one on a schedule)
    CHARGING = "charging"  # 193-195 (196 discharging counts: the charger is on)
    PAUSED = "paused"  # 178, 182: paused by a user or by us
    SCHEDULED = "scheduled"  # 177, 179: waiting for its own schedule (off until resumed)
    CAR_DEMAND = "car-demand"  # 180, 181: on, but the car takes nothing (full, or its timer)
    WAITING = "waiting"  # 164, 183-189: on, connected, held back by the charger itself
    LOCKED = "locked"  # 165, 209, 210
    ERROR = "error"  # 14, 15
    UPDATING = "updating"  # 166
    UNKNOWN = "unknown"  # an id not in the table, or one that is not a number (-1)


_LABELS: dict[int, tuple[str, Phase]] = {
    0: ("Disconnected", Phase.NO_CAR),
    163: ("Disconnected", Phase.NO_CAR),
    14: ("Error", Phase.ERROR),
    15: ("Error", Phase.ERROR),
    161: ("Ready", Phase.NO_CAR),
    162: ("Ready", Phase.NO_CAR),
    164: ("Waiting", Phase.WAITING),
    165: ("Locked", Phase.LOCKED),
    166: ("Updating", Phase.UPDATING),
    177: ("Scheduled", Phase.SCHEDULED),
    179: ("Scheduled", Phase.SCHEDULED),
    178: ("Paused", Phase.PAUSED),
    182: ("Paused", Phase.PAUSED),
    180: ("Waiting for car demand", Phase.CAR_DEMAND),
    181: ("Waiting for car demand", Phase.CAR_DEMAND),
    183: ("Waiting in queue by Power Sharing", Phase.WAITING),
    184: ("Waiting in queue by Power Sharing", Phase.WAITING),
    185: ("Waiting in queue by Power Boost", Phase.WAITING),
    186: ("Waiting in queue by Power Boost", Phase.WAITING),
    187: ("Waiting MID failed", Phase.WAITING),
    188: ("Waiting MID safety margin exceeded", Phase.WAITING),
    189: ("Waiting in queue by Eco-Smart", Phase.WAITING),
    193: ("Charging", Phase.CHARGING),
    194: ("Charging", Phase.CHARGING),
    195: ("Charging", Phase.CHARGING),
    196: ("Discharging", Phase.CHARGING),
    209: ("Locked", Phase.LOCKED),
    210: ("Locked, car connected", Phase.LOCKED),
}

#: Status ids the adapter assumes after its own commands, until a read says otherwise.
STATUS_CHARGING = 194
STATUS_PAUSED = 182
#: What the adapter reports for a status id that is not a number at all (nan, "x", 1e999).
STATUS_UNREADABLE = -1
#: Ready: no car, or a car that waits for a schedule set in the Wallbox app; the status alone
#: cannot tell them apart (docs/design.md, "Decision rules").
READY_IDS = frozenset({161, 162})


def status_label(status_id: int | None) -> str:
    if status_id is None:
        return "Disconnected"
    return _LABELS.get(status_id, ("Unknown", Phase.UNKNOWN))[0]


def status_phase(status_id: int | None) -> Phase:
    if status_id is None:
        return Phase.NO_CAR
    return _LABELS.get(status_id, ("Unknown", Phase.UNKNOWN))[1]


@dataclass(frozen=True, slots=True)
class ChargerSnapshot:
    """The charger as last read from the cloud, overlaid with the commands sent since.

    The cloud may be read at most once a minute, so between reads the adapter reports what it
    asked for; ``estimated`` names the fields that come from its own commands (or arithmetic)
    rather than from a read, and ``data_age_s`` says how old the read is.
    """

    ts: datetime
    charger_id: str
    status_id: int | None
    setpoint_a: int | None
    power_w: float
    added_energy_kwh: float | None = None
    read_at: datetime | None = None
    estimated: frozenset[str] = field(default_factory=frozenset)
    read_error: str | None = None
    #: The most the installation allows (status ``max_available_power``: amperes despite the
    #: name, docs/design.md, "The Wallbox cloud"); None when the status did not say.
    max_available_a: int | None = None
    #: ``config_data.operation_mode`` ("wallbox" or "ocpp"); None when the status did not say.
    operation_mode: str | None = None
    #: Commands the cloud refuses this account for now (403): "set_current", "pause", "resume".
    refused: frozenset[str] = field(default_factory=frozenset)
    #: Whether a schedule is enabled in the Wallbox app, asked when a Ready charger starts a
    #: car without a start of ours (a schedule's, or a car just plugged in); None: not asked.
    schedule_set: bool | None = None
    #: The car's watts per ampere of setpoint the controller works with (measured, else the
    #: config's); set by the controller, not by the adapter.
    watts_per_amp: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts))
        if self.read_at is not None:
            object.__setattr__(self, "read_at", utc(self.read_at))
        object.__setattr__(self, "estimated", frozenset(self.estimated))
        object.__setattr__(self, "refused", frozenset(self.refused))

    @property
    def phase(self) -> Phase:
        return status_phase(self.status_id)

    @property
    def status(self) -> str:
        return status_label(self.status_id)

    @property
    def data_age_s(self) -> float:
        if self.read_at is None:
            return math.inf
        return max((self.ts - self.read_at).total_seconds(), 0.0)

    @property
    def car_connected(self) -> bool:
        return self.phase in _CONNECTED or self.status_id == 210

    @property
    def enabled(self) -> bool:
        """On (not paused): the car may draw whenever it wants."""
        return self.phase in _ENABLED

    @property
    def drawing(self) -> bool:
        """Power flows: charging, or a status we do not know that reports power (a new firmware's
        id must not hide a car charging from the grid)."""
        return self.phase in (Phase.CHARGING, Phase.UNKNOWN) and self.power_w > 0

    @property
    def ready(self) -> bool:
        return self.status_id in READY_IDS

    @property
    def ocpp_mode(self) -> bool:
        return self.operation_mode == "ocpp"

    def to_state(self) -> ChargerState:
        return ChargerState(
            ts=self.ts,
            charger_id=self.charger_id,
            status_id=self.status_id,
            status=self.status,
            current_a=None if self.setpoint_a is None else float(self.setpoint_a),
            power_w=self.power_w,
            added_energy_kwh=self.added_energy_kwh,
            watts_per_amp=self.watts_per_amp,
            operation_mode=self.operation_mode,
            refused=",".join(sorted(self.refused)) or None,
        )


_CONNECTED = frozenset(
    {Phase.CHARGING, Phase.PAUSED, Phase.SCHEDULED, Phase.CAR_DEMAND, Phase.WAITING}
)
_ENABLED = frozenset({Phase.CHARGING, Phase.CAR_DEMAND, Phase.WAITING})
