"""Prototype of the next solar rule (issue 13), tried in the fast simulator before it moves into
controller/policy.py: the same shape as ``controller.policy.decide``, ``solar`` mode changed.

The rule: the session's solar share is a budget. Every cycle books the car's energy since the
last one as solar or grid (grid = the part of its draw the meter shows imported). While the
share stays above ``SHARE_TARGET`` the difference is grid energy that may still be spent:
- on: a shortfall holds min current while the budget lasts; once it is spent the car pauses if
  it has starts left today (``MAX_STARTS``), else it holds until ``stop_delay_s``;
- off: a surplus that covers min current starts after ``start_delay_s``; one that falls short of
  it by no more than the budget could pay for over ``PARTIAL_HORIZON_S`` starts too, at min
  current (the sunny shoulders of a day whose surplus stays just under min current).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

from common.models import Action, Decision, Mode, Reason
from common.snapshot import ChargerSnapshot
from controller.policy import (
    NOT_CONTROLLABLE,
    PolicyInputs,
    PolicySettings,
    commands_for,
)
from controller.rules import TIMER_SLACK_S

SHARE_TARGET = 0.97
MAX_STARTS = 6
PARTIAL_HORIZON_S = 600.0
PARTIAL_MIN_SHARE = 0.75
#: A dip that has cost this much grid energy ends in a pause (while starts are left).
DIP_S = 1e9  # in seconds of a full shortfall at min current: the energy scales with the grid
USE_BUDGET = True
CALM_FACTOR = 3.0
#: Raising the current waits for this much surplus above the next amp (clouds come back).
UP_MARGIN_W = 0.0


#: Seconds of meter readings the fast down-rule averages (None: the rule is off).
RECENT_S: float | None = None


@dataclass(frozen=True, slots=True)
class CInputs(PolicyInputs):
    #: Mean grid power over the last RECENT_S seconds.
    recent_w: float | None = None


def with_recent(inputs: PolicyInputs, recent_w: float | None) -> CInputs:
    values = {f.name: getattr(inputs, f.name) for f in fields(PolicyInputs)}
    return CInputs(**values, recent_w=recent_w)


@dataclass(frozen=True, slots=True)
class CState:
    mode: Mode | None = None
    surplus_since: datetime | None = None
    short_since: datetime | None = None
    had_surplus: bool = False
    settled_from: datetime | None = None
    expected_drawing: bool | None = None
    released: bool = False
    last_command_at: datetime | None = None
    solar_wh: float = 0.0
    grid_wh: float = 0.0
    last_at: datetime | None = None
    starts: int = 0
    dip_wh: float = 0.0
    #: The charger's draw before our last command: until it takes effect it may still be drawing it.
    prev_draw_w: float = 0.0


def _book(inputs: PolicyInputs, st: CState, s: PolicySettings, now: datetime) -> CState:
    """Add the car's energy since the last cycle to the session's solar and grid energy."""
    ch, mean_w = inputs.charger, inputs.grid_power_mean_w
    last, st = st.last_at, replace(st, last_at=now)
    if last is None or ch is None or mean_w is None or not ch.drawing:
        return st
    dt_h = min((now - last).total_seconds(), s.window_s) / 3600.0
    ev = ch.power_w
    grid = min(max(mean_w, 0.0), ev)
    dip = st.dip_wh + grid * dt_h if st.short_since is not None else 0.0
    return replace(
        st, solar_wh=st.solar_wh + (ev - grid) * dt_h, grid_wh=st.grid_wh + grid * dt_h, dip_wh=dip
    )


def budget_wh(st: CState) -> float:
    return st.solar_wh * (1.0 - SHARE_TARGET) / SHARE_TARGET - st.grid_wh


def decide(
    inputs: PolicyInputs, state: CState, settings: PolicySettings, now: datetime
) -> tuple[Decision, CState]:
    mode, ch, s = inputs.mode, inputs.charger, settings
    state = replace(_book(inputs, state, s, now), mode=mode)

    def out(
        action: Action, reason: Reason, target_a: int, st: CState, surplus_w: float | None = None
    ):
        d = Decision(
            ts=now,
            mode=mode,
            action=action,
            reason=reason,
            target_a=target_a,
            grid_power_mean_w=inputs.grid_power_mean_w,
            surplus_w=surplus_w,
        )
        return d, _after(d, ch, st, s, now)

    if ch is None:
        return out(Action.NONE, Reason.CHARGER_UNAVAILABLE, 0, state)
    if ch.phase in NOT_CONTROLLABLE:
        return out(Action.NONE, NOT_CONTROLLABLE[ch.phase], 0, state)
    if inputs.grid_power_mean_w is None:
        return out(Action.STOP if ch.enabled else Action.NONE, Reason.STALE, 0, state)
    if (
        state.expected_drawing is not None
        and "status" not in ch.estimated
        and ch.drawing is not state.expected_drawing
    ):
        st = replace(state, settled_from=now, expected_drawing=ch.drawing)
        return _settling(out, ch, st)
    fast = _fast_down(inputs, ch, state, s, now)
    if fast is not None:
        target, surplus_w = fast
        on = replace(state, surplus_since=None)
        if target < s.min_current_a:
            return _short(out, ch, on, s, now, surplus_w)
        return out(Action.ADJUST, Reason.SURPLUS_ADJUST, target, on, surplus_w)
    if inputs.settled_mean_w is None:
        return _settling(out, ch, state)
    surplus_w = ch.power_w - inputs.settled_mean_w
    return _solar(out, ch, state, s, now, surplus_w)


def _solar(
    out, ch: ChargerSnapshot, state: CState, s: PolicySettings, now: datetime, surplus_w: float
):
    raw_a = s.target_a(surplus_w)
    covered = raw_a >= s.min_current_a
    target = min(s.clamp(raw_a), s.max_a(ch))
    p_min = s.min_current_a * s.watts_per_amp
    if not ch.enabled:
        affordable = budget_wh(state) * 3600.0 / PARTIAL_HORIZON_S
        partial = state.starts < MAX_STARTS and surplus_w >= max(
            p_min - affordable, PARTIAL_MIN_SHARE * p_min
        )
        if not (covered or partial):
            return out(
                Action.NONE, Reason.NO_SURPLUS, 0, replace(state, surplus_since=None), surplus_w
            )
        since = state.surplus_since or now
        if (now - since).total_seconds() >= s.start_delay_s - TIMER_SLACK_S:
            st = replace(
                state,
                surplus_since=None,
                short_since=None,
                had_surplus=True,
                starts=state.starts + 1,
            )
            return out(Action.START, Reason.SURPLUS_START, target, st, surplus_w)
        return out(
            Action.NONE, Reason.START_DELAY, 0, replace(state, surplus_since=since), surplus_w
        )
    on = replace(state, surplus_since=None)
    if covered and ch.setpoint_a is not None and target > ch.setpoint_a:
        target = max(min(s.clamp(s.target_a(surplus_w - UP_MARGIN_W)), target), ch.setpoint_a)
    if covered:
        on = replace(on, short_since=None, had_surplus=True)
        action = Action.ADJUST if target != ch.setpoint_a else Action.HOLD
        return out(
            action,
            Reason.SURPLUS_ADJUST if action is Action.ADJUST else Reason.HOLD,
            target,
            on,
            surplus_w,
        )
    return _short(out, ch, on, s, now, surplus_w)


def _fast_down(
    inputs: PolicyInputs, ch: ChargerSnapshot, st: CState, s: PolicySettings, now: datetime
) -> tuple[int, float] | None:
    """A lower current at once when the last seconds show import whatever the charger is doing
    (its new draw, or the old one if our last command has not taken effect yet)."""
    recent = getattr(inputs, "recent_w", None)
    if (
        RECENT_S is None
        or recent is None
        or not ch.enabled
        or not ch.drawing
        or ch.setpoint_a is None
    ):
        return None
    in_flight = st.settled_from is not None and st.settled_from > now
    draw = max(ch.power_w, st.prev_draw_w) if in_flight else ch.power_w
    surplus = draw - recent
    target = s.target_a(surplus)
    if target >= ch.setpoint_a or ch.setpoint_a <= s.min_current_a:
        return None
    return max(target, s.min_current_a - 1), surplus


def _short(
    out, ch: ChargerSnapshot, on: CState, s: PolicySettings, now: datetime, surplus_w: float
):
    """Short of min current while on: hold min current, or pause.

    A shallow shortfall the share budget pays for is held as long as it lasts (the sunny
    shoulders, a kettle). A deep one, or one the budget cannot pay, pauses once it has cost
    ``DIP_S`` seconds' worth of min current from the grid, or after ``stop_delay_s``; once the
    day has had ``MAX_STARTS`` starts both grow ``CALM_FACTOR`` times (fewer, longer sessions).
    """
    p_min = s.min_current_a * s.watts_per_amp
    since = on.short_since or now
    on = replace(on, short_since=since)
    affordable = budget_wh(on) > 0.0 and surplus_w >= PARTIAL_MIN_SHARE * p_min
    calm = CALM_FACTOR if on.starts >= MAX_STARTS else 1.0
    waited = (now - since).total_seconds() >= calm * s.stop_delay_s - TIMER_SLACK_S
    costly = on.dip_wh * 3600.0 > calm * DIP_S * p_min
    if not affordable and (waited or costly):
        return out(Action.STOP, Reason.SURPLUS_STOP, 0, replace(on, short_since=None), surplus_w)
    action = Action.ADJUST if ch.setpoint_a != s.min_current_a else Action.HOLD
    return out(action, Reason.DIP_HOLD_MIN, s.min_current_a, on, surplus_w)


def _settling(out, ch: ChargerSnapshot, st: CState):
    if ch.enabled:
        return out(Action.HOLD, Reason.SETTLING, ch.setpoint_a or 0, st)
    return out(Action.NONE, Reason.SETTLING, 0, st)


def _after(
    d: Decision, ch: ChargerSnapshot | None, st: CState, s: PolicySettings, now: datetime
) -> CState:
    from datetime import timedelta

    if d.action is Action.START:
        expected: bool | None = True
    elif d.action is Action.STOP:
        expected = False
    else:
        expected = None if ch is None else ch.drawing
    if d.reason is Reason.SETTLING:
        expected = st.expected_drawing
    st = replace(st, expected_drawing=expected)
    if commands_for(d, ch):
        prev = 0.0 if ch is None else ch.power_w
        st = replace(
            st,
            last_command_at=now,
            settled_from=now + timedelta(seconds=s.settle_s),
            prev_draw_w=prev,
        )
    return st


decide.recent_s = RECENT_S  # type: ignore[attr-defined]  # read by the fast simulator
decide.with_recent = with_recent  # type: ignore[attr-defined]  # read by the fast simulator
