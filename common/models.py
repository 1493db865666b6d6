"""Typed records that cross process and store boundaries.

Field names carry their units and follow the HomeWizard v1 vocabulary (docs/design.md, "Store
schema"), so a point in SQLite, a point in InfluxDB and a value on the phone page all mean the same
thing. Timestamps are timezone-aware UTC datetimes; anything else is rejected early, because a naive
timestamp silently shifts a window mean by an hour or two.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from typing import cast


def utc(ts: datetime) -> datetime:
    """Return ``ts`` in UTC; naive datetimes are a programming error, not local time."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: timestamps must be timezone-aware UTC")
    return ts.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Mode(enum.StrEnum):
    """What the phone switch selects (docs/design.md, "Modes")."""

    SOLAR = "solar"  # the system is on: charge from surplus only
    MIN_SOLAR = "min_solar"  # at least min current, more with surplus
    MANUAL = "manual"  # the system is off: the charger is handed back once

    @classmethod
    def parse(cls, value: object) -> Mode:
        try:
            return cls(str(value))
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown mode {value!r} (expected one of: {choices})") from None


class Action(enum.StrEnum):
    START = "start"
    STOP = "stop"
    ADJUST = "adjust"
    HOLD = "hold"
    RELEASE = "release"
    NONE = "none"


class Reason(enum.StrEnum):
    """Why a cycle decided what it did: stored with each decision and shown on the page.

    The values are the stored and logged text; the rules that give each one are in
    docs/design.md, "Decision rules".
    """

    MANUAL = "manual"  # manual mode, charger already handed back: leave it alone
    MANUAL_RELEASE = "manual-release"  # manual mode: hand the charger back once
    CHARGER_UNAVAILABLE = "charger-unavailable"  # no status read yet
    NO_CAR = "no-car"
    CHARGER_ERROR = "charger-error"
    CHARGER_LOCKED = "charger-locked"
    CHARGER_UPDATING = "charger-updating"
    CHARGER_UNKNOWN = "charger-unknown"
    CAR_FULL = "car-full"  # on, but the car takes nothing
    STALE = "stale"  # no meter reading in the window
    STORE_UNAVAILABLE = "store-unavailable"  # mode unknown at start, or a store hiccup: hold
    SETTLING = "settling"  # a change is still working through the window
    GRID_STOP = "grid-stop"  # charging without surplus in solar mode: pause at once
    MIN_SOLAR_FLOOR = "min-solar-floor"
    NO_SURPLUS = "no-surplus"
    START_DELAY = "start-delay"
    SURPLUS_START = "surplus-start"
    SURPLUS_ADJUST = "surplus-adjust"
    HOLD = "hold"
    DIP_HOLD_MIN = "dip-hold-min"
    STOP_DELAY = "stop-delay"
    SURPLUS_STOP = "surplus-stop"
    # Min current on a partial surplus, paid for by the session's share budget (controller.share).
    SHARE_START = "share-start"
    SHARE_HOLD = "share-hold"
    READY_PROBE = "ready-probe"  # status Ready with sun: one start, in case a car waits in it
    START_REFUSED = "start-refused"  # the charger stayed on its schedule when asked to start
    SCHEDULE = "schedule"  # the Wallbox app's schedule charges the car: left alone
    # The original scripts' rule, kept as a benchmark baseline (scc.naive).
    NAIVE_BELOW_THRESHOLD = "naive-below-threshold"
    NAIVE_START = "naive-start"
    NAIVE_ADJUST = "naive-adjust"
    # The peers the benchmark compares us with (scc.peers).
    SEED_START = "seed-start"  # the seed rule: surplus covers 0.833 x min current
    SEED_ADJUST = "seed-adjust"
    SEED_STOP = "seed-stop"  # below that threshold: pause at once
    EVCC_ENABLE_TIMER = "evcc-enable-timer"  # evcc PV mode: surplus, waiting out the enable delay
    EVCC_ENABLE = "evcc-enable"
    EVCC_ADJUST = "evcc-adjust"
    EVCC_DISABLE_TIMER = "evcc-disable-timer"  # short: min current while the disable delay runs
    EVCC_DISABLE = "evcc-disable"


