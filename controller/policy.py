"""The charging decision: pure, so every rule can be tested as a time series without any I/O.

``decide`` takes what one cycle knows (mode, window means of the grid power, the charger snapshot)
and the state carried between cycles (hysteresis timers, when the last command took effect), and
returns a ``Decision`` plus the next state. ``commands_for`` turns a decision into the few charger
calls it needs, and only those that change something.

Rules, in order; the first that applies names the decision's ``reason``:

1. ``manual``: hand the charger back once (``manual-release``: resume, max current), then leave it
   alone (``manual``).
2. Charger unknown or not controllable: ``charger-unavailable``, ``no-car``, ``charger-error``,
   ``charger-locked``, ``charger-updating``, ``charger-unknown``; a car that takes nothing
   (status 180/181, full or on its own timer) is ``car-full``: it draws 0 W whatever the setpoint,
   so it is not charging and gets no commands.
3. No reading in the window (meter or collector down): ``stale``: pause in ``solar`` (never charge
   from the grid because data went missing), min current in ``min_solar``.
4. The charger's draw changed without a command of ours (car plugged in, car started or stopped
   drawing): ``settling`` for one cycle, see the window rule below. Except in ``solar`` mode when
   the car started drawing with no surplus in this session and the window shows no export: that
   is a grid session (a car plugged in at night), paused at once (``grid-stop``); settling would
   let it charge from the grid for a cycle or two.
5. ``min_solar``: at least min current at once (``min-solar-floor``), more with surplus.
6. ``solar``: start after the surplus covered min current for ``start_delay_s`` (``start-delay``,
   ``surplus-start``; ``no-surplus`` otherwise); follow it in whole amps (``surplus-adjust``,
   ``hold``); when it falls short drop to min current (``dip-hold-min``), wait (``stop-delay``)
   and pause only after ``stop_delay_s`` (``surplus-stop``). A car charging without any surplus
   since it was last seen off (plugged in at night, or left on by manual mode) is paused at once
   (``grid-stop``): the stop delay protects a solar session from clouds, not a grid session.

Currents never exceed what the installation allows: the status's ``max_available_power``
(amperes) caps ``max_current_a``, so the setpoint read back equals the one sent and no write
repeats every cycle.

At start, ``seed_state`` takes what the last recorded decision says: a charger already handed back
in ``manual`` mode is not handed back again (that would resume a car the user paused in the
Wallbox app), and a ``solar`` session that was charging on surplus keeps its stop delay.

The window after a change (the yo-yo): the surplus is ``charger_power_w - mean(grid_power_w)``,
which is exact only when every reading in the mean was taken with the charger drawing what it draws
now. A 120 s mean right after a command mixes readings from before and after the change, and the
original scripts swung between too high and too low currents because of it. We therefore average
only the readings taken after the last change took effect: the service asks the store for the mean
``since=settled_since(state)``, which is ``settle_s`` (30 s: the cloud takes 10-30 s to pass a
command on) after our last command, or the cycle at which a read showed a change we did not cause.
The alternative, averaging the surplus reading by reading, would need the charger's draw at every
second; we know it at one read a minute, and guessing it across the 10-30 s transition is exactly
where a guess is worst. Cutting the window costs nothing in steady state (no change, full window)
and leaves 30 readings after a change at the default 60 s interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, TypeAlias

from common.config import ChargingConfig
from common.models import Action, Decision, Mode, Reason
from common.snapshot import ChargerSnapshot, Phase

#: How long after a command the grid readings reflect it (cloud latency 10-30 s, docs/design.md,
#: "Surplus arithmetic").
DEFAULT_SETTLE_S = 30.0
#: Cycles run on a 60 s grid but are stamped when they wake, a few ms late or early; without
#: slack a delay of 180 s measured as 179.99 s would wait a whole extra cycle, at random.
TIMER_SLACK_S = 1.0
#: Guards floor() against float noise: 6 x 692.82 W must give 6 A, not 5.
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """The policy's knobs; the defaults are the config's (one source: ChargingConfig)."""

    watts_per_amp: float
    min_current_a: int = ChargingConfig.min_current_a
    max_current_a: int = ChargingConfig.max_current_a
    start_delay_s: float = ChargingConfig.start_delay_s
    stop_delay_s: float = ChargingConfig.stop_delay_s
    window_s: float = ChargingConfig.window_s
    settle_s: float = DEFAULT_SETTLE_S

    def __post_init__(self) -> None:
        if self.watts_per_amp <= 0:
            raise ValueError("watts_per_amp must be positive")
        if not 0 < self.min_current_a <= self.max_current_a:
            raise ValueError("need 0 < min_current_a <= max_current_a")

    @classmethod
    def from_config(cls, c: ChargingConfig, settle_s: float = DEFAULT_SETTLE_S) -> PolicySettings:
        return cls(
            watts_per_amp=c.effective_watts_per_amp,
            min_current_a=c.min_current_a,
            max_current_a=c.max_current_a,
            start_delay_s=c.start_delay_s,
            stop_delay_s=c.stop_delay_s,
            window_s=c.window_s,
            settle_s=settle_s,
        )

    def target_a(self, surplus_w: float) -> int:
        """Whole amps the surplus pays for (unclamped; may be negative)."""
        return math.floor(surplus_w / self.watts_per_amp + _EPS)

    def clamp(self, current_a: int) -> int:
        return min(max(current_a, self.min_current_a), self.max_current_a)

    def max_a(self, charger: ChargerSnapshot | None) -> int:
        """``max_current_a``, capped by what the installation allows when the status says."""
        avail = None if charger is None else charger.max_available_a
        if avail is None or avail < self.min_current_a:
            return self.max_current_a  # an odd value must not stop charging altogether
        return min(self.max_current_a, avail)


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """One cycle's view. ``grid_power_mean_w`` is the mean over the whole window (None: no reading,
    the data is stale); ``settled_mean_w`` the mean over the readings since ``settled_since``
    (None: none yet, the last change is still settling)."""

    mode: Mode
    grid_power_mean_w: float | None
    settled_mean_w: float | None
    charger: ChargerSnapshot | None


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What the policy carries from one cycle to the next."""

    mode: Mode | None = None
    #: When the surplus first covered min current while the charger was off (start delay).
    surplus_since: datetime | None = None
    #: When the surplus first fell short while charging (stop delay).
    short_since: datetime | None = None
    #: Whether this charging session has had surplus (else a shortfall stops it at once).
    had_surplus: bool = False
    #: Readings from this time on were taken with the charger's current draw (the yo-yo rule).
    settled_from: datetime | None = None
    #: Whether the charger should be drawing after our last decision; a read that disagrees
    #: reveals a change we did not cause.
    expected_drawing: bool | None = None
    released: bool = False
    last_command_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Command:
    kind: Literal["set_current", "resume", "pause"]
    current_a: int | None = None

    def __str__(self) -> str:
        return f"set_current({self.current_a})" if self.kind == "set_current" else self.kind


