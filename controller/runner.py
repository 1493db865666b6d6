"""``scc controller``: build the controller from the config and run its loop until a signal.

SIGTERM or Ctrl-C stops the loop after the cycle in progress, and abandons a Wallbox cloud
request that hangs (controller.deadline), a wait for the request budget, or a call to an OCPP
charger that does not answer, so the process ends within seconds even then (docs/design.md,
"Fail-safe"). The signal handler only sets a flag (common.stopping): one that took a lock could
hang the very process it should stop. With ``charger.kind: ocpp`` the central system listens for
the charger while the loop runs (controller.chargers), and its loop thread ends with the process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time

from common.config import Config
from common.heartbeat import write_heartbeat
from common.models import utcnow
from common.ports import ChargerError
from common.stopping import Stopping
from common.store import StoreError, open_store
from controller.chargers import open_charger, policy_settings
from controller.localstate import LocalStateFile, state_path
from controller.service import Controller, run_loop

log = logging.getLogger("controller")
#: ``--once`` with a local charger: how long to wait for it to connect (it retries on its own
#: schedule after the controller starts listening).
ONCE_WAIT_S = 60.0


def run_cli(config: Config, args: argparse.Namespace) -> int:
    if config.charger.kind == "wallbox_cloud":
        config.require("wallbox.username", "wallbox.password")
    try:
        store = open_store(config)
    except StoreError as e:
        log.error("Store unavailable at start: %s", e)
        return 1
    once = bool(getattr(args, "once", False))
    settings = policy_settings(config)
    kept = state_path(config)
    local = None if kept is None else LocalStateFile(kept)
    stopping = Stopping()
    try:
        wait_s = ONCE_WAIT_S if once else 0.0
        with open_charger(config, settings, wait_s=wait_s, stopping=stopping) as charger:
            controller = Controller(store, charger, settings, local=local)
            return _run(controller, config, once, stopping)
    except ChargerError as e:  # the OCPP port taken, say
        log.error("Charger: %s", e)
        return 1
    finally:
        stopping.close()
        store.close()


def _run(controller: Controller, config: Config, once: bool, stopping: Stopping) -> int:
    c = config.charging
    log.info(
        "Controller (%s): every %.0f s, %.0f s window, %d-%d A at %.1f W/A, start after %.0f s, "
        "stop after %.0f s",
        "local OCPP" if config.charger.kind == "ocpp" else "Wallbox cloud",
        c.interval_s,
        c.window_s,
        c.min_current_a,
        c.max_current_a,
        c.effective_watts_per_amp,
        c.start_delay_s,
        c.stop_delay_s,
    )
    if once:
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
        log.info("Signal %d: stopping (a hanging charger request is abandoned)", stopping.signum)
    log.info("Controller stopped")
    return 0
