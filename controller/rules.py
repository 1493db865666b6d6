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
        return d, _after(d, self.inputs.charger, state, self.settings, self.now)


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
        short_since=None,
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
    return c.out(Action.STOP, Reason.GRID_STOP, 0, _stopped(state))


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


def worst_case_surplus(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Surplus | None:
    """While our last command settles: the surplus if the charger still draws the more of what
    it drew before the command and what it was told to draw since.

    The window mixes readings from before and after the command took effect, each with one of
    the two draws, so the true surplus is at most this. When even this falls short of min current,
    or pays for fewer amps than the charger has, the shortfall is real whatever the charger did,
    and it need not wait for the settle time (None: not settling after a command of ours).
    """
    mean_w = c.inputs.grid_power_mean_w
    if mean_w is None or state.prev_draw_w is None or state.settled_from is None:
        return None
    if state.settled_from <= c.now or not ch.enabled:
        return None
    draw_w = max(ch.power_w, state.prev_draw_w)
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


def solar_start(c: Cycle, sp: Surplus, state: PolicyState) -> Outcome:
    """The charger is off: start once the surplus has covered min current for the start delay.

    A start the configured watts per ampere would not pay for, only a lighter car's (the car not
    measured yet), goes at min current and counts as no surplus yet (``probing``): the next cycle
    measures the car and either follows the surplus or pauses at once.
    """
    if state.start_refused_until is not None and c.now < state.start_refused_until:
        return c.out(Action.NONE, Reason.START_REFUSED, 0, idle(state), sp)
    if not c.start_covered(sp):
        return _no_surplus(c, sp, idle(state))
    since = state.surplus_since or c.now
    if not waited(since, c.now, c.settings.start_delay_s):
        return c.out(Action.NONE, Reason.START_DELAY, 0, replace(state, surplus_since=since), sp)
    started = replace(state, surplus_since=None, short_since=None, had_surplus=sp.covered)
    if sp.covered:
        return c.out(Action.START, Reason.SURPLUS_START, sp.target_a, started, sp)
    probing = replace(started, probing_since=c.now, probe_before_w=sp.mean_w)
    return c.out(Action.START, Reason.SURPLUS_START, c.settings.min_current_a, probing, sp)


def _no_surplus(c: Cycle, sp: Surplus, state: PolicyState) -> Outcome:
    """Off, and no surplus to start on. A session that ended held min current through its dip:
    once a read shows the car paused (so it cannot draw), give the charger back its full current,
    or a schedule set in the Wallbox app that starts the car at night charges it at 6 A."""
    ch, max_a = c.inputs.charger, c.settings.max_a(c.inputs.charger)
    if (
        ch is not None
        and ch.phase in (Phase.PAUSED, Phase.SCHEDULED)
        and not ch.estimated & {"status", "setpoint_a"}
        and ch.setpoint_a is not None
        and ch.setpoint_a < max_a
    ):
        return c.out(Action.ADJUST, Reason.NO_SURPLUS, max_a, state, sp)
    return c.out(Action.NONE, Reason.NO_SURPLUS, 0, state, sp)


def solar_running(c: Cycle, ch: ChargerSnapshot, sp: Surplus, state: PolicyState) -> Outcome:
    """The charger is on: follow the surplus in whole amps while it covers min current.

    After a start that measures the car, hold min current until its watts per ampere is known
    (a status read or the meter's step: one cycle, usually), at most ``PROBE_S``.
    """
    on = replace(state, surplus_since=None)
    if state.probing_since is not None:
        if c.inputs.car.measured_w_per_a is None and not waited(
            state.probing_since, c.now, PROBE_S
        ):
            return c.out(Action.HOLD, Reason.SETTLING, ch.setpoint_a or 0, on, sp)
        on = replace(on, probing_since=None, probe_before_w=None)
    if not sp.covered:
        return _solar_short(c, ch, sp, on)
    if not on.had_surplus and not sp.measured and sp.mean_w >= 0:
        # Importing, and the surplus rests on an estimate of the car's draw: a grid session.
        return c.out(Action.STOP, Reason.GRID_STOP, 0, _stopped(on), sp)
    on = replace(on, short_since=None, had_surplus=on.had_surplus or sp.measured)
    if sp.target_a != ch.setpoint_a:
        return c.out(Action.ADJUST, Reason.SURPLUS_ADJUST, sp.target_a, on, sp)
    return c.out(Action.HOLD, Reason.HOLD, sp.target_a, on, sp)


def _solar_short(c: Cycle, ch: ChargerSnapshot, sp: Surplus, on: PolicyState) -> Outcome:
    """The surplus falls short while charging: min current through the stop delay, then pause.

    The stop delay protects a solar session from clouds; a session that never had surplus since
    the car was last seen off (plugged in at night, or left on by manual mode) pauses at once.
    """
    s = c.settings
    stopped = _stopped(on)
    if not on.had_surplus:
        return c.out(Action.STOP, Reason.GRID_STOP, 0, stopped, sp)
    since = on.short_since or c.now
    if waited(since, c.now, s.stop_delay_s):
        return c.out(Action.STOP, Reason.SURPLUS_STOP, 0, stopped, sp)
    on = replace(on, short_since=since)
    if ch.setpoint_a != s.min_current_a:
        return c.out(Action.ADJUST, Reason.DIP_HOLD_MIN, s.min_current_a, on, sp)
    return c.out(Action.HOLD, Reason.STOP_DELAY, s.min_current_a, on, sp)


def _stopped(on: PolicyState) -> PolicyState:
    return replace(on, short_since=None, had_surplus=False, probing_since=None, probe_before_w=None)


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
        st = replace(
            st,
            last_command_at=now,
            settled_from=now + timedelta(seconds=s.settle_s),
            prev_draw_w=None if ch is None else ch.power_w,
        )
    if any(cmd.kind == "resume" for cmd in commands):
        st = replace(st, start_sent_at=now)
    return st