#: What ``decide`` is: the Controller takes any function of this shape (the replay compares them).
Policy: TypeAlias = Callable[
    [PolicyInputs, PolicyState, PolicySettings, datetime], tuple[Decision, PolicyState]
]


def settled_since(state: PolicyState) -> datetime | None:
    """The ``since`` to pass to ``Store.grid_power_mean`` for ``PolicyInputs.settled_mean_w``."""
    return state.settled_from


def commands_for(decision: Decision, charger: ChargerSnapshot | None) -> tuple[Command, ...]:
    """The charger calls a decision needs: only those that change something.

    With no snapshot we cannot know what the charger has, so a start or release sends everything.
    The current goes first so a resumed car starts at the intended current.
    """
    a, t = decision.action, decision.target_a
    setpoint = None if charger is None else charger.setpoint_a
    enabled = False if charger is None else charger.enabled
    cmds: list[Command] = []
    if a in (Action.START, Action.ADJUST, Action.RELEASE) and setpoint != t:
        cmds.append(Command("set_current", t))
    if a is Action.START and not enabled:
        cmds.append(Command("resume"))
    if a is Action.RELEASE and (charger is None or charger.phase is Phase.PAUSED):
        cmds.append(Command("resume"))
    if a is Action.STOP and (charger is None or enabled):
        cmds.append(Command("pause"))
    return tuple(cmds)


NOT_CONTROLLABLE = {
    Phase.NO_CAR: Reason.NO_CAR,
    Phase.ERROR: Reason.CHARGER_ERROR,
    Phase.LOCKED: Reason.CHARGER_LOCKED,
    Phase.UPDATING: Reason.CHARGER_UPDATING,
    Phase.UNKNOWN: Reason.CHARGER_UNKNOWN,
    Phase.CAR_DEMAND: Reason.CAR_FULL,
}


