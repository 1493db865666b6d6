"""Scoring a day: the energy balance and the "perfect tracking" limit (docs/design.md, "Replay and
benchmarks").

Pure functions over per-second power series, so a replay, a benchmark and a test compute the
same numbers the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

J_PER_KWH = 3.6e6


@dataclass(frozen=True, slots=True)
class DayMetrics:
    pv_kwh: float
    house_kwh: float
    ev_kwh: float
    ev_solar_kwh: float
    ev_grid_kwh: float
    import_kwh: float
    export_kwh: float
    surplus_kwh: float
    solar_share: float | None
    starts: int = 0
    stops: int = 0
    current_changes: int = 0
    charger_writes: int = 0
    charger_reads: int = 0
    rate_limited: int = 0

    def to_json(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def energy_balance(
    pv_w: Sequence[float], house_w: Sequence[float], ev_w: Sequence[float], step_s: float = 1.0
) -> DayMetrics:
    """Integrate one sample per ``step_s``: grid = house + ev - pv (positive = import)."""
    pv = house = ev = ev_solar = imp = exp = surplus = 0.0
    for p, h, e in zip(pv_w, house_w, ev_w, strict=True):
        s = max(0.0, p - h)
        grid = h + e - p
        pv += p
        house += h
        ev += e
        ev_solar += min(e, s)
        surplus += s
        if grid > 0:
            imp += grid
        else:
            exp -= grid
    k = step_s / J_PER_KWH
    return DayMetrics(
        pv_kwh=pv * k,
        house_kwh=house * k,
        ev_kwh=ev * k,
        ev_solar_kwh=ev_solar * k,
        ev_grid_kwh=(ev - ev_solar) * k,
        import_kwh=imp * k,
        export_kwh=exp * k,
        surplus_kwh=surplus * k,
        solar_share=(ev_solar / ev) if ev > 0 else None,
    )


def perfect_tracking_ev_w(
    pv_w: Sequence[float],
    house_w: Sequence[float],
    watts_per_amp: float,
    min_current_a: int,
    max_current_a: int,
) -> list[float]:
    """The limit: whole amps of instantaneous surplus within [min, max], no delay, no rate limit."""
    out = []
    for p, h in zip(pv_w, house_w, strict=True):
        a = math.floor(max(0.0, p - h) / watts_per_amp)
        out.append(0.0 if a < min_current_a else min(a, max_current_a) * watts_per_amp)
    return out


def count_sessions(ev_w: Sequence[float]) -> tuple[int, int]:
    """(starts, stops) of charging seen in a power series."""
    starts = stops = 0
    on = False
    for e in ev_w:
        if e > 0 and not on:
            starts += 1
            on = True
        elif e <= 0 and on:
            stops += 1
            on = False
    return starts, stops
