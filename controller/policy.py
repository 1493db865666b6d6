"""The charging decision: pure, so every rule can be tested as a time series without any I/O.

``decide`` takes what one cycle knows (mode, window means of the grid power, the charger snapshot)
and the state carried between cycles (hysteresis timers, when the last command took effect), and
returns a ``Decision`` plus the next state. ``commands_for`` turns a decision into the few charger
calls it needs, and only those that change something.

The rules, and the reason each gives, are tabled in docs/design.md, "Decision rules". ``decide``
tries them in that order and the first that applies decides; each group is one function in
``controller.rules`` (the surplus) or ``controller.rules_car`` (what the charger and the store
really do beside that model: a store hiccup, an unknown status drawing power, Ready, schedules).
A wall clock that stepped back leaves no time in the state in the future (``after_clock_step``).
A mode change resets the timers but keeps what the charger physically does.
Currents never exceed what the installation allows (``PolicySettings.max_a``), so the setpoint
read back equals the one sent and no write repeats every cycle.

At start, ``seed_state`` takes what the last recorded decision says: a charger already handed back
in ``manual`` mode is not handed back again (that would resume a car the user paused in the
Wallbox app), and a ``solar`` session that was charging on surplus keeps its stop delay.

The window after a change (the yo-yo; docs/design.md, "The settle rule"): the surplus is
``charger_power_w - mean(grid_power_w)``, exact only when every reading in the mean was taken with
the charger drawing what it draws now. A mean that mixes readings from before and after a command
made the original scripts swing between too high and too low currents. So the service asks the
store for the mean ``since=settled_since(state)``: ``settle_s`` (30 s: the cloud takes 10-30 s to
pass a command on) after our last command, or the cycle at which a read showed a change we did not
cause. That costs nothing in steady state (no change, full window) and leaves 30 readings after a
change at the default 60 s interval; averaging reading by reading instead would need the charger's
draw at every second, which we know once a minute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeAlias

from common.models import Action, ChargerState, Decision, Mode, Reason
from common.snapshot import ChargerSnapshot, Phase
from controller.commands import Command, commands_for
from controller.rules import (
    NOT_CONTROLLABLE,
    Cycle,
    Outcome,
    changed_by_itself,
    enter_mode,
    manual,
    min_solar,
    not_controllable,
    probe_overdrawn,
    probe_stop,
    settling,
    stale,
    surplus_range,
    unexpected_change,
)
from controller.rules_car import (
    observe,
    ready_probe,
    schedule,
    schedule_started,
    start_not_taken,
    start_refused,
    store_hiccup,
    unknown_drawing,
)
from controller.rules_solar import solar_running, solar_start
from controller.share import book
from controller.state import (
    DEFAULT_SETTLE_S,
    DIP_KEEP_STEP_S,
    CarWatts,
    PolicyInputs,
    PolicySettings,
    PolicyState,
    after_clock_step,
    settled_since,
)

__all__ = [
    "DEFAULT_SETTLE_S",
    "NOT_CONTROLLABLE",
    "CarWatts",
    "Command",
    "Policy",
    "PolicyInputs",
    "PolicySettings",
    "PolicyState",
    "commands_for",
    "decide",
    "seed_state",
    "settled_since",
]

#: How long a restart may take for the state to keep what the charger showed and a schedule's
#: session: a controller updated or rebooted is back within minutes; after longer, what the
#: store says is old news.
RESTART_MEMORY_S = 900.0

#: What ``decide`` is: the Controller takes any function of this shape (the replay compares them).
Policy: TypeAlias = Callable[
    [PolicyInputs, PolicyState, PolicySettings, datetime], tuple[Decision, PolicyState]
]


def decide(
    inputs: PolicyInputs, state: PolicyState, settings: PolicySettings, now: datetime
) -> tuple[Decision, PolicyState]:
    """One cycle's decision and the state for the next cycle: the first rule that applies."""
    c = Cycle(inputs, settings, now)
    state = after_clock_step(enter_mode(state, inputs.mode), now, settings)
    if not inputs.store_failed:
        state = replace(state, store_misses=0)
    ch = inputs.charger
    state = book(observe(state, ch), inputs, now)
    if inputs.mode is Mode.MANUAL:
        return manual(c, state)
    special = None if ch is None else _as_it_is(c, ch, state)
    if special is not None:
        return special
    if ch is None or ch.phase in NOT_CONTROLLABLE:
        return not_controllable(c, ch, state)
    return _steer(c, ch, state)


