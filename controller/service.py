"""The controller process: every ``interval_s`` read, decide, act, record.

``Controller.run_cycle(now)`` is one cycle and never sleeps, so the simulator can drive it in
simulated time; ``run_loop`` owns the cadence and takes its clock and sleep function from the
caller. A failing store or charger costs one cycle (logged, recorded where possible); the loop
keeps its fixed cadence and exits only on a signal.

The charger is read once a minute in every mode, ``manual`` included: the read steers nothing
there, but the charger point it gives each cycle is what the phone page, ``scc status`` and the
day's kWh show when the user charges the car full by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from common.models import Action, Decision, Mode, PhaseMeans, Reason, utcnow
from common.ports import Charger, ChargerError, ChargerStarting
from common.snapshot import ChargerSnapshot
from common.store import Store, StoreError, UnreadableRow
from common.store.base import series_start as store_series_start
from controller.carwatch import CarWatch
from controller.describe import describe, notice_lines, steady_due
from controller.localstate import LocalState, LocalStateFile, dip_to_keep
from controller.policy import (
    Command,
    Policy,
    PolicyInputs,
    PolicySettings,
    PolicyState,
    commands_for,
    decide,
    seed_state,
    settled_since,
)
from controller.rules import PROBE_LOOK_S, overdrawn
from controller.rules_car import STORE_GRACE_CYCLES
from controller.sender import CommandSender
from controller.step import grid_series, pending_step, series_start, settle_at_step

log = logging.getLogger("controller")
T = TypeVar("T")


class Controller:
    """One house, one charger: the state the policy carries and the I/O around it."""

    def __init__(
        self,
        store: Store,
        charger: Charger,
        settings: PolicySettings,
        policy: Policy = decide,
        local: LocalStateFile | None = None,
    ) -> None:
        self.store = store
        self.charger = charger
        self.settings = settings
        #: The decision function; the replay swaps in others to compare them on the same I/O.
        self.policy = policy
        self.state = PolicyState()
        self._seeded = False
        self.local = local
        kept = None if local is None else local.load()
        #: The last mode read (from the store; at a start with the store down, from the local
        #: state file); None: not known, so nothing is sent.
        self._mode: Mode | None = None if kept is None else kept.mode
        self._kept_released = kept is not None and kept.released
        self._kept_dip = None if kept is None else kept.dip_since
        self.car = CarWatch(settings.watts_per_amp, kept)
        #: The last cycle's reason and mode: a new one is news for the log.
        self._last_reason_mode: tuple[Reason, Mode] | None = None
        self._cycle_logged_at: datetime | None = None  # the last cycle line at INFO
        self._last_snapshot: ChargerSnapshot | None = None
        self._reported: set[str] = set()  # unreadable rows already logged
        self.sender = CommandSender(charger, settings.min_current_a)
        self.failures = 0  # cycles in which the store or the charger failed

    def run_cycle(self, now: datetime) -> Decision:
        if not self._seeded and not self._seed(now) and self._mode is None:
            # The mode is unknown (the store is down since start, and no state file says): a
            # command now could pause a car the user set to manual, or resume one they paused.
            # Send nothing until it is known; the decision cannot be recorded either.
            self.failures += 1
            return Decision(
                ts=now,
                mode=Mode.SOLAR,
                action=Action.NONE,
                reason=Reason.STORE_UNAVAILABLE,
                target_a=0,
            )
        mode = self._read_mode()
        self.state = self._find_step(now)
        full_w, settled_w, store_ok = self._read_means(now)
        settled_from = settled_since(self.state)  # before deciding: the window the means cover
        # The meter's step first: the snapshot is corrected, and the policy divides, at the
        # same watts per ampere.
        self._learn_step(now)
        snap, charger_ok = self._read_charger(now)
        inputs = PolicyInputs(
            mode=mode,
            grid_power_mean_w=full_w,
            settled_mean_w=settled_w,
            charger=snap,
            car=self.car.car_watts(),
            store_failed=not store_ok,
            recent_mean_w=self._recent_mean(now, settled_from, snap is not None and snap.enabled),
        )
        decision, new_state = self.policy(inputs, self.state, self.settings, now)
        commands = commands_for(decision, snap)
        error = self.sender.send(commands, snap, now)
        if error is None:
            if commands:
                self.car.note_command(decision, snap, self._phase_means(now, settled_from), now)
            self.state = new_state
        else:
            # Nothing (or not all) happened: record that, keep the old state, retry next cycle.
            # A Ready probe counts as asked all the same (one per Ready episode): a charger that
            # answers it with an error, with no car behind it, would be asked every cycle.
            decision = replace(decision, action=Action.NONE, command_error=error)
            self.state = replace(self.state, ready_probed=new_state.ready_probed)
        self._log(decision, snap, commands, settled_from)
        recorded = self._record(decision, snap is not None, now)
        self.failures += not (store_ok and charger_ok and error is None and recorded)
        self._keep()
        return decision

    def look_in_s(self) -> float | None:
        """When the loop should look at the meter before the next cycle (``look``): while a
        start at min current measures the car; None: not before the next cycle."""
        measured = self.car.car_watts().measured_w_per_a is not None
        return None if self.state.probing_since is None or measured else PROBE_LOOK_S

    def look(self, now: datetime) -> Decision | None:
        """Between cycles, while a start measures the car: the meter shows within seconds what
        it draws, and the status would say so only at the next cycle. When it is the full
        configured draw and no surplus pays for it, the cycle runs now (and pauses it)."""
        before = self.state.probe_before_w
        recent = self._recent_mean(now, None, True)
        if before is None or recent is None or not overdrawn(recent, before, self.settings):
            return None
        # What it draws is measured too, or the next sunny spell would try it again.
        self.car.learn_probe()
        return self.run_cycle(now)

    # -- steps ---------------------------------------------------------------------------------

    def _recent_mean(self, now: datetime, since: datetime | None, on: bool) -> float | None:
        """Settled readings only, but all of them while a start measures the car: the step it
        looks for is the command's own. Not read for a charger that is off (``on``): nothing to
        cut, and a query saved every cycle of the night."""
        probing = self.state.probing_since is not None
        if not (probing or on):
            return None
        try:
            return self.store.grid_power_mean(PROBE_LOOK_S, now, None if probing else since)
        except StoreError:
            return None  # the cycle's own reads say what the store does

    def _seed(self, now: datetime) -> bool:
        """Start from what the last run decided (policy.seed_state); False while the store is
        down, so the next cycle tries again. Until then a mode from the local state file stands,
        with the stale rule: no grace for a store that was not there at start."""
        try:
            last = self._unreadable_is_none(self.store.last_decision)
            change = self._unreadable_is_none(self.store.get_mode)
            point = self._unreadable_is_none(self.store.last_charger_state)
        except StoreError as e:
            if self._mode is not None and self.state.mode is None:
                log.error(
                    "Store unavailable at start: mode %s from %s, no meter data: %s",
                    self._mode.value,
                    None if self.local is None else self.local.path,
                    e,
                )
                released = self._mode is Mode.MANUAL and self._kept_released
                self.state = PolicyState(
                    mode=self._mode, released=released, store_misses=STORE_GRACE_CYCLES
                )
            elif self._mode is None:
                log.error("Store unavailable at start: no command until the mode is known: %s", e)
            return False
        self._seeded = True
        if change is not None:
            self._mode = change.mode
        elif self._mode is None:
            self._mode = Mode.SOLAR
        mode_since = None if change is None else change.ts
        self.state = seed_state(last, now, self.settings, mode_since, point, self._kept_dip)
        if self.state.released:
            log.info("Manual mode continues: the charger was handed back before, left alone")
        return True

    def _unreadable_is_none(self, read: Callable[[], T]) -> T | None:
        """A row the store holds but we cannot read is an error logged once, not a stop."""
        try:
            return read()
        except UnreadableRow as e:
            self._report_once(e)
            return None

    def _report_once(self, e: UnreadableRow) -> None:
        if str(e) not in self._reported:
            self._reported.add(str(e))
            mode = (self._mode or Mode.SOLAR).value
            log.error("%s: carrying on in mode %s; set the mode again on the phone page", e, mode)

    def _read_mode(self) -> Mode:
        try:
            change = self.store.get_mode()
        except UnreadableRow as e:
            self._report_once(e)
            change = None
        except StoreError as e:
            log.error("Store unavailable, keeping mode %s: %s", (self._mode or Mode.SOLAR).value, e)
            change = None
        if change is not None:
            self._mode = change.mode
        return self._mode or Mode.SOLAR

    def _find_step(self, now: datetime) -> PolicyState:
        """The state with the last command settled at its step, when the meter shows it."""
        sent_at = pending_step(self.state, now)
        if sent_at is None:
            return self.state
        start = store_series_start(series_start(sent_at), 1.0)
        try:
            points = self.store.power_series(start, now, 1.0)
        except StoreError:
            return self.state  # the means say what the store does; the settle time stands
        return settle_at_step(self.state, grid_series(points, start, now), now)

    def _read_means(self, now: datetime) -> tuple[float | None, float | None, bool]:
        window = self.settings.window_s
        try:
            full = self.store.grid_power_mean(window, now)
            since = settled_since(self.state)
            settled = full if since is None else self.store.grid_power_mean(window, now, since)
        except StoreError as e:
            log.error("Store unavailable, no grid power this cycle: %s", e)
            return None, None, False
        return full, settled, True

    def _read_charger(self, now: datetime) -> tuple[ChargerSnapshot | None, bool]:
        """The snapshot as measured (controller.carwatch), and whether all went well."""
        try:
            snap = self.charger.snapshot(now)
        except ChargerStarting as e:
            log.info("Charger: %s", e)
            return None, True
        except ChargerError as e:
            log.error("Charger unavailable: %s", e)
            return None, False
        if snap.read_error:
            log.warning("Charger status not read (%s); using what was sent", snap.read_error)
        return self.car.see(snap), not snap.read_error

    def _phase_means(self, now: datetime, since: datetime | None) -> PhaseMeans | None:
        try:
            return self.store.grid_phase_means(self.settings.window_s, now, since)
        except StoreError:
            return None  # no step measured this time; the status still measures the car

    def _learn_step(self, now: datetime) -> None:
        since = self.car.step_since(now, self.settings.settle_s)
        if since is not None:
            self.car.learn_step(self._phase_means(now, since))

    def _log(
        self,
        decision: Decision,
        snap: ChargerSnapshot | None,
        commands: tuple[Command, ...],
        settled_from: datetime | None,
    ) -> None:
        changed = (decision.reason, decision.mode) != self._last_reason_mode
        self._last_reason_mode = (decision.reason, decision.mode)
        measured = self.car.car_watts().measured_w_per_a
        notices = notice_lines(
            self._last_snapshot, snap, self.car.news(), self.settings.watts_per_amp
        )
        if snap is not None:
            self._last_snapshot = snap
        due = steady_due(self._cycle_logged_at, decision.ts)
        lines = describe(
            decision, snap, self.settings, commands, settled_from, changed, measured, due
        )
        if lines[0].level >= logging.INFO:
            self._cycle_logged_at = decision.ts
        for line in [*notices, *lines]:
            log.log(line.level, line.text)

    def _record(self, decision: Decision, have_charger: bool, now: datetime) -> bool:
        ok = True
        try:
            self.store.write_decision(decision)
        except StoreError as e:
            log.error("Store unavailable, decision not recorded: %s", e)
            ok = False
        if not have_charger:
            return ok
        try:
            # After acting, so the point says what the charger does until the next cycle.
            after = self.car.correct(self.charger.snapshot(now, allow_read=False))
            self.store.write_charger_state(after.to_state())
        except (StoreError, ChargerError) as e:
            log.error("Charger state not recorded: %s", e)
            ok = False
        return ok

    def _keep(self) -> None:
        """What a restart with the store down needs (controller.localstate)."""
        if self.local is None or self._mode is None:
            return
        session = self.car.session
        self._kept_dip = dip_to_keep(self._kept_dip, self.state.short_since)
        self.local.save(
            LocalState(
                mode=self._mode,
                released=self.state.released,
                session=session.measured,
                session_best_status_w_per_a=session.best_status_w_per_a,
                last_w_per_a=self.car.last_w_per_a,
                lightest_w_per_a=self.car.lightest_w_per_a,
                dip_since=self._kept_dip,
            )
        )


def run_loop(
    controller: Controller,
    interval_s: float,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], bool | None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
    max_cycles: int | None = None,
    heartbeat: Callable[[datetime], object] | None = None,
    monotonic: Callable[[], float] | None = None,
) -> int:
    """Run cycles on a fixed cadence until ``stop()``; return the number of cycles run.

    A slow cycle does not shift the schedule; a cycle that overran a whole interval skips the
    missed ticks instead of running them back to back (which would burst the cloud's limits).
    The cadence runs on ``monotonic`` (time.monotonic at home; a simulated clock is its own), so
    a wall clock that steps back an hour does not stall the loop for that hour, nor a step
    forward fire a burst; each cycle is still stamped with the wall clock (docs/design.md,
    "Fail-safe").
    """
    mono = monotonic or (lambda: clock().timestamp())
    cycles = 0
    next_at = mono()
    while not stop() and (max_cycles is None or cycles < max_cycles):
        try:
            controller.run_cycle(clock())
        except Exception:  # a bug must not stop the charger from being steered next cycle
            log.exception("Controller cycle crashed")
        if heartbeat is not None:
            heartbeat(clock())  # after every cycle, failed or not: the loop is turning
        cycles += 1
        next_at += interval_s
        now_s = mono()
        if next_at <= now_s:
            missed = int((now_s - next_at) // interval_s) + 1
            log.warning("Cycle overran; skipping %d tick(s)", missed)
            next_at += missed * interval_s
        if stop():
            break
        _sleep_and_look(controller, next_at, mono, clock, sleep, stop)
    return cycles


def _sleep_and_look(
    controller: Controller,
    next_at: float,
    mono: Callable[[], float],
    clock: Callable[[], datetime],
    sleep: Callable[[float], bool | None],
    stop: Callable[[], bool],
) -> None:
    """Sleep until the next cycle; while a start measures the car, look at the meter every few
    seconds on the way (``Controller.look``)."""
    while not stop():
        left_s = next_at - mono()
        look_s = controller.look_in_s()
        if look_s is None or look_s >= left_s:
            sleep(max(left_s, 0.0))
            return
        sleep(look_s)
        try:
            controller.look(clock())
        except Exception:  # a bug must not stop the loop; the next cycle steers
            log.exception("Controller look crashed")
