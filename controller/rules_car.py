"""The rules for what the charger and the store really do, beside the model the surplus rules
assume: a store that missed a cycle, a status id no table lists that still draws power, a Ready
charger that may hold a car on a schedule, a schedule that keeps the car from starting or starts
it itself (docs/design.md, "Decision rules" and "Fail-safe").

Same shape as controller.rules: each takes the cycle and the state and returns an ``Outcome``;
``observe`` is the bookkeeping a status read brings before any rule runs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from common.models import Action, Mode, Reason
from common.snapshot import READY_IDS, ChargerSnapshot, Phase, status_phase
from controller.rules import Cycle, Outcome, idle, waited
from controller.state import START_RETRY_S, PolicySettings, PolicyState

#: Cycles whose store reads may fail before the stale rule applies: a locked database or a slow
#: InfluxDB for a minute must not pause a running solar session.
STORE_GRACE_CYCLES = 2


def observe(state: PolicyState, ch: ChargerSnapshot | None) -> PolicyState:
    """What a status read (not our own estimate) ends: a Ready episode, a refused start, a
    schedule's session. (The phase it shows is kept for the next cycle after the decision.)"""
    if ch is None or "status" in ch.estimated:
        return state
    if not ch.ready:
        state = replace(state, ready_probed=False)
    if ch.phase is not Phase.SCHEDULED:
        state = replace(state, start_refused_until=None, start_sent_at=None)
    if not ch.drawing:
        state = replace(state, schedule_charging=False)
    return state


def store_hiccup(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome | None:
    """The store did not answer this cycle: hold what the charger does, for a grace of cycles."""
    if not c.inputs.store_failed:
        return None
    if state.store_misses >= STORE_GRACE_CYCLES:
        return None  # the stale rule takes it from here
    state = replace(state, store_misses=state.store_misses + 1)
    if ch.enabled:
        return c.out(Action.HOLD, Reason.STORE_UNAVAILABLE, ch.setpoint_a or 0, state)
    return c.out(Action.NONE, Reason.STORE_UNAVAILABLE, 0, state)


def unknown_drawing(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome:
    """A status id we do not know, with power drawn: charging, as far as the grid-stop rule is
    concerned. In ``solar`` it is paused unless a surplus session pays for it."""
    mean_w = c.inputs.settled_mean_w
    if mean_w is None:
        mean_w = c.inputs.grid_power_mean_w
    paid = c.inputs.mode is not Mode.SOLAR or (
        state.had_surplus and mean_w is not None and c.surplus(ch, mean_w).covered
    )
    if paid:
        return c.out(Action.NONE, Reason.CHARGER_UNKNOWN, 0, state)
    return c.out(Action.STOP, Reason.GRID_STOP, 0, idle(state))


def ready_probe(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome | None:
    """Ready (161/162): no car, or a car waiting for a schedule set in the Wallbox app. Once per
    Ready episode, when the sun would start a car (in ``min_solar``: at all) for the start delay,
    ask for a start at min current: a waiting car then charges; with no car nothing happens and
    nothing is asked again until the status changes."""
    mean_w = c.inputs.settled_mean_w
    if c.inputs.mode is Mode.MANUAL or state.ready_probed or mean_w is None:
        return None
    sp = c.surplus(ch, mean_w)
    if c.inputs.mode is Mode.SOLAR and not c.start_covered(sp):
        return c.out(Action.NONE, Reason.NO_CAR, 0, replace(idle(state), ready_sun_since=None))
    since = state.ready_sun_since or c.now
    if not waited(since, c.now, c.settings.start_delay_s):
        return c.out(Action.NONE, Reason.NO_CAR, 0, replace(idle(state), ready_sun_since=since))
    probed = replace(
        idle(state),
        ready_probed=True,
        ready_sun_since=None,
        probing_since=c.now,
        probe_before_w=sp.mean_w,
    )
    return c.out(Action.START, Reason.READY_PROBE, c.settings.min_current_a, probed, sp)


def start_not_taken(
    state: PolicyState, ch: ChargerSnapshot, s: PolicySettings, now: datetime
) -> bool:
    """Our start went out a settle time ago, and a read still shows the charger Scheduled. Only
    a start of ours: a session the schedule paused by itself, hours after our last command of
    any kind, is no refused start."""
    return (
        ch.phase is Phase.SCHEDULED
        and "status" not in ch.estimated
        and state.start_sent_at is not None
        and (now - state.start_sent_at).total_seconds() >= s.settle_s
    )


def start_refused(c: Cycle, state: PolicyState) -> Outcome:
    """The schedule held the car: do not ask every cycle; ask again in an hour (the page says
    why and what to do)."""
    until = c.now + timedelta(seconds=START_RETRY_S)
    held = replace(
        idle(state), start_refused_until=until, start_sent_at=None, expected_drawing=False
    )
    return c.out(Action.NONE, Reason.START_REFUSED, 0, held)


def schedule_started(state: PolicyState, ch: ChargerSnapshot) -> bool:
    """A read shows the car charging right after one showed it Scheduled, or Ready while a
    schedule is enabled in the Wallbox app, and we did not start it: the app's schedule did (a
    cheap night tariff, say). Ready alone is no proof: a car plugged in at night starts from
    Ready too, and that one is a grid session."""
    if state.schedule_charging:
        return True
    if ch.phase is not Phase.CHARGING or "status" in ch.estimated:
        return False
    if state.expected_drawing is True:
        return False
    seen = state.seen_status_id
    return status_phase(seen) is Phase.SCHEDULED or (seen in READY_IDS and ch.schedule_set is True)


def schedule(c: Cycle, state: PolicyState) -> Outcome:
    """The user's schedule charges the car: leave it alone until it stops."""
    mine = replace(idle(state), schedule_charging=True, expected_drawing=None)
    return c.out(Action.NONE, Reason.SCHEDULE, 0, mine)