class CommandError(enum.StrEnum):
    """Why the charger commands of a decision did not go out (``common.ports`` error codes)."""

    CHARGER_ERROR = "charger-error"
    AUTH_ERROR = "auth-error"
    RATE_LIMITED = "rate-limited"
    UNAVAILABLE = "unavailable"
    STARTING = "starting"
    REFUSED = "refused"  # 403 on a command: OCPP mode or missing rights, not throttling


def encode_reason(reason: Reason, error: CommandError | None) -> str:
    """The stored text: the reason, then ``/`` and the command error when the commands failed."""
    return reason.value if error is None else f"{reason.value}/{error.value}"


def decode_reason(text: str) -> tuple[Reason, CommandError | None]:
    """The inverse of ``encode_reason``; ValueError on text no version of us wrote."""
    reason, _, error = text.partition("/")
    return Reason(reason), CommandError(error) if error else None


# The p1 measurement's fields, in schema order (docs/design.md, "Store schema").
P1_FIELDS: tuple[str, ...] = (
    "active_power_w",
    "active_power_l1_w",
    "active_power_l2_w",
    "active_power_l3_w",
    "active_voltage_l1_v",
    "active_voltage_l2_v",
    "active_voltage_l3_v",
    "active_current_l1_a",
    "active_current_l2_a",
    "active_current_l3_a",
    "total_power_import_kwh",
    "total_power_export_kwh",
    "active_power_average_w",
    "montly_power_peak_w",
)


@dataclass(frozen=True, slots=True)
class Reading:
    """One P1 sample. Every measurement is optional: meters omit what they do not have."""

    ts: datetime
    meter: str = "p1"
    active_power_w: float | None = None
    active_power_l1_w: float | None = None
    active_power_l2_w: float | None = None
    active_power_l3_w: float | None = None
    active_voltage_l1_v: float | None = None
    active_voltage_l2_v: float | None = None
    active_voltage_l3_v: float | None = None
    active_current_l1_a: float | None = None
    active_current_l2_a: float | None = None
    active_current_l3_a: float | None = None
    total_power_import_kwh: float | None = None
    total_power_export_kwh: float | None = None
    active_power_average_w: float | None = None
    montly_power_peak_w: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts))

    def values(self) -> dict[str, float]:
        """The measured fields that are present, as floats."""
        out: dict[str, float] = {}
        for name in P1_FIELDS:
            v = getattr(self, name)
            if v is not None:
                out[name] = float(v)
        return out


#: ``ChargerState.link``: steered through the Wallbox cloud, or locally over OCPP.
LINK_CLOUD = "cloud"
LINK_OCPP = "ocpp"


@dataclass(frozen=True, slots=True)
class ChargerState:
    """What the controller knows of the charger at ``ts``: read, or tracked from its commands."""

    ts: datetime
    charger_id: str
    status_id: int | None
    status: str
    current_a: float | None
    power_w: float | None
    added_energy_kwh: float | None = None
    #: How the charger is reached: ``LINK_CLOUD`` or ``LINK_OCPP`` (None: written before we said).
    link: str | None = None
    #: Its firmware, when it says (OCPP BootNotification).
    firmware: str | None = None
    #: Currents it measured per phase (OCPP MeterValues); None on the cloud.
    current_l1_a: float | None = None
    current_l2_a: float | None = None
    current_l3_a: float | None = None
    #: What the car draws per ampere of setpoint: measured this session, else the config's.
    watts_per_amp: float | None = None
    #: The status's ``config_data.operation_mode``: "wallbox", or "ocpp" (the cloud then refuses
    #: remote actions).
    operation_mode: str | None = None
    #: The commands the cloud refuses this account (403), e.g. "pause,resume"; None: none.
    refused: str | None = None
    #: The charger accepted our limit and does not apply it (some OCPP firmware); None: not
    #: checked (the cloud).
    limit_ignored: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts))
        if self.limit_ignored is not None:  # SQLite keeps it as 0 or 1
            object.__setattr__(self, "limit_ignored", bool(self.limit_ignored))

    @property
    def link_label(self) -> str:
        return "local (OCPP)" if self.link == LINK_OCPP else "Wallbox cloud"

    @property
    def phase_currents(self) -> tuple[float, float, float] | None:
        phases = (self.current_l1_a, self.current_l2_a, self.current_l3_a)
        if any(a is None for a in phases):
            return None
        return (phases[0] or 0.0, phases[1] or 0.0, phases[2] or 0.0)


