"""Which charger the controller steers, from ``charger.kind``, and the policy's settle time for it.

- ``wallbox_cloud``: ``WallboxCharger`` through the Wallbox cloud, with the account and a session
  file; a command shows in the meter 10-30 s later, so the policy trusts the meter 30 s after it.
- ``ocpp``: our OCPP central system listens on ``ocpp.host:ocpp.port`` for the charger, and
  ``OcppCharger`` steers it (docs/design.md, "Local control (OCPP)"); no account. The charger's
  current follows in seconds, so the policy trusts the meter 6 s after a command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from common.config import Config
from common.ports import Charger
from common.stopping import Stopping

if TYPE_CHECKING:
    from controller.ocpp import OcppSettings
from controller.policy import DEFAULT_SETTLE_S, PolicySettings
from controller.session import SessionFile, session_path
from controller.wallbox import WallboxCharger

log = logging.getLogger("controller")
#: The OCPP adapter's settle time (controller/ocpp/adapter.py), here so that the cloud's path
#: does not load the OCPP stack (ocpp, jsonschema, websockets) just to read one number.
OCPP_SETTLE_S = 6.0


def policy_settings(config: Config) -> PolicySettings:
    settle_s = OCPP_SETTLE_S if config.charger.kind == "ocpp" else DEFAULT_SETTLE_S
    return PolicySettings.from_config(config.charging, settle_s=settle_s)


def ocpp_settings(config: Config) -> OcppSettings:
    from controller.ocpp import OcppSettings

    o = config.ocpp
    return OcppSettings(
        host=o.host, port=o.port, charge_point_id=o.charge_point_id, password=o.password
    )


@contextmanager
def open_charger(
    config: Config,
    settings: PolicySettings,
    wait_s: float = 0.0,
    stopping: Stopping | None = None,
) -> Iterator[Charger]:
    """The charger adapter for ``charger.kind``; for OCPP the central system runs meanwhile, and
    ``wait_s`` is how long to wait for the charger to connect before the first cycle. A stop
    requested in ``stopping`` abandons a hanging cloud request or OCPP call and a wait for the
    cloud's request budget (controller.deadline)."""
    stop = None if stopping is None else stopping.is_set
    if config.charger.kind != "ocpp":
        path = session_path(config)
        yield WallboxCharger(
            config.wallbox,
            settings.watts_per_amp,
            settle_s=settings.settle_s,
            session_file=None if path is None else SessionFile(path),
            sleep=time.sleep if stopping is None else stopping.wait,
            monotonic=time.monotonic,
            stop=stop,
        )
        return
    from controller.ocpp import CentralSystem, OcppCharger

    with CentralSystem(ocpp_settings(config), stop=stop) as central:
        if wait_s > 0:
            log.info("Waiting up to %.0f s for the charger to connect", wait_s)
            try:
                central.wait_ready(wait_s)
            except Exception as e:  # the first cycle says so again, as a charger error
                log.warning("%s", e)
        yield OcppCharger(central, settings.watts_per_amp, settle_s=settings.settle_s)
