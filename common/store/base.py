"""The store contract every component talks through (docs/design.md, "Data flow").

Two backends implement it with the same semantics: SQLite (embedded default) and InfluxDB 2. Points
are keyed by series and timestamp, so writing the same point twice stores it once, as InfluxDB does.

Store errors::

    StoreError          the store could not be reached or failed: retry later (the data waits)
    +-- StoreRefused    the store answered and refuses these points for good (older than its
    |                   retention, say): retrying the same points would fail the same way
    +-- UnreadableRow   the store answered, but its newest row holds a value no version of us
                        wrote: asking again will not help
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from common.models import (
    ChargerState,
    Decision,
    EnergySummary,
    Mode,
    ModeChange,
    PhaseMeans,
    Reading,
    Status,
)

#: A charger point counts for at most this long: two default controller intervals and a half. A
#: longer gap means the controller was down, and its last draw must not keep adding kWh.
MAX_STEP_S = 150.0


#: Buckets of ``Store.power_series`` start at whole multiples of the step since this instant.
SERIES_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PowerPoint:
    """One bucket of ``Store.power_series``: means over [ts, ts + step); None where the bucket
    holds no value of that kind."""

    ts: datetime
    #: The P1 meter's ``active_power_w`` (positive: importing).
    grid_power_w: float | None = None
    #: The charger's ``power_w``, as the controller recorded it each cycle.
    ev_power_w: float | None = None
    #: The controller's ``surplus_w`` of its decisions (docs/design.md, "Surplus arithmetic").
    surplus_w: float | None = None


def series_start(start: datetime, step_s: float) -> datetime:
    """``start`` rounded down to a bucket start; ValueError for a step under a second."""
    if not step_s >= 1:
        raise ValueError(f"a series step must be at least 1 s, got {step_s!r}")
    step = timedelta(seconds=step_s)
    return SERIES_EPOCH + (start - SERIES_EPOCH) // step * step


def merge_series(buckets: Mapping[datetime, Mapping[str, float]]) -> list[PowerPoint]:
    """Per-bucket values by PowerPoint field name, as points in time order."""
    return [PowerPoint(ts=ts, **buckets[ts]) for ts in sorted(buckets)]


class StoreError(Exception):
    """The store could not be reached or refused the request; callers retry or spool."""


class StoreRefused(StoreError):
    """The store refuses (some of) these points for good; ``all_refused`` when it said it kept
    none of them, so that a caller need not split the batch to find the ones it refuses."""

    def __init__(self, message: str, all_refused: bool = False) -> None:
        super().__init__(message)
        self.all_refused = all_refused


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What ``scc status`` says about the store itself."""

    where: str  # "SQLite scc.db", "InfluxDB http://influxdb:8086, bucket solar"
    size_bytes: int | None  # None: the store does not tell
    oldest_reading: datetime | None  # 1 s or rolled up
    newest_reading: datetime | None
    #: From here on readings are kept at 1 s; before, as 1-minute means. None: all at 1 s.
    raw_since: datetime | None
    retention: str  # one line: what is kept for how long


class UnreadableRow(StoreError):
    """The store answered, but its newest row holds a value no version of us wrote (a mode
    another tool set to "off", say). Asking again will not help: it is a fact to report once."""


@contextmanager
def stored_row(where: str) -> Iterator[None]:
    """Turn a row that does not parse (a mode another tool wrote, say) into an UnreadableRow.

    Callers handle StoreError (the controller keeps its last mode, the page shows the error);
    a bare ValueError would instead end every controller cycle in a crash.
    """
    try:
        yield
    except (ValueError, TypeError, KeyError) as e:
        raise UnreadableRow(f"{where}: unreadable stored value: {e}") from e


def mode_stamp(now: datetime, newest: datetime | None) -> datetime:
    """When to stamp a new mode: now, or just after the newest row if that one is dated later
    (written while the clock was ahead), so the newest row is always the last switch."""
    if newest is not None and newest >= now:
        return newest + timedelta(milliseconds=1)
    return now