#: ChargerState's optional number fields (InfluxDB's charger measurement keeps them as floats) and
#: its text fields; ``status_id`` and ``limit_ignored`` have types of their own.
CHARGER_NUMBERS: tuple[str, ...] = (
    "current_a",
    "power_w",
    "added_energy_kwh",
    "current_l1_a",
    "current_l2_a",
    "current_l3_a",
    "watts_per_amp",
)
CHARGER_TEXTS: tuple[str, ...] = ("link", "firmware", "operation_mode", "refused")


@dataclass(frozen=True, slots=True)
class PhaseMeans:
    """Mean P1 powers over a span: the total and per phase (None where the meter has none).

    A command's step in these shows what the car draws per ampere and on which phases
    (docs/design.md, "Surplus arithmetic").
    """

    active_power_w: float | None
    active_power_l1_w: float | None = None
    active_power_l2_w: float | None = None
    active_power_l3_w: float | None = None

    def phases(self) -> tuple[float | None, float | None, float | None]:
        return (self.active_power_l1_w, self.active_power_l2_w, self.active_power_l3_w)


@dataclass(frozen=True, slots=True)
class Decision:
    """One controller cycle's outcome, recorded so a person can see why the car did what it did."""

    ts: datetime
    mode: Mode
    action: Action
    reason: Reason
    target_a: int
    grid_power_mean_w: float | None = None
    surplus_w: float | None = None
    #: Set when the decision's charger commands failed (then ``action`` is NONE).
    command_error: CommandError | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts))
        object.__setattr__(self, "mode", Mode(self.mode))
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "reason", Reason(self.reason))
        if self.command_error is not None:
            object.__setattr__(self, "command_error", CommandError(self.command_error))

    @property
    def stored_reason(self) -> str:
        return encode_reason(self.reason, self.command_error)


@dataclass(frozen=True, slots=True)
class ModeChange:
    ts: datetime
    mode: Mode
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", utc(self.ts))
        object.__setattr__(self, "mode", Mode(self.mode))


@dataclass(frozen=True, slots=True)
class EnergySummary:
    """Energy over a period, integrated from the controller's per-cycle points."""

    ev_kwh: float
    ev_solar_kwh: float
    import_kwh: float | None
    export_kwh: float | None
    starts: int

    @property
    def solar_share(self) -> float | None:
        return self.ev_solar_kwh / self.ev_kwh if self.ev_kwh > 0 else None


@dataclass(frozen=True, slots=True)
class Status:
    """Everything the phone page and ``scc status`` show, in one read."""

    now: datetime
    latest_reading: Reading | None
    grid_power_mean_w: float | None
    window_s: float
    mode: ModeChange | None
    last_decision: Decision | None
    charger: ChargerState | None
    today: EnergySummary | None

    def to_json(self) -> dict[str, object]:
        return cast(dict[str, object], to_jsonable(self))


def to_jsonable(obj: object) -> object:
    """Dataclasses, enums and datetimes as plain JSON values (ISO 8601 UTC with 'Z')."""
    if isinstance(obj, enum.Enum):
        return obj.value
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, datetime):
        return utc(obj).isoformat().replace("+00:00", "Z")
    if isinstance(obj, EnergySummary):
        return {
            "ev_kwh": obj.ev_kwh,
            "ev_solar_kwh": obj.ev_solar_kwh,
            "solar_share": obj.solar_share,
            "import_kwh": obj.import_kwh,
            "export_kwh": obj.export_kwh,
            "starts": obj.starts,
        }
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    raise TypeError(f"cannot serialise {type(obj).__name__}")
