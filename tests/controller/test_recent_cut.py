"""The service reads the last seconds of the meter every cycle, and a running car follows the sun
down on them: the window's mean still holds the sun that went, for up to a window, and the car
drew it from the grid all that time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.models import Action
from common.store.sqlite import SqliteStore
from controller.rules import PROBE_LOOK_S
from tests.controller.ctl_helpers import T0, ManualClock, make_loop, minutes, pv_steps, sim_cloud


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "scc.db")
    yield s
    s.close()


def test_a_cloud_halfway_through_the_window_cuts_to_what_the_last_seconds_pay_for(store):
    clock = ManualClock()
    with sim_cloud(clock, paused=True, setpoint_a=16, latency_s=15) as cloud:
        # 8000 W then, from 10 min 30 s, 6000 W of sun (the house takes 450 W): 10 A, then 8 A.
        loop = make_loop(clock, cloud, store, pv_steps((-10, 8000), (10.5, 6000)))
        decisions = loop.run(12)
    adjusts = [(minutes(d.ts), d.target_a) for d in decisions if d.action is Action.ADJUST]
    # At minute 11 the 2 min window is three-quarters sun, 7050 W on average (still 10 A); its
    # last 5 s are not. The window alone cuts to 8 A a minute later.
    assert adjusts == [(11.0, 8)]


class Recording:
    """The store, with the ``since`` of each read of the last seconds noted."""

    def __init__(self, store: SqliteStore) -> None:
        self.store, self.recent_since = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def grid_power_mean(self, window_s, now, since=None):
        if window_s == PROBE_LOOK_S:
            self.recent_since.append((now, since))
        return self.store.grid_power_mean(window_s, now, since)


def test_the_last_seconds_count_from_the_settle_point_and_only_for_a_running_car(store):
    """A cut must not act on readings from before a command took effect (the car still drew
    the old current then): outside a start that measures the car, the read starts at the settle
    point, as the settled window does."""
    clock = ManualClock()
    recording = Recording(store)
    with sim_cloud(clock, paused=True, setpoint_a=16, latency_s=15) as cloud:
        loop = make_loop(clock, cloud, recording, pv_steps((-10, 8000), (10.5, 6000)))
        loop.run(12)
    # Nothing is read while the charger is off (minutes 0-2: nothing to cut); from the start at
    # minute 2 on, every read carries the start's settle point (the cut at minute 11 is the next
    # command).
    assert recording.recent_since and all(minutes(now) > 2 for now, _ in recording.recent_since)
    assert {since for _, since in recording.recent_since} == {T0 + timedelta(minutes=2, seconds=30)}
