"""The service reads the last seconds of the meter every cycle, and a running car follows the sun
down on them: the window's mean still holds the sun that went, for up to a window, and the car
drew it from the grid all that time."""

from __future__ import annotations

import pytest

from common.models import Action
from common.store.sqlite import SqliteStore
from tests.controller.ctl_helpers import ManualClock, make_loop, minutes, pv_steps, sim_cloud


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
