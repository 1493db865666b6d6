"""The two peers the benchmark measures us against, as policies of ``controller.policy``'s shape.

They run through the same Controller, store, Wallbox adapter and simulated cloud as ours (the
replay's ``--policy seed`` and ``--policy evcc``); only the decision differs. Each peer also
fixes its own cadence and window (``PEER_CHARGING``), which the replay applies to the config.

``seed``: the rule a solar-charging script typically starts from. Every 60 s, the mean grid power
over the last 120 s; surplus = the charger's draw - that mean; charge while the surplus covers
0.833 x min current (at 690 W/A and 6 A: 3450 W), at floor(surplus / W per A) clamped to
min..max; pause as soon as it does not. No delays.

``evcc``: evcc's PV mode with its default thresholds and delays, as its loadpoint decides it.
Every 30 s, the instantaneous grid power (here: the mean of the last 5 s of readings). The target
is the current the charger draws plus what the grid exports, in amps, truncated to whole amps.
Off: once the target covers min current, an enable timer starts; after 60 s of it the charger is
enabled at min current (a target that falls short resets the timer). On: the target, up to max
current; below min current while importing, min current is held and a disable timer starts; after
180 s of it the charger is disabled (a cycle at or above min current, or exporting, resets it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from common.config import ChargingConfig
from common.models import Action, Decision, Reason
from common.snapshot import ChargerSnapshot
from controller.policy import (
    NOT_CONTROLLABLE,
    Policy,
    PolicyInputs,
    PolicySettings,
    PolicyState,
    decide,
)
from controller.rules import TIMER_SLACK_S
from scc.naive import NAIVE_INTERVAL_S, NAIVE_WINDOW_S, decide_naive

#: The seed rule charges while the surplus covers this share of min current.
SEED_START_SHARE = 0.833


@dataclass(frozen=True, slots=True)
class PeerTiming:
    """The cadence, window and delays a peer runs with (its ``charging`` settings)."""

    interval_s: float
    window_s: float
    start_delay_s: float
    stop_delay_s: float

    def apply(self, c: ChargingConfig) -> ChargingConfig:
        return replace(
            c,
            interval_s=self.interval_s,
            window_s=self.window_s,
            start_delay_s=self.start_delay_s,
            stop_delay_s=self.stop_delay_s,
        )


PEER_CHARGING: dict[str, PeerTiming] = {
    "seed": PeerTiming(interval_s=60.0, window_s=120.0, start_delay_s=0.0, stop_delay_s=0.0),
    "evcc": PeerTiming(interval_s=30.0, window_s=5.0, start_delay_s=60.0, stop_delay_s=180.0),
}
_EPS = 1e-6


def _decision(
    inputs: PolicyInputs, now: datetime, action: Action, reason: Reason, target_a: int, **kw: Any
) -> Decision:
    return Decision(
        ts=now,
        mode=inputs.mode,
        action=action,
        reason=reason,
        target_a=target_a,
        grid_power_mean_w=inputs.grid_power_mean_w,
        **kw,
    )


def _not_steerable(inputs: PolicyInputs, now: datetime) -> Decision | None:
    """The cases every peer handles alike: no charger, nothing to steer, no data."""
    ch = inputs.charger
    if ch is None:
        return _decision(inputs, now, Action.NONE, Reason.CHARGER_UNAVAILABLE, 0)
    if ch.phase in NOT_CONTROLLABLE:
        return _decision(inputs, now, Action.NONE, NOT_CONTROLLABLE[ch.phase], 0)
    if inputs.grid_power_mean_w is None:  # no peer charges from the grid on missing data
        action = Action.STOP if ch.enabled else Action.NONE
        return _decision(inputs, now, action, Reason.STALE, 0)
    return None


def _toward(ch: ChargerSnapshot, target_a: int) -> Action:
    if not ch.enabled:
        return Action.START
    return Action.ADJUST if ch.setpoint_a != target_a else Action.HOLD


def decide_seed(
    inputs: PolicyInputs, state: PolicyState, settings: PolicySettings, now: datetime
) -> tuple[Decision, PolicyState]:
    state = replace(state, mode=inputs.mode)
    early = _not_steerable(inputs, now)
    if early is not None:
        return early, state
    ch, mean_w = inputs.charger, inputs.grid_power_mean_w
    assert ch is not None and mean_w is not None
    s = settings
    surplus_w = ch.power_w - mean_w
    if surplus_w < SEED_START_SHARE * s.min_current_a * s.watts_per_amp:
        action = Action.STOP if ch.enabled else Action.NONE
        reason = Reason.SEED_STOP if ch.enabled else Reason.NO_SURPLUS
        return _decision(inputs, now, action, reason, 0, surplus_w=surplus_w), state
    target = min(s.clamp(s.target_a(surplus_w)), s.max_a(ch))
    action = _toward(ch, target)
    reason = {
        Action.START: Reason.SEED_START,
        Action.ADJUST: Reason.SEED_ADJUST,
        Action.HOLD: Reason.HOLD,
    }[action]
    return _decision(inputs, now, action, reason, target, surplus_w=surplus_w), state


def _elapsed(since: datetime | None, now: datetime) -> float:
    return 0.0 if since is None else (now - since).total_seconds()


def decide_evcc(
    inputs: PolicyInputs, state: PolicyState, settings: PolicySettings, now: datetime
) -> tuple[Decision, PolicyState]:
    state = replace(state, mode=inputs.mode)
    early = _not_steerable(inputs, now)
    if early is not None:
        return early, replace(state, surplus_since=None, short_since=None)
    ch, grid_w = inputs.charger, inputs.grid_power_mean_w
    assert ch is not None and grid_w is not None
    s = settings
    drawn_a = ch.power_w / s.watts_per_amp if ch.drawing else 0.0
    target_a = max(drawn_a - grid_w / s.watts_per_amp, 0.0)
    surplus_w = target_a * s.watts_per_amp
    covered = target_a + _EPS >= s.min_current_a

    def out(
        action: Action, reason: Reason, amps: int, st: PolicyState
    ) -> tuple[Decision, PolicyState]:
        return _decision(inputs, now, action, reason, amps, surplus_w=surplus_w), st

    if not ch.enabled:
        if not covered:
            return out(Action.NONE, Reason.NO_SURPLUS, 0, replace(state, surplus_since=None))
        since = state.surplus_since or now
        if _elapsed(since, now) >= s.start_delay_s - TIMER_SLACK_S:
            done = replace(state, surplus_since=None, short_since=None)
            return out(Action.START, Reason.EVCC_ENABLE, s.min_current_a, done)
        return out(Action.NONE, Reason.EVCC_ENABLE_TIMER, 0, replace(state, surplus_since=since))
    if covered:
        amps = min(math.floor(target_a + _EPS), s.max_a(ch))
        action = _toward(ch, amps)
        reason = Reason.HOLD if action is Action.HOLD else Reason.EVCC_ADJUST
        return out(action, reason, amps, replace(state, short_since=None))
    if grid_w < 0:  # exporting although short of min current: evcc resets its disable timer
        return out(
            _toward(ch, s.min_current_a),
            Reason.EVCC_ADJUST,
            s.min_current_a,
            replace(state, short_since=None),
        )
    since = state.short_since or now
    if _elapsed(since, now) >= s.stop_delay_s - TIMER_SLACK_S:
        return out(Action.STOP, Reason.EVCC_DISABLE, 0, replace(state, short_since=None))
    held = replace(state, short_since=since)
    return out(_toward(ch, s.min_current_a), Reason.EVCC_DISABLE_TIMER, s.min_current_a, held)


#: The peers by their ``--policy`` name.
PEERS: dict[str, Policy] = {"seed": decide_seed, "evcc": decide_evcc}


def policy_for(name: str, c: ChargingConfig) -> tuple[Policy, ChargingConfig]:
    """The decision function ``scc replay --policy NAME`` runs, and the charging settings it runs
    with: ours with the config's, the baselines with their own cadence, window and delays."""
    if name == "naive":
        return decide_naive, replace(c, window_s=NAIVE_WINDOW_S, interval_s=NAIVE_INTERVAL_S)
    if name in PEERS:
        return PEERS[name], PEER_CHARGING[name].apply(c)
    if name == "default":
        return decide, c
    raise ValueError(f"no controller policy {name!r}")
