"""``scc controller``: build the controller from the config and run its loop until a signal.

SIGTERM or Ctrl-C stops the loop after the cycle in progress, and abandons a Wallbox cloud
request that hangs (controller.deadline) or a wait for the request budget, so the process ends
within seconds even then (docs/design.md, "Fail-safe"). The signal handler only sets a flag
(common.stopping): one that took a lock could hang the very process it should stop.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time

from common.config import Config
from common.heartbeat import write_heartbeat
from common.models import utcnow
from common.stopping import Stopping
from common.store import Store, StoreError, open_store
from controller.localstate import LocalStateFile, state_path
from controller.policy import PolicySettings
from controller.service import Controller, run_loop
from controller.session import SessionFile, session_path
from controller.wallbox import WallboxCharger

log = logging.getLogger("controller")


def build_controller(config: Config, store: Store, stopping: Stopping | None = None) -> Controller:
    """The controller at home; ``stopping`` abandons a hanging request and a wait for the
    budget."""
    settings = PolicySettings.from_config(config.charging)
    path, kept = session_path(config), state_path(config)
    charger = WallboxCharger(
        config.wallbox,
        settings.watts_per_amp,
        settle_s=settings.settle_s,
        session_file=None if path is None else SessionFile(path),
        sleep=time.sleep if stopping is None else stopping.wait,
        monotonic=time.monotonic,
        stop=None if stopping is None else stopping.is_set,
    )
    local = None if kept is None else LocalStateFile(kept)
    return Controller(store, charger, settings, local=local)


def run_cli(config: Config, args: argparse.Namespace) -> int:
    config.require("wallbox.username", "wallbox.password")
    try:
        store = open_store(config)
    except StoreError as e:
        log.error("Store unavailable at start: %s", e)
        return 1
    stopping = Stopping()
    try:
        controller = build_controller(config, store, stopping)
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

        # A flag and a byte, no lock: a handler that takes a lock its own thread holds (as
        # Event.set() may) would hang the process SIGTERM should stop (common.stopping).
        stopping.on_signals((signal.SIGTERM, signal.SIGINT))
        beat_path = config.health.heartbeat_file
        run_loop(
            controller,
            c.interval_s,
            sleep=stopping.wait,
            stop=stopping.is_set,
            monotonic=time.monotonic,
            heartbeat=(lambda now: write_heartbeat(beat_path, now)) if beat_path else None,
        )
        if stopping.signum is not None:
            log.info("Signal %d: stopping (a hanging cloud request is abandoned)", stopping.signum)
        log.info("Controller stopped")
        return 0
    finally:
        stopping.close()
        store.close()
