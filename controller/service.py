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

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from common.config import Config
from common.heartbeat import write_heartbeat
from common.models import Action, CommandError, Decision, Mode, Reason, utcnow
from common.ports import Charger, ChargerError, ChargerStarting
from common.snapshot import ChargerSnapshot
from common.store import Store, StoreError, open_store
from controller.describe import describe
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
from controller.session import SessionFile, session_path
from controller.wallbox import WallboxCharger

log = logging.getLogger("controller")


class Controller:
    """One house, one charger: the state the policy carries and the I/O around it."""

    def __init__(
        self,
        store: Store,
        charger: Charger,
        settings: PolicySettings,
        policy: Policy = decide,
    ) -> None:
        self.store = store
        self.charger = charger
        self.settings = settings
        #: The decision function; the replay swaps in others to compare them on the same I/O.
        self.policy = policy
        self.state = PolicyState()
        self._seeded = False
        self._mode = Mode.SOLAR
        self._last_reason: Reason | None = None
        self.failures = 0  # cycles in which the store or the charger failed

    def run_cycle(self, now: datetime) -> Decision:
        failed = False
        if not self._seeded and not self._seed(now):
            # The mode is unknown (the store is down since start): a command now could pause a
            # car the user set to manual, or resume one they paused. Send nothing until it is
            # known; the decision cannot be recorded either, the store being down.
            self.failures += 1
            return Decision(
                ts=now,
                mode=self._mode,
                action=Action.NONE,
                reason=Reason.STORE_UNAVAILABLE,
                target_a=0,
            )
        mode = self._read_mode()
        full_w, settled_w, store_ok = self._read_means(now)
        failed |= not store_ok
        settled_from = settled_since(self.state)  # before deciding: the window the means cover
        snap: ChargerSnapshot | None = None
        try:
            snap = self.charger.snapshot(now)
        except ChargerStarting as e:
            log.info("Charger: %s", e)
        except ChargerError as e:
            log.error("Charger unavailable: %s", e)
            failed = True
        if snap is not None and snap.read_error:
            log.warning("Charger status not read (%s); using what was sent", snap.read_error)
            failed = True
        inputs = PolicyInputs(
            mode=mode, grid_power_mean_w=full_w, settled_mean_w=settled_w, charger=snap
        )
        decision, new_state = self.policy(inputs, self.state, self.settings, now)
        commands = commands_for(decision, snap)
        error = self._act(commands, now)
        if error is None:
            self.state = new_state
        else:
            failed = True
            # Nothing (or not all) happened: record that, keep the old state, retry next cycle.
            decision = replace(decision, action=Action.NONE, command_error=error)
        changed = decision.reason is not self._last_reason
        self._last_reason = decision.reason
        for line in describe(decision, snap, self.settings, commands, settled_from, changed):
            log.log(line.level, line.text)
        failed |= not self._record(decision, snap is not None, now)
        self.failures += failed
        return decision

    # -- steps ---------------------------------------------------------------------------------

    def _seed(self, now: datetime) -> bool:
        """Start from what the last run decided (policy.seed_state); False while the store is
        down, so the next cycle tries again."""
        try:
            last = self.store.last_decision()
            change = self.store.get_mode()
        except StoreError as e:
            log.error("Store unavailable at start: no command until the mode is known: %s", e)
            return False
        self._seeded = True
        self._mode = Mode.SOLAR if change is None else change.mode
        self.state = seed_state(last, now, self.settings, None if change is None else change.ts)
        if self.state.released:
            log.info("Manual mode continues: the charger was handed back before, left alone")
        return True

    def _read_mode(self) -> Mode:
        try:
            change = self.store.get_mode()
        except StoreError as e:
            log.error("Store unavailable, keeping mode %s: %s", self._mode.value, e)
            return self._mode
        self._mode = Mode.SOLAR if change is None else change.mode
        return self._mode

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

    def _act(self, commands: tuple[Command, ...], now: datetime) -> CommandError | None:
        for cmd in commands:
            try:
                if cmd.kind == "set_current":
                    assert cmd.current_a is not None
                    self.charger.set_current(cmd.current_a, now)
                elif cmd.kind == "resume":
                    self.charger.resume(now)
                else:
                    self.charger.pause(now)
            except ChargerError as e:
                log.error("Charger command %s failed: %s", cmd, e)
                return e.code
        return None

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
            after = self.charger.snapshot(now, allow_read=False)
            self.store.write_charger_state(after.to_state())
        except (StoreError, ChargerError) as e:
            log.error("Charger state not recorded: %s", e)
            ok = False
        return ok


def run_loop(
    controller: Controller,
    interval_s: float,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], bool | None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
    max_cycles: int | None = None,
    heartbeat: Callable[[datetime], object] | None = None,
) -> int:
    """Run cycles on a fixed cadence until ``stop()``; return the number of cycles run.

    A slow cycle does not shift the schedule; a cycle that overran a whole interval skips the
    missed ticks instead of running them back to back (which would burst the cloud's limits).
    """
    cycles = 0
    next_at = clock().timestamp()
    while not stop() and (max_cycles is None or cycles < max_cycles):
        try:
            controller.run_cycle(clock())
        except Exception:  # a bug must not stop the charger from being steered next cycle
            log.exception("Controller cycle crashed")
        if heartbeat is not None:
            heartbeat(clock())  # after every cycle, failed or not: the loop is turning
        cycles += 1
        next_at += interval_s
        now_s = clock().timestamp()
        if next_at <= now_s:
            missed = int((now_s - next_at) // interval_s) + 1
            log.warning("Cycle overran; skipping %d tick(s)", missed)
            next_at += missed * interval_s
        if stop():
            break
        sleep(max(next_at - now_s, 0.0))
    return cycles


def build_controller(config: Config, store: Store) -> Controller:
    settings = PolicySettings.from_config(config.charging)
    path = session_path(config)
    charger = WallboxCharger(
        config.wallbox,
        settings.watts_per_amp,
        settle_s=settings.settle_s,
        session_file=None if path is None else SessionFile(path),
    )
    return Controller(store, charger, settings)


def run_cli(config: Config, args: argparse.Namespace) -> int:
    config.require("wallbox.username", "wallbox.password")
    try:
        store = open_store(config)
    except StoreError as e:
        log.error("Store unavailable at start: %s", e)
        return 1
    try:
        controller = build_controller(config, store)
        c = config.charging
        log.info(
            "Controller: every %.0f s, %.0f s window, %d-%d A at %.1f W/A, start after %.0f s, "
            "stop after %.0f s",
            c.interval_s,
            c.window_s,
            c.min_current_a,
            c.max_current_a,
            c.effective_watts_per_amp,
            c.start_delay_s,
            c.stop_delay_s,
        )
        if getattr(args, "once", False):
            controller.run_cycle(utcnow())
            return 1 if controller.failures else 0
        stopping = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("Signal %d: stopping after this cycle", signum)
            stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        beat_path = config.health.heartbeat_file
        run_loop(
            controller,
            c.interval_s,
            sleep=stopping.wait,
            stop=stopping.is_set,
            heartbeat=(lambda now: write_heartbeat(beat_path, now)) if beat_path else None,
        )
        log.info("Controller stopped")
        return 0
    finally:
        store.close()
