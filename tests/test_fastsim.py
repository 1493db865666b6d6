"""The fast simulator ranks tuning candidates: it must agree with the real replay it replaces."""

from __future__ import annotations

import pytest

from bench.realistic.compare import GRIDS
from bench.realistic.days import build
from bench.realistic.fastsim import run
from common.config import Config
from controller.policy import PolicySettings
from scc.peers import policy_for
from scc.replay import ReplayOptions, replay
from scc.replay_cli import apply_sets
from sim.profiles import Profile


def _slice(name: str, start_h: float, hours: float) -> Profile:
    day = build(name)
    a, b = int(start_h * 3600), int((start_h + hours) * 3600)
    return Profile(f"{name}-slice", a, day.pv_w[a:b], day.house_w[a:b])


@pytest.mark.parametrize("policy", ["default", "evcc", "seed"])
def test_fastsim_agrees_with_the_replay_on_a_broken_afternoon(policy: str) -> None:
    profile = _slice("jun-broken", 12.5, 2.0)
    config = apply_sets(Config(), GRIDS["3p"])
    real = replay(profile, config, ReplayOptions(policy=policy, keep_series=False)).metrics
    fn, charging = policy_for(policy, config.charging)
    settings = PolicySettings.from_config(charging)
    fast = run(profile, fn, settings, charging.interval_s)
    assert real.ev_kwh > 3  # the slice charges, so the comparison says something
    assert fast.metrics.ev_solar_kwh == pytest.approx(real.ev_solar_kwh, rel=0.03)
    assert fast.metrics.ev_grid_kwh == pytest.approx(real.ev_grid_kwh, rel=0.1, abs=0.05)
    assert abs(fast.metrics.starts - real.starts) <= 1