@runtime_checkable
class Store(Protocol):
    def write_readings(self, readings: Sequence[Reading]) -> None:
        """Write a batch of P1 readings; raises StoreError when nothing was written."""

    def grid_power_mean(
        self, window_s: float, now: datetime, since: datetime | None = None
    ) -> float | None:
        """Mean ``active_power_w`` over [max(now - window_s, since), now); None when no reading."""

    def grid_phase_means(
        self, window_s: float, now: datetime, since: datetime | None = None
    ) -> PhaseMeans | None:
        """Like ``grid_power_mean``, for the total and each phase's power; None: no reading."""

    def latest_reading(self, now: datetime) -> Reading | None:
        """The newest reading at or before ``now``."""

    def write_charger_state(self, state: ChargerState) -> None: ...

    def write_decision(self, decision: Decision) -> None: ...

    def set_mode(self, mode: Mode, source: str, now: datetime) -> ModeChange:
        """Record a switch, stamped ``mode_stamp(now, newest)``: never before the newest row."""

    def get_mode(self) -> ModeChange | None:
        """The last mode set, or None when nobody has set one (callers default to solar)."""

    def last_decision(self) -> Decision | None: ...

    def last_charger_state(self) -> ChargerState | None: ...

    def energy_summary(self, start: datetime, stop: datetime) -> EnergySummary:
        """EV energy, its solar part, grid import/export and starts between start and stop."""

    def prune(self, now: datetime, budget_s: float) -> bool:
        """Apply the retention for ``now``, for about ``budget_s`` at most; True when work is left.

        The collector's writer calls it between writes. SQLite rolls 1 s readings older than
        ``store.raw_days`` up into 1-minute means and drops what is older than
        ``store.rollup_days``; InfluxDB applies its bucket's own retention, so there it does
        nothing. Readings and the mode stay readable as the contract says, across the boundary.
        """

    def info(self, now: datetime) -> StoreInfo:
        """Where the store is, its size and the span of readings it holds."""

    def power_series(self, start: datetime, stop: datetime, step_s: float) -> list[PowerPoint]:
        """Grid power, the car's draw and the controller's surplus as means per ``step_s`` over
        [start, stop), for a chart: buckets start at whole steps since the Unix epoch (``start``
        rounds down to one, ``series_start``), come in time order, and a bucket without any value
        is left out. Downsampled in the store, so an hour is some 60 points, not 3 600."""

    def close(self) -> None: ...


def integrate_energy(
    samples: Sequence[tuple[datetime, float, float | None]], stop: datetime
) -> tuple[float, float]:
    """Integrate (ts, ev_power_w, surplus_w) steps into (ev_kwh, ev_solar_kwh).

    Each sample holds until the next one (or ``stop``), at most MAX_STEP_S. The solar part of the
    EV's draw is what the surplus covered: min(ev, max(0, surplus)), as in docs/design.md, "Replay
    and benchmarks".
    """
    ev_j = solar_j = 0.0
    for i, (ts, ev_w, surplus_w) in enumerate(samples):
        end = samples[i + 1][0] if i + 1 < len(samples) else stop
        dt = min(max((end - ts).total_seconds(), 0.0), MAX_STEP_S)
        ev = max(ev_w, 0.0)
        ev_j += ev * dt
        if surplus_w is not None:
            solar_j += min(ev, max(0.0, surplus_w)) * dt
    return ev_j / 3.6e6, solar_j / 3.6e6


def build_status(store: Store, now: datetime, window_s: float, day_start: datetime) -> Status:
    """One consistent picture for the phone page and ``scc status``."""
    return Status(
        now=now,
        latest_reading=store.latest_reading(now),
        grid_power_mean_w=store.grid_power_mean(window_s, now),
        window_s=window_s,
        mode=store.get_mode(),
        last_decision=store.last_decision(),
        charger=store.last_charger_state(),
        today=store.energy_summary(day_start, now),
    )
