"""When a command showed in the meter (controller.step): the grid's step in its 1 s readings.

Each row is a short series of 1 s grid readings around a command sent at second 0, the step the
command should make, and the second the readings count as settled from (None: not found, the
settle time stands).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from common.store.base import PowerPoint
from controller.state import PolicyState
from controller.step import (
    LATENCY_MARGIN_S,
    GridSeries,
    find_step,
    grid_series,
    pending_step,
    settle_after,
    settle_at_step,
)

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
START_W = 4157.0  # 6 A on 3 x 400 V

#: Exporting 5 kW with a faint shimmer, before the command.
BEFORE = [-5000.0, -5010.0, -4990.0, -5005.0, -4995.0]


def series(values: list[float | None], first_s: int = -5) -> GridSeries:
    return GridSeries(T0 + timedelta(seconds=first_s), tuple(values))


def after(*values: float | None) -> list[float | None]:
    return [*BEFORE, *values]


FLAT = [-5000.0] * 15
STARTED = [v + START_W for v in FLAT]


@pytest.mark.parametrize(
    ("readings", "step_w", "settled_s"),
    [
        # The car starts 15 s after the command, at once: settled from that second.
        (after(*FLAT[:15], *STARTED[:6]), START_W, 15),
        # It ramps over two seconds: settled once it is there.
        (after(*FLAT[:15], -3600.0, -2200.0, *STARTED[:6]), START_W, 17),
        # A pause: the grid steps down by the car's draw.
        (after(*STARTED[:15], *FLAT[:6]), -START_W, 15),
        # A cloud edge ramps over five seconds: not the charger, wait for the settle time.
        (
            after(*FLAT[:15], -4200.0, -3400.0, -2600.0, -1800.0, -1000.0, *STARTED[:6]),
            START_W,
            None,
        ),
        # Half the expected step (a 1-phase car behind a 3-phase config): not this command.
        (after(*FLAT[:15], *[v - START_W / 2 for v in STARTED[:6]]), START_W, None),
        # Only two seconds after the step so far: not sure yet.
        (after(*FLAT[:15], *STARTED[:2]), START_W, None),
        # A kettle the size of the step 5 s in and the car at 15 s: two fits, trust neither.
        (
            after(
                *FLAT[:5], *[v + START_W for v in FLAT[:10]], *[v + 2 * START_W for v in FLAT[:6]]
            ),
            START_W,
            None,
        ),
        # Readings missing around the step: no guess.
        (after(*FLAT[:13], None, None, None, None, None, *STARTED[:6]), START_W, None),
        # One missing inside the ramp's seconds does not matter.
        (after(*FLAT[:14], None, *STARTED[:6]), START_W, 15),
        # Before the command could show (under a second after it): not its step.
        (after(*STARTED[:10]), START_W, None),
        # Too small to tell from the house (1 A on one phase).
        (after(*FLAT[:15], *[v + 230.0 for v in FLAT[:6]]), 230.0, None),
    ],
    ids=[
        "instant",
        "ramp-2s",
        "pause",
        "cloud-edge",
        "half-size",
        "too-early-to-tell",
        "two-fits",
        "missing-readings",
        "missing-in-ramp",
        "before-latency",
        "too-small",
    ],
)
def test_the_step_is_found_only_where_it_is_unmistakable(readings, step_w, settled_s):
    got = find_step(series(readings), T0, step_w)
    assert got == (None if settled_s is None else T0 + timedelta(seconds=settled_s))


def test_a_found_step_settles_the_state_and_records_the_latency():
    state = PolicyState(last_command_at=T0, settled_from=T0 + timedelta(seconds=30), step_w=START_W)
    now = T0 + timedelta(seconds=22)
    assert pending_step(state, now) == T0
    got = settle_at_step(state, series(after(*FLAT[:15], *STARTED[:6])), now)
    assert got.settled_from == T0 + timedelta(seconds=15)
    assert (got.step_w, got.latencies_s) == (None, (15.0,))
    assert pending_step(got, now) is None
    # Nothing is looked for once the settle time has passed.
    late = T0 + timedelta(seconds=31)
    assert settle_at_step(state, series(after(*FLAT[:15], *STARTED[:6])), late) == state


def test_only_the_last_latencies_are_kept():
    state = PolicyState(
        last_command_at=T0,
        settled_from=T0 + timedelta(seconds=30),
        step_w=START_W,
        latencies_s=(12.0, 25.0, 14.0),
    )
    got = settle_at_step(state, series(after(*FLAT[:15], *STARTED[:6])), T0 + timedelta(seconds=22))
    assert got.latencies_s == (25.0, 14.0, 15.0)


@pytest.mark.parametrize(
    ("step_w", "latencies_s", "settle_s"),
    [
        (START_W, (15.0,), 30.0),  # big enough to look for: the step or the whole settle time
        (230.0, (), 30.0),  # small, and no latency seen yet
        (230.0, (15.0, 12.0), 15.0 + LATENCY_MARGIN_S),  # small: the longest latency seen
        (-230.0, (29.5,), 30.0),  # never more than the settle time
        (None, (15.0,), 30.0),  # a command on top of one not shown yet
    ],
)
def test_a_step_too_small_to_see_waits_for_the_latency_seen(step_w, latencies_s, settle_s):
    state = replace(PolicyState(), latencies_s=latencies_s)
    assert settle_after(state, step_w, 30.0) == settle_s


def test_the_series_is_built_from_the_stores_buckets():
    points = [
        PowerPoint(T0, grid_power_w=100.0),
        PowerPoint(T0 + timedelta(seconds=2), grid_power_w=300.0),
        PowerPoint(T0 + timedelta(seconds=3)),  # a bucket with only the car's power
        PowerPoint(T0 + timedelta(seconds=9), grid_power_w=900.0),  # past the end
    ]
    got = grid_series(points, T0, T0 + timedelta(seconds=4))
    assert got.values_w == (100.0, None, 300.0, None)
    assert got.index(T0 + timedelta(seconds=1.5)) == 2 and got.at(2) == T0 + timedelta(seconds=2)
