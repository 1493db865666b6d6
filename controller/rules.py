"""The decision rules, one function per group, in the order ``controller.policy.decide`` tries them.

Each takes the cycle (``Cycle``), the charger where the rule needs one, and the state carried in,
and returns the decision and the next state. The table of rules and reasons is in
docs/design.md, "Decision rules"; the comments here say only what the table cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeAlias

from common.models import Action, Decision, Mode, Reason
from common.snapshot import ChargerSnapshot, Phase
from controller.commands import commands_for
from controller.state import PolicyInputs, PolicySettings, PolicyState
from controller.step import expected_latency_s, settle_after

#: A decision and the state for the next cycle.
Outcome: TypeAlias = tuple[Decision, PolicyState]

#: Cycles run on a 60 s grid but are stamped when they wake, a few ms late or early; without
#: slack a delay of 180 s measured as 179.99 s would wait a whole extra cycle, at random.
TIMER_SLACK_S = 1.0

#: The longest a start at min current waits for the car's watts per ampere to be measured.
PROBE_S = 180.0
#: Meanwhile the meter is looked at this often, over this many seconds of readings: the car
#: draws 10-30 s after the start, and its step shows in the next few seconds.
PROBE_LOOK_S = 5.0
#: The share of min current at the configured watts per ampere by which the grid must step up
#: for the car to count as drawing on all the configured phases (a 1-phase car steps a third).
PROBE_FULL_SHARE = 0.75

#: Charger phases with nothing to steer. A car that takes nothing (status 180/181: full, or on
#: its own timer) draws 0 W whatever the setpoint, so it is not charging and gets no commands.
NOT_CONTROLLABLE = {
    Phase.NO_CAR: Reason.NO_CAR,
    Phase.ERROR: Reason.CHARGER_ERROR,
    Phase.LOCKED: Reason.CHARGER_LOCKED,
    Phase.UPDATING: Reason.CHARGER_UPDATING,
    Phase.UNKNOWN: Reason.CHARGER_UNKNOWN,
    Phase.CAR_DEMAND: Reason.CAR_FULL,
}


@dataclass(frozen=True, slots=True)
class Surplus:
    """What the settled window pays for: ``surplus_w`` is the charger's draw minus the settled
    grid mean, ``target_a`` its whole amps within min..max and the installation's limit."""

    mean_w: float
    surplus_w: float
    target_a: int
    #: Whether the surplus pays for min current (before clamping).
    covered: bool
    #: Whether it is covered by what was measured: the charger's reported draw, or the export
    #: alone. A draw estimated from the setpoint (a 0 kW read, a command not read back yet) can
    #: be far above the truth for a car not measured yet, and must not make a grid session look
    #: like a solar one (docs/design.md, "Decision rules").
    measured: bool = False
    #: An upper bound while a command settles (``surplus_range``), not the surplus itself: it
    #: may lower the current, never make the share budget pay.
    bound: bool = False

    @classmethod
    def of(
        cls,
        ch: ChargerSnapshot,
        settled_mean_w: float,
        s: PolicySettings,
        watts_per_amp: float | None = None,
    ) -> Surplus:
        """At the car's measured watts per ampere when given, else the configured."""
        surplus_w = ch.power_w - settled_mean_w
        raw_a = s.target_a(surplus_w, watts_per_amp)
        target_a = min(s.clamp(raw_a), s.max_a(ch))
        covered = raw_a >= s.min_current_a
        if "power_w" in ch.estimated:
            # Only the export is measured: the car draws at least nothing.
            measured = s.target_a(-settled_mean_w, watts_per_amp) >= s.min_current_a
        else:
            measured = covered
        return cls(settled_mean_w, surplus_w, target_a, covered, measured)