def decide(  # noqa: C901 (split in progress)
    inputs: PolicyInputs, state: PolicyState, settings: PolicySettings, now: datetime
) -> tuple[Decision, PolicyState]:
    """One cycle's decision and the state for the next cycle (see the module docstring)."""
    mode, ch, s = inputs.mode, inputs.charger, settings
    if state.mode is not None and state.mode is not mode:
        # A new mode starts its own story; what the charger physically does carries over.
        state = PolicyState(
            mode=mode, settled_from=state.settled_from, expected_drawing=state.expected_drawing
        )
    state = replace(state, mode=mode)

    def out(
        action: Action,
        reason: Reason,
        target_a: int,
        st: PolicyState,
        mean_w: float | None = inputs.grid_power_mean_w,
        surplus_w: float | None = None,
    ) -> tuple[Decision, PolicyState]:
        d = Decision(
            ts=now,
            mode=mode,
            action=action,
            reason=reason,
            target_a=target_a,
            grid_power_mean_w=mean_w,
            surplus_w=surplus_w,
        )
        return d, _after(d, ch, st, s, now)

    max_a = s.max_a(ch)

    # 1. manual: release once, then leave the charger alone.
    if mode is Mode.MANUAL:
        if state.released:
            return out(Action.NONE, Reason.MANUAL, max_a, state)
        return out(Action.RELEASE, Reason.MANUAL_RELEASE, max_a, replace(state, released=True))

    # 2. nothing to steer.
    idle = replace(state, surplus_since=None, short_since=None, had_surplus=False)
    if ch is None:
        return out(Action.NONE, Reason.CHARGER_UNAVAILABLE, 0, state)
    if ch.phase in NOT_CONTROLLABLE:
        return out(Action.NONE, NOT_CONTROLLABLE[ch.phase], 0, idle)

    # 3. stale: no reading in the window.
    if inputs.grid_power_mean_w is None:
        if mode is Mode.MIN_SOLAR:
            action = _toward(ch, s.min_current_a)
            return out(action, Reason.STALE, s.min_current_a, state)
        if ch.enabled:
            return out(Action.STOP, Reason.STALE, 0, idle)
        return out(Action.NONE, Reason.STALE, 0, idle)

    # 4. a change we did not cause: the window mixes before and after it, wait one cycle.
    if (
        state.expected_drawing is not None
        and "status" not in ch.estimated
        and ch.drawing is not state.expected_drawing
    ):
        st = replace(state, settled_from=now, expected_drawing=ch.drawing)
        grid_session = (
            mode is Mode.SOLAR
            and ch.drawing
            and not state.had_surplus
            and inputs.grid_power_mean_w >= 0
        )
        if grid_session:
            return out(Action.STOP, Reason.GRID_STOP, 0, replace(idle, settled_from=now))
        return _settling(out, ch, st)
    mean_w = inputs.settled_mean_w
    if mean_w is None:
        return _settling(out, ch, state)

    surplus_w = ch.power_w - mean_w
    raw_a = s.target_a(surplus_w)
    covered = raw_a >= s.min_current_a
    target = min(s.clamp(raw_a), max_a)

    def result(
        action: Action, reason: Reason, target_a: int, st: PolicyState
    ) -> tuple[Decision, PolicyState]:
        return out(action, reason, target_a, st, mean_w=mean_w, surplus_w=surplus_w)

    # 5. min_solar: never below min current, no delays.
    if mode is Mode.MIN_SOLAR:
        reason = Reason.SURPLUS_ADJUST if covered else Reason.MIN_SOLAR_FLOOR
        if not ch.enabled:
            return result(Action.START, Reason.SURPLUS_START if covered else reason, target, state)
        if target != ch.setpoint_a:
            return result(Action.ADJUST, reason, target, state)
        return result(Action.HOLD, Reason.HOLD if covered else reason, target, state)

    # 6. solar: surplus with hysteresis.
    if not ch.enabled:
        if not covered:
            return result(Action.NONE, Reason.NO_SURPLUS, 0, replace(idle, surplus_since=None))
        since = state.surplus_since or now
        if (now - since).total_seconds() >= s.start_delay_s - TIMER_SLACK_S:
            started = replace(state, surplus_since=None, short_since=None, had_surplus=True)
            return result(Action.START, Reason.SURPLUS_START, target, started)
        return result(Action.NONE, Reason.START_DELAY, 0, replace(state, surplus_since=since))
    on = replace(state, surplus_since=None)
    if covered:
        on = replace(on, short_since=None, had_surplus=True)
        if target != ch.setpoint_a:
            return result(Action.ADJUST, Reason.SURPLUS_ADJUST, target, on)
        return result(Action.HOLD, Reason.HOLD, target, on)
    stopped = replace(on, short_since=None, had_surplus=False)
    if not state.had_surplus:
        return result(Action.STOP, Reason.GRID_STOP, 0, stopped)
    since = state.short_since or now
    if (now - since).total_seconds() >= s.stop_delay_s - TIMER_SLACK_S:
        return result(Action.STOP, Reason.SURPLUS_STOP, 0, stopped)
    on = replace(on, short_since=since)
    if ch.setpoint_a != s.min_current_a:
        return result(Action.ADJUST, Reason.DIP_HOLD_MIN, s.min_current_a, on)
    return result(Action.HOLD, Reason.STOP_DELAY, s.min_current_a, on)


