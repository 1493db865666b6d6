"""The ``solar`` mode's rules for a car to steer: start on surplus, follow it, ride out a dip.

Split from controller.rules (the rules every mode shares). The order and the delays are in
docs/design.md, "Decision rules"; the share budget that lets a partial surplus start or hold min
current is controller.share.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from common.models import Action, Reason
from common.snapshot import ChargerSnapshot, Phase
from controller.rules import PROBE_S, Cycle, Outcome, Surplus, idle, stopped, waited
from controller.share import can_hold, can_start
from controller.state import PolicyState

#: A surplus this little short of the setpoint keeps it (``_small_dip``); this little short of
#: min current, it is no dip (``_near_min``).
SMALL_DIP_W = 100.0
#: A start on a surplus short of min current by less than ``SMALL_DIP_W`` waits this many start
#: delays: it takes a little from the grid from its first second.
NEAR_START_DELAYS = 2.0
#: A dip with no sun to protect pauses after this instead of the stop delay: a session on the
#: share budget (min current on a partial surplus) that falls further short or runs out of it,
#: and any session once the surplus is gone altogether (``_sunless``).
SUNLESS_STOP_S = 60.0
#: Sun covering min current this long forgives a whole stop delay's worth of dip; a shorter
#: spell forgives in proportion (``_forgiven``).
SUN_FORGIVES_S = 70.0
#: A session lives on the budget once it has held min current on it this long (a cycle or two
#: of it on the way into a cloud do not count).
BUDGET_LIVE_S = 300.0
#: A start on the budget counts as living on it from the start.
_LONG = timedelta(days=1)


def solar_start(c: Cycle, sp: Surplus, state: PolicyState) -> Outcome:
    """The charger is off: start once the surplus has covered min current for the start delay,
    or once the share budget has paid for the rest of it as long.

    A start the configured watts per ampere would not pay for, only a lighter car's (the car not
    measured yet), goes at min current and counts as no surplus yet (``probing``): the next cycle
    measures the car and either follows the surplus or pauses at once.
    """
    if state.start_refused_until is not None and c.now < state.start_refused_until:
        return c.out(Action.NONE, Reason.START_REFUSED, 0, idle(state), sp)
    near_since = (state.near_since or c.now) if _near_min(c, sp) else None
    state = replace(state, near_since=near_since)
    covered = c.start_covered(sp)
    if not covered and not can_start(state, c.settings, sp.surplus_w, _min_draw_w(c)):
        return _near_start(c, sp, state)
    since = state.surplus_since or c.now
    if not waited(since, c.now, c.settings.start_delay_s):
        return c.out(Action.NONE, Reason.START_DELAY, 0, replace(state, surplus_since=since), sp)
    started = replace(idle(state), had_surplus=sp.covered)
    if sp.covered:
        return c.out(Action.START, Reason.SURPLUS_START, sp.target_a, started, sp)
    min_a = c.settings.min_current_a
    if not covered:
        budget = replace(started, had_surplus=True, budget_since=c.now - _LONG)
        return c.out(Action.START, Reason.SHARE_START, min_a, budget, sp)
    probing = replace(started, probing_since=c.now, probe_before_w=sp.mean_w)
    return c.out(Action.START, Reason.SURPLUS_START, min_a, probing, sp)


def _near_start(c: Cycle, sp: Surplus, state: PolicyState) -> Outcome:
    """Off, on a surplus that is not min current but within ``SMALL_DIP_W`` of it (``_near_min``):
    start after ``NEAR_START_DELAYS`` start delays of it. The evening's surplus slides along min
    current for an hour on a grey day; a start that waited for all of it missed most of that."""
    since = state.near_since
    if since is None:
        return _no_surplus(c, sp, idle(state))
    if not waited(since, c.now, NEAR_START_DELAYS * c.settings.start_delay_s):
        waiting = replace(idle(state), near_since=since)
        return c.out(Action.NONE, Reason.START_DELAY, 0, waiting, sp)
    near = replace(idle(state), had_surplus=True)
    return c.out(Action.START, Reason.SURPLUS_START, sp.target_a, near, sp)


def _on_budget(c: Cycle, on: PolicyState) -> bool:
    """Whether the session lives on the share budget: started on it, or held min current on it
    for ``BUDGET_LIVE_S``."""
    return on.budget_since is not None and waited(on.budget_since, c.now, BUDGET_LIVE_S)


def _min_draw_w(c: Cycle) -> float:
    return c.settings.min_current_a * c.watts_per_amp


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
        if on.had_surplus and _near_min(c, sp):
            return _near_hold(c, ch, sp, on)
        return _solar_short(c, ch, sp, on)
    if not on.had_surplus and not sp.measured and sp.mean_w >= 0:
        # Importing, and the surplus rests on an estimate of the car's draw: a grid session.
        return c.out(Action.STOP, Reason.GRID_STOP, 0, stopped(on), sp)
    since = _forgiven(c, on)
    on = replace(
        on,
        short_since=since,
        dip_seen_at=None if since is None else c.now,
        had_surplus=on.had_surplus or sp.measured,
        budget_since=None if since is None else on.budget_since,
    )
    cut_a = _recent_cut(c, ch, sp)
    if cut_a is not None:
        return c.out(Action.ADJUST, Reason.SURPLUS_ADJUST, cut_a, on, sp)
    if sp.target_a != ch.setpoint_a and not _small_dip(c, ch, sp):
        return c.out(Action.ADJUST, Reason.SURPLUS_ADJUST, sp.target_a, on, sp)
    return c.out(Action.HOLD, Reason.HOLD, ch.setpoint_a or sp.target_a, on, sp)


def _forgiven(c: Cycle, on: PolicyState) -> datetime | None:
    """The dip's start once this cycle's sun is taken off it (None: the dip is over).

    A dip used to end at the first cycle that covered min current: on a grey day a 10-30 s
    burst of sun every few minutes kept one session at min current from the grid for many
    minutes (evcc, reading every 30 s, sees fewer of them). Now the sun's time does not count
    towards the dip, and each second of it forgives ``stop_delay_s / SUN_FORGIVES_S`` seconds
    more: a burst forgives part of the dip, ``SUN_FORGIVES_S`` of sun all of it. Only sun the
    window saw counts: cycles that did not decide (settling, no charger read) are not sun. The
    upper end of a settling range that covers min current counts as sun, as it ended a dip
    before; counted as dip, it made jun-mixed 3p of the realistic days start 10 times, not 9.
    """
    if on.short_since is None or on.dip_seen_at is None:
        return None
    sun_s = min(max((c.now - on.dip_seen_at).total_seconds(), 0.0), c.settings.window_s)
    forgiven_s = sun_s * (1.0 + c.settings.stop_delay_s / SUN_FORGIVES_S)
    since = on.short_since + timedelta(seconds=forgiven_s)
    return None if since >= c.now else since


def _paused_dip(c: Cycle, on: PolicyState) -> PolicyState:
    """The dip, if one is pending, with this cycle's time not counted: a hold the share budget
    pays for neither runs the stop delay nor forgives it."""
    if on.short_since is None or on.dip_seen_at is None:
        return replace(on, short_since=None, dip_seen_at=None)
    held_s = max((c.now - on.dip_seen_at).total_seconds(), 0.0)
    return replace(on, short_since=on.short_since + timedelta(seconds=held_s), dip_seen_at=c.now)


def _small_dip(c: Cycle, ch: ChargerSnapshot, sp: Surplus) -> bool:
    """Whether the surplus falls short of the current setpoint by less than ``SMALL_DIP_W``: the
    current is kept (one ampere down and up again a minute later loses more sun than it saves)."""
    short_w = (ch.setpoint_a or 0) * c.watts_per_amp - sp.surplus_w
    return sp.target_a < (ch.setpoint_a or 0) and 0 < short_w < SMALL_DIP_W


def _near_min(c: Cycle, sp: Surplus) -> bool:
    """Whether the surplus covers min current, or falls short of it by less than
    ``SMALL_DIP_W``: what that costs from the grid is in the noise of the car's own draw (a
    6 A car draws some tens of watts more or less with the mains voltage), and the sun it buys
    is more than 92 % of min current on one phase, 97 % on three. An upper bound while a command
    settles is no such surplus, and a user who asks for no grid energy on purpose (a share
    target of 1) gets none this way either."""
    if sp.bound or c.settings.solar_share_target >= 1.0:
        return False
    return _min_draw_w(c) - sp.surplus_w < SMALL_DIP_W


def _near_hold(c: Cycle, ch: ChargerSnapshot, sp: Surplus, on: PolicyState) -> Outcome:
    """A surplus just short of min current while charging: min current, and the dip neither
    runs nor is forgiven. On a grey evening the surplus slides along min current for an hour;
    each cycle a few watts under it ran the stop delay, and the pause that followed left
    nine-tenths of min current to the grid."""
    held = _paused_dip(c, on)
    if ch.setpoint_a != c.settings.min_current_a:
        return c.out(Action.ADJUST, Reason.SURPLUS_ADJUST, c.settings.min_current_a, held, sp)
    return c.out(Action.HOLD, Reason.HOLD, c.settings.min_current_a, held, sp)


def _recent_cut(c: Cycle, ch: ChargerSnapshot, sp: Surplus) -> int | None:
    """The lower current the last seconds pay for, when the sun has gone since the window's
    start: the window's mean still shows it for up to ``window_s``, and the car draws it from
    the grid all that time. Only down: a raise waits for the window (a burst of sun is over
    before a raise reaches the car). A shortfall under ``SMALL_DIP_W`` keeps the current, as
    on the window: the noisier mean must not step an ampere down and up again."""
    recent_w = c.inputs.recent_mean_w
    if recent_w is None:
        return None
    recent = c.surplus(ch, recent_w)
    if _small_dip(c, ch, recent) or recent.target_a >= min(sp.target_a, ch.setpoint_a or 0):
        return None
    return recent.target_a


def _sunless(sp: Surplus) -> bool:
    """Whether the surplus is gone altogether: the house alone imports, and min current comes
    wholly from the grid. The stop delay is there for a cloud's shadow with sun left in it; a
    kettle or an oven in a dark spell cost it 69 Wh of grid a time on one phase (three minutes
    of 1.4 kW)."""
    return sp.surplus_w < 0


def _solar_short(c: Cycle, ch: ChargerSnapshot, sp: Surplus, on: PolicyState) -> Outcome:
    """The surplus falls short while charging: min current on the share budget while it pays,
    else through the stop delay, then pause.

    The stop delay protects a solar session from clouds; a session that never had surplus since
    the car was last seen off (plugged in at night, or left on by manual mode) pauses at once.
    """
    s = c.settings
    off = stopped(on)
    if not on.had_surplus:
        return c.out(Action.STOP, Reason.GRID_STOP, 0, off, sp)
    if not sp.bound and can_hold(on, s, sp.surplus_w, _min_draw_w(c)):
        held = replace(_paused_dip(c, on), budget_since=on.budget_since or c.now)
        if ch.setpoint_a != s.min_current_a:
            return c.out(Action.ADJUST, Reason.SHARE_HOLD, s.min_current_a, held, sp)
        return c.out(Action.HOLD, Reason.SHARE_HOLD, s.min_current_a, held, sp)
    if not _on_budget(c, on):
        on = replace(on, budget_since=None)  # a short hold on the way into a cloud: forgotten
    since = on.short_since or c.now
    sunless = _on_budget(c, on) or _sunless(sp)
    delay_s = min(s.stop_delay_s, SUNLESS_STOP_S) if sunless else s.stop_delay_s
    if waited(since, c.now, delay_s):
        return c.out(Action.STOP, Reason.SURPLUS_STOP, 0, off, sp)
    on = replace(on, short_since=since, dip_seen_at=c.now)
    if ch.setpoint_a != s.min_current_a:
        return c.out(Action.ADJUST, Reason.DIP_HOLD_MIN, s.min_current_a, on, sp)
    return c.out(Action.HOLD, Reason.STOP_DELAY, s.min_current_a, on, sp)