@dataclass(frozen=True, slots=True)
class Cycle:
    """What every rule reads, and the one way a rule turns its choice into an ``Outcome``."""

    inputs: PolicyInputs
    settings: PolicySettings
    now: datetime

    @property
    def watts_per_amp(self) -> float:
        """The car's: measured this session, else the configured."""
        return self.inputs.car.measured_w_per_a or self.settings.watts_per_amp

    def surplus(self, ch: ChargerSnapshot, mean_w: float) -> Surplus:
        return Surplus.of(ch, mean_w, self.settings, self.watts_per_amp)

    def start_covered(self, sp: Surplus) -> bool:
        """Whether a start pays for min current at the start threshold's watts per ampere: the
        car's when measured, else the last session's or a 1-phase car's (then the start is at
        min current and measures the car: ``probing``)."""
        wpa = self.inputs.car.start_w_per_a
        if sp.covered or self.inputs.car.measured_w_per_a is not None or wpa is None:
            return sp.covered
        return self.settings.target_a(sp.surplus_w, wpa) >= self.settings.min_current_a

    def out(
        self,
        action: Action,
        reason: Reason,
        target_a: int,
        state: PolicyState,
        surplus: Surplus | None = None,
    ) -> Outcome:
        """The decision (with the settled mean and surplus when the rule computed them, else the
        whole window's mean) and the state after its bookkeeping."""
        d = Decision(
            ts=self.now,
            mode=self.inputs.mode,
            action=action,
            reason=reason,
            target_a=target_a,
            grid_power_mean_w=self.inputs.grid_power_mean_w if surplus is None else surplus.mean_w,
            surplus_w=None if surplus is None else surplus.surplus_w,
        )
        return d, _after(d, self.inputs.charger, state, self.settings, self.now, self.watts_per_amp)


def enter_mode(state: PolicyState, mode: Mode) -> PolicyState:
    """A new mode starts its own story; what the charger physically does carries over."""
    if state.mode is not None and state.mode is not mode:
        state = PolicyState(
            settled_from=state.settled_from, expected_drawing=state.expected_drawing
        )
    return replace(state, mode=mode)


def idle(state: PolicyState) -> PolicyState:
    """No session: the timers and the session's surplus start over."""
    return replace(
        state,
        surplus_since=None,
        near_since=None,
        short_since=None,
        dip_seen_at=None,
        had_surplus=False,
        probing_since=None,
        probe_before_w=None,
    )


def overdrawn(recent_mean_w: float, before_w: float, s: PolicySettings) -> bool:
    """The grid imports, and stepped up from the start's mean by about the configured draw at
    min current: the car draws on all the configured phases, and no surplus pays for it."""
    full_w = PROBE_FULL_SHARE * s.min_current_a * s.watts_per_amp
    return recent_mean_w > 0 and recent_mean_w - before_w >= full_w


def probe_overdrawn(c: Cycle, state: PolicyState) -> bool:
    """A start at min current that measures the car (docs/design.md, "Surplus arithmetic") is
    paused as soon as the meter shows it is the full configured draw without surplus to cover
    it, not a cycle later when the status says so."""
    recent, before = c.inputs.recent_mean_w, state.probe_before_w
    if state.probing_since is None or recent is None or before is None:
        return False
    return overdrawn(recent, before, c.settings)


def probe_stop(c: Cycle, state: PolicyState) -> Outcome:
    return c.out(Action.STOP, Reason.GRID_STOP, 0, stopped(state))


def manual(c: Cycle, state: PolicyState) -> Outcome:
    """Hand the charger back once, then leave it alone."""
    max_a = c.settings.max_a(c.inputs.charger)
    if state.released:
        return c.out(Action.NONE, Reason.MANUAL, max_a, state)
    return c.out(Action.RELEASE, Reason.MANUAL_RELEASE, max_a, replace(state, released=True))