def _as_it_is(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome | None:
    """The rules for what the charger really does beside the model (controller.rules_car)."""
    if ch.phase is Phase.UNKNOWN and ch.drawing:
        return unknown_drawing(c, ch, state)
    if ch.ready:
        return ready_probe(c, ch, state)
    if schedule_started(state, ch):
        return schedule(c, state)
    if start_not_taken(state, ch, c.settings, c.now):
        return start_refused(c, state)
    return None


def _steer(c: Cycle, ch: ChargerSnapshot, state: PolicyState) -> Outcome:
    """A car to steer: the data rules first, then the mode's surplus rules."""
    inputs = c.inputs
    hiccup = store_hiccup(c, ch, state)
    if hiccup is not None:
        return hiccup
    if inputs.grid_power_mean_w is None:
        return stale(c, ch, state)
    if probe_overdrawn(c, state):
        return probe_stop(c, state)
    if changed_by_itself(state, ch):
        return unexpected_change(c, ch, state)
    if inputs.settled_mean_w is None:
        return _while_settling(c, ch, state)
    surplus = c.surplus(ch, inputs.settled_mean_w)
    if inputs.mode is Mode.MIN_SOLAR:
        return min_solar(c, ch, surplus, state)
    if not ch.enabled:
        return solar_start(c, surplus, state)
    return solar_running(c, ch, surplus, state)


def _while_settling(
    c: Cycle, ch: ChargerSnapshot, state: PolicyState
) -> tuple[Decision, PolicyState]:
    """Settling after our command: act on a shortfall even the upper end of the surplus range
    shows (docs/design.md, "The settle rule"), else hold. A higher current waits for settled
    readings: raising on the lower end cost two points of solar share on 1-phase days."""
    span = surplus_range(c, ch, state)
    if span is None:
        return settling(c, ch, state)
    worst = span.most
    if worst.covered and worst.target_a >= (ch.setpoint_a or 0):
        return settling(c, ch, state)
    if c.inputs.mode is Mode.MIN_SOLAR:
        return min_solar(c, ch, worst, state)
    return solar_running(c, ch, worst, state)


#: Reasons a ``solar`` decision gives only while a session charges on (or holds through a dip
#: after) surplus.
_SURPLUS_REASONS = frozenset(
    {
        Reason.SURPLUS_START,
        Reason.SURPLUS_ADJUST,
        Reason.HOLD,
        Reason.DIP_HOLD_MIN,
        Reason.STOP_DELAY,
        Reason.SHARE_START,
        Reason.SHARE_HOLD,
    }
)


def seed_state(
    last: Decision | None,
    now: datetime,
    settings: PolicySettings,
    mode_since: datetime | None = None,
    point: ChargerState | None = None,
    dip_since: datetime | None = None,
) -> PolicyState:
    """The state to start with, from the last recorded decision (None: nothing recorded) and
    the last charger point.

    ``mode_since`` is when the stored mode was last set: a mode set after the last decision
    starts a new story (manual set again while the controller was down gets its release).

    A released charger in ``manual`` mode stays released however old the decision: releasing it
    again would resume a car the user paused since. A ``solar`` session charging on surplus
    keeps ``had_surplus`` only if the decision is recent (within the stop delay): a restart in a
    cloud then holds min current through what is left of the stop delay instead of pausing at
    once, while a session from hours ago says nothing about the car now. ``dip_since`` is when
    the dip in progress began, as the controller state file kept it: the dip goes on from
    there (a fresh stop delay at every restart let a crash loop charge from the grid for ever).
    A session the Wallbox app's schedule charges, and the status the charger showed (Scheduled:
    the schedule may start the car while we restart), are kept across a restart of up to
    ``RESTART_MEMORY_S``: a quick restart must not pause the user's night charge.
    """
    seen = _recent(point, now)
    if last is None or (mode_since is not None and mode_since > last.ts):
        return PolicyState(seen_status_id=seen)
    if last.mode is Mode.MANUAL and (
        last.action is Action.RELEASE
        or (last.action is Action.NONE and last.reason is Reason.MANUAL)
    ):
        return PolicyState(mode=Mode.MANUAL, released=True, seen_status_id=seen)
    age_s = (now - last.ts).total_seconds()
    if last.reason is Reason.SCHEDULE and 0 <= age_s <= RESTART_MEMORY_S:
        return PolicyState(mode=last.mode, schedule_charging=True, seen_status_id=seen)
    if (
        last.mode is Mode.SOLAR
        and last.action in (Action.START, Action.ADJUST, Action.HOLD)
        and last.reason in _SURPLUS_REASONS
        and 0 <= age_s <= max(settings.stop_delay_s, 0.0)
    ):
        on = PolicyState(mode=Mode.SOLAR, had_surplus=True, seen_status_id=seen)
        if not _kept_dip_fits(dip_since, last, settings):
            return on
        return replace(on, short_since=dip_since, dip_seen_at=last.ts)
    return PolicyState(seen_status_id=seen)


def _kept_dip_fits(dip_since: datetime | None, last: Decision, settings: PolicySettings) -> bool:
    """Whether the kept dip start can be the dip the last decision was in: not after it, and
    not so long before it that the last run would have paused already (a value left from a
    write that failed; the file keeps it up to ``DIP_KEEP_STEP_S`` older than it was)."""
    if dip_since is None:
        return False
    age_s = (last.ts - dip_since).total_seconds()
    return 0 <= age_s <= settings.stop_delay_s + DIP_KEEP_STEP_S


def _recent(point: ChargerState | None, now: datetime) -> int | None:
    if point is None or not 0 <= (now - point.ts).total_seconds() <= RESTART_MEMORY_S:
        return None
    return point.status_id
