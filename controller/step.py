"""When our last command showed in the meter: the grid's step, found in its 1 s readings.

A command reaches the car after the cloud passed it on (10-30 s) or the charge point applied it
(a few seconds), and the car ramps within a second or two. Until it shows, the window mixes
readings with the old draw and the new, so the rules wait for a settle time that covers the
slowest case (``PolicySettings.settle_s``). The meter says sooner: the grid jumps by the draw's
change, at once, where a cloud edge ramps over seconds and a house load seldom matches the size.
``settle_at_step`` moves ``settled_from`` to the first second after that jump; a jump it cannot
tell apart from another (two fit, or none) leaves the settle time as it was (docs/design.md,
"The settle rule").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from common.store.base import PowerPoint
from controller.state import PolicyState

#: Seconds of readings either side of a step that must hold still.
SIDE_S = 3
#: Seconds a car may take to ramp to its new draw (the readings between the two sides).
RAMP_S = 2
#: A jump counts as the command's when it is within this share of the expected size.
TOLERANCE = 0.3
#: Each side holds still within this share of the step (a cloud edge that ramps over more than
#: ``RAMP_S`` moves within a side), or this many watts for a small step (a fridge's shimmer).
STILL_SHARE = 0.1
STILL_MIN_W = 100.0
#: Smaller steps are not looked for: house loads move that much on their own.
MIN_STEP_W = 500.0
#: A command shows in the meter no sooner than this after it went out.
MIN_LATENCY_S = 1.0
#: The latencies of this many last steps found are kept; the longest of them is expected next.
LATENCIES = 3
#: Seconds added to the expected latency for a step too small to look for.
LATENCY_MARGIN_S = 2.0


@dataclass(frozen=True, slots=True)
class GridSeries:
    """The meter's grid power second by second: ``values_w[k]`` is the mean over the second that
    starts ``k`` seconds after ``start`` (positive: import); None where no reading came."""

    start: datetime
    values_w: tuple[float | None, ...]

    def index(self, t: datetime) -> int:
        """The first second that starts at or after ``t`` (may lie outside the series)."""
        return math.ceil((t - self.start).total_seconds() - 1e-6)

    def at(self, k: int) -> datetime:
        return self.start + timedelta(seconds=k)


def grid_series(points: Sequence[PowerPoint], start: datetime, stop: datetime) -> GridSeries:
    """The series from the store's 1 s buckets (``Store.power_series``) over [start, stop)."""
    n = max(math.ceil((stop - start).total_seconds() - 1e-6), 0)
    values: list[float | None] = [None] * n
    for p in points:
        k = round((p.ts - start).total_seconds())
        if 0 <= k < n and p.grid_power_w is not None:
            values[k] = p.grid_power_w
    return GridSeries(start, tuple(values))


def series_start(sent_at: datetime) -> datetime:
    """Where the readings a step is looked for begin: a side's length before the command."""
    return sent_at - timedelta(seconds=SIDE_S + 1)


def pending_step(state: PolicyState, now: datetime) -> datetime | None:
    """When the command whose step is looked for went out (None: none is)."""
    if state.step_w is None or state.last_command_at is None or state.settled_from is None:
        return None
    return state.last_command_at if state.settled_from > now else None


def settle_at_step(state: PolicyState, series: GridSeries | None, now: datetime) -> PolicyState:
    """The state with ``settled_from`` at the step when the readings show it."""
    sent_at = pending_step(state, now)
    if sent_at is None or series is None or state.step_w is None:
        return state
    at = find_step(series, sent_at, state.step_w)
    if at is None or at > now:
        return state
    latency_s = (at - sent_at).total_seconds()
    return replace(
        state,
        settled_from=at,
        step_w=None,
        latencies_s=(*state.latencies_s[-(LATENCIES - 1) :], latency_s),
    )


def settle_after(state: PolicyState, step_w: float | None, settle_s: float) -> float:
    """How long after a command its readings are settled, unless its step shows sooner. A step
    big enough to look for waits for the step or the whole settle time, and so does a command on
    top of one that has not shown yet (the meter shows both; settling those at the latency seen
    lost 3 points of solar share on a mixed October day). One too small to look for (1 A on one
    phase) waits for the latency the last steps showed, and a little more: reading a second
    early costs at most that step."""
    if step_w is None or abs(step_w) >= MIN_STEP_W:
        return settle_s
    latency_s = expected_latency_s(state)
    return settle_s if latency_s is None else min(latency_s, settle_s)


def expected_latency_s(state: PolicyState) -> float | None:
    """How long a command takes to show, from the last steps found (None: none found yet)."""
    if not state.latencies_s:
        return None
    return max(state.latencies_s) + LATENCY_MARGIN_S


def find_step(series: GridSeries, sent_at: datetime, step_w: float) -> datetime | None:
    """The first second after the grid jumped by about ``step_w`` since ``sent_at``; None when
    not (yet), or when jumps far apart both fit (a cloud edge beside the command)."""
    if abs(step_w) < MIN_STEP_W:
        return None
    v = series.values_w
    first = max(series.index(sent_at + timedelta(seconds=MIN_LATENCY_S)), SIDE_S)
    fits = [
        k for k in range(first, len(v) - RAMP_S - SIDE_S + 1) if _jumps(v, k, step_w) is not None
    ]
    if not fits or fits[-1] - fits[0] > RAMP_S + SIDE_S:
        return None
    return series.at(fits[0] + RAMP_S)


def _jumps(v: tuple[float | None, ...], k: int, step_w: float) -> float | None:
    """How far the jump between the side before second ``k`` and the side after the ramp is
    from ``step_w``; None when a side moves or the jump does not fit."""
    before = _still(v[k - SIDE_S : k], step_w)
    after = _still(v[k + RAMP_S : k + RAMP_S + SIDE_S], step_w)
    if before is None or after is None:
        return None
    miss = abs(after - before - step_w)
    return miss if miss <= TOLERANCE * abs(step_w) else None


def _still(values: tuple[float | None, ...], step_w: float) -> float | None:
    """The mean of readings that hold still; None when they do not, or one is missing."""
    got = [x for x in values if x is not None]
    still_w = max(STILL_SHARE * abs(step_w), STILL_MIN_W)
    if len(got) < len(values) or not got or max(got) - min(got) > still_w:
        return None
    return sum(got) / len(got)
