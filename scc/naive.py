"""The naive policy of the original scripts, kept only as a baseline for the benchmark.

Every cycle: surplus = charger power - the plain 2-minute mean of the grid power (readings from
before and after the last command mixed, the yo-yo), start when it covers min current, pause as
soon as it does not (one fixed threshold, no delays), and send a new current whenever the whole-amp
target changes. It has the same shape as ``controller.policy.decide``, so the real Controller runs
it over the same store, charger adapter and rate limits; only the decision differs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from common.models import Action, Decision, Reason
from controller.policy import NOT_CONTROLLABLE, PolicyInputs, PolicySettings, PolicyState

#: The original scripts averaged two minutes of readings, once a minute.
NAIVE_WINDOW_S = 120.0
NAIVE_INTERVAL_S = 60.0


def decide_naive(
    inputs: PolicyInputs, state: PolicyState, settings: PolicySettings, now: datetime
) -> tuple[Decision, PolicyState]:
    ch, mean_w = inputs.charger, inputs.grid_power_mean_w
    state = replace(state, mode=inputs.mode)  # never a settled window: always the full mean

    def out(action: Action, reason: Reason, target_a: int, surplus_w: float | None = None):
        d = Decision(
            ts=now,
            mode=inputs.mode,
            action=action,
            reason=reason,
            target_a=target_a,
            grid_power_mean_w=mean_w,
            surplus_w=surplus_w,
        )
        return d, state

    if ch is None:
        return out(Action.NONE, Reason.CHARGER_UNAVAILABLE, 0)
    if ch.phase in NOT_CONTROLLABLE:
        return out(Action.NONE, NOT_CONTROLLABLE[ch.phase], 0)
    if mean_w is None:  # even the baseline does not charge from the grid on missing data
        return out(Action.STOP if ch.enabled else Action.NONE, Reason.STALE, 0)
    surplus_w = ch.power_w - mean_w
    raw_a = settings.target_a(surplus_w)
    if raw_a < settings.min_current_a:
        action = Action.STOP if ch.enabled else Action.NONE
        return out(action, Reason.NAIVE_BELOW_THRESHOLD, 0, surplus_w)
    target = settings.clamp(raw_a)
    if not ch.enabled:
        return out(Action.START, Reason.NAIVE_START, target, surplus_w)
    if target != ch.setpoint_a:
        return out(Action.ADJUST, Reason.NAIVE_ADJUST, target, surplus_w)
    return out(Action.HOLD, Reason.HOLD, target, surplus_w)
