"""Issue 13's speed criterion, closed loop: with a 5 s cycle, a 10 s window, a 15 s stop delay and a
charger that follows in 2 s, the car is paused within 50 s after the sun goes, whatever current it
had and however fast the sun goes. The real controller, adapter and simulated cloud (scc replay)."""

from __future__ import annotations

import pytest

from common.config import Config
from scc.replay import ReplayOptions, replay
from scc.replay_cli import apply_sets
from sim.profiles import Profile

SUNNY_S = 900
FAST = (
    "charging.interval_s=5",
    "charging.window_s=10",
    "charging.stop_delay_s=15",
    "charging.start_delay_s=60",
)


def _sun_goes(pv_w: float, after_w: float, ramp_s: int, offset_s: int) -> Profile:
    sunny = SUNNY_S + offset_s
    ramp = [pv_w + (after_w - pv_w) * (k + 1) / ramp_s for k in range(ramp_s)]
    pv = [pv_w] * sunny + ramp + [after_w] * 300
    return Profile("sun-goes", 0, tuple(pv), tuple([300.0] * len(pv)))


@pytest.mark.parametrize(
    ("pv_w", "after_w", "ramp_s", "offset_s"),
    [
        (5000.0, 0.0, 1, 0),  # charging at 6 A: no command before the pause
        (7000.0, 0.0, 1, 2),  # 9 A: down to 6 A first, then the pause
        (12000.0, 2000.0, 20, 4),  # 16 A, a 20 s ramp to a sky that still gives 2 kW
        (12000.0, 0.0, 1, 3),
    ],
)
def test_a_pause_follows_within_50_s_after_the_sun_goes(
    pv_w: float, after_w: float, ramp_s: int, offset_s: int
) -> None:
    profile = _sun_goes(pv_w, after_w, ramp_s, offset_s)
    config = apply_sets(Config(), FAST)
    result = replay(profile, config, ReplayOptions(latency_s=2.0))
    assert result.series is not None
    ev = result.series.ev_w
    gone = SUNNY_S + offset_s
    assert ev[gone - 1] > 0  # it was charging when the sun went
    paused = next(i for i in range(gone, len(ev)) if ev[i] == 0)
    assert paused - gone <= 50
    assert all(e == 0 for e in ev[paused:])  # and stays paused