#: Reasons a ``solar`` decision gives only while a session charges on (or holds through a dip
#: after) surplus.
_SURPLUS_REASONS = frozenset(
    {
        Reason.SURPLUS_START,
        Reason.SURPLUS_ADJUST,
        Reason.HOLD,
        Reason.DIP_HOLD_MIN,
        Reason.STOP_DELAY,
    }
)


def seed_state(
    last: Decision | None,
    now: datetime,
    settings: PolicySettings,
    mode_since: datetime | None = None,
) -> PolicyState:
    """The state to start with, from the last recorded decision (None: nothing recorded).

    ``mode_since`` is when the stored mode was last set: a mode set after the last decision
    starts a new story (manual set again while the controller was down gets its release).

    A released charger in ``manual`` mode stays released however old the decision: releasing it
    again would resume a car the user paused since. A ``solar`` session charging on surplus
    keeps ``had_surplus`` only if the decision is recent (within the stop delay): a restart in a
    cloud then holds min current through the stop delay instead of pausing at once, while a
    session from hours ago says nothing about the car now.
    """
    if last is None or (mode_since is not None and mode_since > last.ts):
        return PolicyState()
    if last.mode is Mode.MANUAL and (
        last.action is Action.RELEASE
        or (last.action is Action.NONE and last.reason is Reason.MANUAL)
    ):
        return PolicyState(mode=Mode.MANUAL, released=True)
    age_s = (now - last.ts).total_seconds()
    if (
        last.mode is Mode.SOLAR
        and last.action in (Action.START, Action.ADJUST, Action.HOLD)
        and last.reason in _SURPLUS_REASONS
        and 0 <= age_s <= max(settings.stop_delay_s, 0.0)
    ):
        return PolicyState(mode=Mode.SOLAR, had_surplus=True)
    return PolicyState()


def _toward(ch: ChargerSnapshot, target_a: int) -> Action:
    if not ch.enabled:
        return Action.START
    return Action.ADJUST if ch.setpoint_a != target_a else Action.HOLD


def _settling(
    out: Callable[[Action, Reason, int, PolicyState], tuple[Decision, PolicyState]],
    ch: ChargerSnapshot,
    st: PolicyState,
) -> tuple[Decision, PolicyState]:
    if ch.enabled:
        return out(Action.HOLD, Reason.SETTLING, ch.setpoint_a or 0, st)
    return out(Action.NONE, Reason.SETTLING, 0, st)


def _after(
    d: Decision,
    ch: ChargerSnapshot | None,
    st: PolicyState,
    s: PolicySettings,
    now: datetime,
) -> PolicyState:
    """Bookkeeping once a decision is made: when its commands will have taken effect, and whether
    the charger should then be drawing."""
    if d.action is Action.RELEASE:
        expected = None
    elif d.action is Action.START:
        expected = True
    elif d.action is Action.STOP:
        expected = False
    else:
        expected = None if ch is None else ch.drawing
    if d.reason is Reason.SETTLING:
        expected = st.expected_drawing
    st = replace(st, expected_drawing=expected)
    if commands_for(d, ch):
        st = replace(st, last_command_at=now, settled_from=now + timedelta(seconds=s.settle_s))
    return st