def not_controllable(c: Cycle, ch: ChargerSnapshot | None, state: PolicyState) -> Outcome:
    """Nothing to steer. An unread charger keeps the timers (nothing is known to have changed);
    a car gone, full, or a charger in error, locked or updating ends the session's."""
    if ch is None:
        return c.out(Action.NONE, Reason.CHARGER_UNAVAILABLE, 0, state)
    return c.out(Action.NONE, NOT_CONTROLLABLE[ch.phase], 0, idle(state))


def stale(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome:
    """No reading in the window: never charge from the grid because data went missing, but
    ``min_solar`` promised min current whatever the sun does."""
    if c.inputs.mode is Mode.MIN_SOLAR:
        min_a = c.settings.min_current_a
        return c.out(_toward(ch, min_a), Reason.STALE, min_a, state)
    if ch.enabled:
        return c.out(Action.STOP, Reason.STALE, 0, idle(state))
    return c.out(Action.NONE, Reason.STALE, 0, idle(state))


def changed_by_itself(state: PolicyState, ch: ChargerSnapshot) -> bool:
    """A read shows the charger drawing (or not) other than our last decision left it."""
    return (
        state.expected_drawing is not None
        and "status" not in ch.estimated
        and ch.drawing is not state.expected_drawing
    )


def unexpected_change(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome:
    """The window mixes readings from before and after the change: settle for one cycle.

    Except a grid session in ``solar`` (the car started drawing, no surplus yet this session, no
    export in the window: a car plugged in at night), which settling would charge from the grid.
    """
    mean_w = c.inputs.grid_power_mean_w
    grid_session = (
        c.inputs.mode is Mode.SOLAR
        and ch.drawing
        and not state.had_surplus
        and mean_w is not None
        and mean_w >= 0
    )
    if grid_session:
        return c.out(Action.STOP, Reason.GRID_STOP, 0, replace(idle(state), settled_from=c.now))
    return settling(c, ch, replace(state, settled_from=c.now, expected_drawing=ch.drawing))


def surplus_range(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> SurplusRange | None:
    """While our last command settles: the surplus if the charger drew the less, and the more,
    of what it drew before the command and what it was told to draw since, all window long.

    The window mixes readings from before and after the command took effect, each with one of
    the two draws, so the true surplus lies between the two. A shortfall even the upper end
    shows, or a surplus even the lower end shows, is real whatever the charger did, and need
    not wait for the settle time (None: not settling after a command of ours). Once the window
    starts after the latency the meter showed, only the new draw counts.
    """
    mean_w = c.inputs.grid_power_mean_w
    if mean_w is None or state.prev_draw_w is None or state.settled_from is None:
        return None
    late_s = (c.now - state.settled_from).total_seconds()
    if late_s > TIMER_SLACK_S or not ch.enabled:
        return None  # settled; up to a second past the settle time there may be no reading yet
    draws_w: tuple[float, ...] = (ch.power_w, state.prev_draw_w)
    if _window_after_latency(c, state):
        draws_w = (ch.power_w,)
    return SurplusRange(
        _at(c, ch, mean_w, min(draws_w)), replace(_at(c, ch, mean_w, max(draws_w)), bound=True)
    )


@dataclass(frozen=True, slots=True)
class SurplusRange:
    """The surplus at either end of what the charger may have drawn (``surplus_range``)."""

    least: Surplus
    most: Surplus


def _window_after_latency(c: Cycle, state: PolicyState) -> bool:
    """Whether every reading in the window was taken after our last command reached the car, by
    the latency its steps showed so far (a charger that follows in 2 s, a window of 10 s)."""
    latency_s = expected_latency_s(state)
    if latency_s is None or state.last_command_at is None:
        return False
    window_start = c.now - timedelta(seconds=c.settings.window_s)
    return window_start >= state.last_command_at + timedelta(seconds=latency_s)


def _at(c: Cycle, ch: ChargerSnapshot, mean_w: float, draw_w: float) -> Surplus:
    s = c.settings
    surplus_w = draw_w - mean_w
    raw_a = s.target_a(surplus_w, c.watts_per_amp)
    return Surplus(mean_w, surplus_w, min(s.clamp(raw_a), s.max_a(ch)), raw_a >= s.min_current_a)


def settling(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome:
    """No settled reading yet: hold what the charger has, do not guess."""
    if ch.enabled:
        return c.out(Action.HOLD, Reason.SETTLING, ch.setpoint_a or 0, state)
    return c.out(Action.NONE, Reason.SETTLING, 0, state)


def min_solar(c: Cycle, ch: ChargerSnapshot, sp: Surplus, state: PolicyState) -> Outcome:
    """At least min current at once, more with surplus; no delays."""
    reason = Reason.SURPLUS_ADJUST if sp.covered else Reason.MIN_SOLAR_FLOOR
    if not ch.enabled:
        start = Reason.SURPLUS_START if sp.covered else reason
        return c.out(Action.START, start, sp.target_a, state, sp)
    if sp.target_a != ch.setpoint_a:
        return c.out(Action.ADJUST, reason, sp.target_a, state, sp)
    return c.out(Action.HOLD, Reason.HOLD if sp.covered else reason, sp.target_a, state, sp)


def stopped(on: PolicyState) -> PolicyState:
    """The state once a session pauses: idle, and the share budget's session hold forgotten
    (the start delay counts afresh from the pause)."""
    return replace(idle(on), budget_since=None)


def waited(since: datetime, now: datetime, delay_s: float) -> bool:
    return (now - since).total_seconds() >= delay_s - TIMER_SLACK_S


def _toward(ch: ChargerSnapshot, target_a: int) -> Action:
    if not ch.enabled:
        return Action.START
    return Action.ADJUST if ch.setpoint_a != target_a else Action.HOLD


def _after(
    d: Decision,
    ch: ChargerSnapshot | None,
    st: PolicyState,
    s: PolicySettings,
    now: datetime,
    watts_per_amp: float,
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
    if ch is not None and "status" not in ch.estimated:
        st = replace(st, seen_status_id=ch.status_id)
    commands = commands_for(d, ch)
    if commands:
        step_w = _step_w(d, ch, st, now, watts_per_amp)
        st = replace(
            st,
            last_command_at=now,
            settled_from=now + timedelta(seconds=settle_after(st, step_w, s.settle_s)),
            prev_draw_w=_draw_before(ch, st, now),
            step_w=step_w,
        )
    if any(cmd.kind == "resume" for cmd in commands):
        st = replace(st, start_sent_at=now)
    return st


def _step_w(
    d: Decision, ch: ChargerSnapshot | None, st: PolicyState, now: datetime, watts_per_amp: float
) -> float | None:
    """How the grid should step when the command takes effect (controller.step); None when that
    is not known: no snapshot, a release, or a command before it that has not shown yet (the
    meter would show both, in either order)."""
    if ch is None or d.action not in (Action.START, Action.ADJUST, Action.STOP):
        return None
    if st.settled_from is not None and st.settled_from > now:
        return None
    after_w = 0.0 if d.action is Action.STOP else d.target_a * watts_per_amp
    return after_w - ch.power_w


def _draw_before(ch: ChargerSnapshot | None, st: PolicyState, now: datetime) -> float | None:
    """The most the charger may draw until a command now takes effect: what it draws, or what
    it drew before a command of ours that has not shown yet (the snapshot already says what that
    one asked for), unless that one went out longer ago than commands take to show."""
    if ch is None or st.prev_draw_w is None or st.last_command_at is None:
        return None if ch is None else ch.power_w
    pending = st.settled_from is not None and st.settled_from > now
    latency_s = expected_latency_s(st)
    if latency_s is not None and (now - st.last_command_at).total_seconds() >= latency_s:
        pending = False  # it has reached the car: a bound on the safe side (a lower current)
    return max(st.prev_draw_w, ch.power_w) if pending else ch.power_w
