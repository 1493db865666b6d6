"""What a charge point measures (OCPP 1.6 MeterValues), read into one typed sample, and which
samples to believe.

Pure functions on plain data, so every rule is tested without a socket. The Pulsar reports
values as strings, with units (W or kW, Wh or kWh, A), per phase for the currents; a value we
cannot read is skipped, never guessed. Whether a sample is news: chargers replay what they
buffered while offline after a reconnect, sometimes tens of minutes late, and a firmware update
has shown transaction ids nobody issued. So a sample counts only when it is newer than the last
one accepted and not older than ``max_age_s`` by our clock; the rest are dropped and counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

#: Phases in the order we keep them; the Pulsar names them "L1" (currents) or "L1-N" (voltages).
PHASES = ("L1", "L2", "L3")
#: What a sampled value without a measurand is (the OCPP 1.6 default).
_DEFAULT_MEASURAND = "Energy.Active.Import.Register"
_SCALE = {"W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0, "A": 1.0, "V": 1.0}


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One MeterValue: what the charger measured at ``taken_at`` (its own clock)."""

    taken_at: datetime
    power_w: float | None = None
    #: Currents drawn per phase (L1, L2, L3); a phase the charger did not report counts 0.
    current_a: tuple[float, ...] | None = None
    energy_wh: float | None = None
    offered_a: float | None = None
    voltage_v: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """A sample and when it reached us (our clock, which the freshness rules use)."""

    sample: MeterSample
    received_at: datetime


def parse_time(text: str) -> datetime:
    """An OCPP timestamp (ISO 8601, ``Z`` or an offset; naive means UTC) as aware UTC."""
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def format_time(ts: datetime) -> str:
    """Whole seconds with ``Z``: what the Pulsar sends and so surely reads."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(sv: Mapping[str, Any]) -> float | None:
    try:
        v = float(sv["value"]) * _SCALE.get(str(sv.get("unit") or ""), 1.0)
    except (KeyError, TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _phase_index(sv: Mapping[str, Any]) -> int | None:
    name = str(sv.get("phase") or "")
    for i, p in enumerate(PHASES):
        if name.startswith(p):  # "L1", "L1-N"
            return i
    return None


def _per_phase(values: dict[int, float]) -> tuple[float, ...] | None:
    if not values:
        return None
    return tuple(values.get(i, 0.0) for i in range(len(PHASES)))


def parse_meter_value(mv: Mapping[str, Any]) -> MeterSample | None:
    """One ``meterValue`` entry (snake_case keys, as the ``ocpp`` package hands them to us);
    None when its timestamp is unreadable."""
    try:
        taken_at = parse_time(str(mv["timestamp"]))
    except (KeyError, ValueError):
        return None
    whole: dict[str, float] = {}
    phased: dict[str, dict[int, float]] = {}
    for sv in mv.get("sampled_value") or ():
        value = _number(sv)
        if value is None:
            continue
        measurand = str(sv.get("measurand") or _DEFAULT_MEASURAND)
        phase = _phase_index(sv)
        if phase is None:
            whole[measurand] = value
        else:
            phased.setdefault(measurand, {})[phase] = value
    current = _per_phase(phased.get("Current.Import", {}))
    if current is None and "Current.Import" in whole:
        current = (whole["Current.Import"], 0.0, 0.0)
    offered = whole.get("Current.Offered")
    if offered is None and phased.get("Current.Offered"):
        offered = max(phased["Current.Offered"].values())
    return MeterSample(
        taken_at=taken_at,
        power_w=whole.get("Power.Active.Import"),
        current_a=current,
        energy_wh=whole.get("Energy.Active.Import.Register"),
        offered_a=offered,
        voltage_v=_per_phase(phased.get("Voltage", {})),
    )


def parse_meter_values(meter_value: Iterable[Mapping[str, Any]]) -> list[MeterSample]:
    """Every readable entry of a MeterValues request, oldest first."""
    samples = [s for mv in meter_value if (s := parse_meter_value(mv)) is not None]
    return sorted(samples, key=lambda s: s.taken_at)


def is_news(
    sample: MeterSample, last: MeterSample | None, received_at: datetime, max_age_s: float
) -> bool:
    """Newer than the last accepted sample, and not a replay from long ago."""
    if last is not None and sample.taken_at <= last.taken_at:
        return False
    return sample.taken_at >= received_at - timedelta(seconds=max_age_s)


def limit_ignored(limit_a: int, sample: MeterSample, tolerance_a: float = 1.0) -> bool | None:
    """Whether a sample taken after a limit had time to apply shows the charger ignoring it.

    A draw above the limit on any phase says so, and so does Current.Offered above it (the car
    may take less than it is offered). Below the limit is not ignoring it: the installation or
    the car may allow less. For 0 A only the draw counts, as some firmware keeps reporting its
    old offer after pausing. None when the sample cannot tell.
    """
    over = limit_a + tolerance_a
    drawing_over = None if sample.current_a is None else max(sample.current_a) > over
    offering_over = None
    if limit_a > 0 and sample.offered_a is not None:
        offering_over = sample.offered_a > over
    if drawing_over is None and offering_over is None:
        return None
    return bool(drawing_over) or bool(offering_over)
