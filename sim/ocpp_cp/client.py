"""The simulated Pulsar's OCPP 1.6J side on one websocket connection (the ``ocpp`` package, as
the charge point): answers to the central system's calls, and ``send`` for what the model emits.

Triggered messages go out at once, as a real charger answers a TriggerMessage within a second;
everything else the model emits on its own clock (sim/ocpp_cp/runner.py steps it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ocpp.exceptions import ProtocolError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from sim.ocpp_cp.messages import Outgoing
from sim.ocpp_cp.pulsar import Pulsar

log = logging.getLogger("sim.ocpp_cp")

TRIGGERABLE = ("BootNotification", "StatusNotification", "MeterValues", "Heartbeat")


class _Quiet(logging.LoggerAdapter):
    """The ``ocpp`` package logs every message at INFO; DEBUG here."""

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


class PulsarClient(ChargePoint):
    """One connection of the simulated Pulsar (see the module docstring)."""

    def __init__(
        self,
        identity: str,
        connection: Any,
        pulsar: Pulsar,
        clock: Callable[[], datetime],
        on_reset: Callable[[], None],
        journal: list[str],
    ) -> None:
        super().__init__(
            identity,
            connection,
            response_timeout=10,
            logger=_Quiet(logging.getLogger("sim.ocpp_cp.wire"), {}),
        )
        self.pulsar = pulsar
        self.clock = clock
        self._on_reset = on_reset
        #: Every action sent (">Name") and received ("<Name"), across connections: for tests.
        self.journal = journal

    async def send(self, msg: Outgoing) -> Any:
        """Send one message and apply its answer (boot accepted, transaction id)."""
        request = getattr(call, msg.action)(**msg.payload)
        self.journal.append(f">{msg.action}")
        if msg.action == "StatusNotification":
            log.info("%s: %s", self.id, msg.payload["status"])
        # The central system checks what it receives; the sim's own messages are checked against
        # the schema once, in its tests, not on every send (a replay sends 8 640 samples a day).
        result = await self.call(request, skip_schema_validation=True)
        if result is None:
            return None
        if msg.action == "BootNotification" and result.status == "Accepted":
            self.pulsar.boot_accepted(float(result.interval))
            self.pulsar.told_status_lost()  # a booted charger reports its status next
        elif msg.action == "StartTransaction":
            self.pulsar.transaction_started(int(result.transaction_id), self.clock())
        return result

    def _got(self, action: str) -> None:
        self.journal.append(f"<{action}")

    @on(Action.get_configuration)
    def on_get_configuration(
        self, key: list[str] | None = None, **_: Any
    ) -> call_result.GetConfiguration:
        self._got("GetConfiguration")
        config = self.pulsar.config
        keys = key or list(config)
        known = [{"key": k, "readonly": False, "value": config[k]} for k in keys if k in config]
        unknown = [k for k in keys if k not in config]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(
        self, key: str, value: str, **_: Any
    ) -> call_result.ChangeConfiguration:
        self._got("ChangeConfiguration")
        return call_result.ChangeConfiguration(status=self.pulsar.configure(key, value))

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> call_result.SetChargingProfile:
        self._got("SetChargingProfile")
        if self.pulsar.stall_s:  # a charger that hangs
            await asyncio.sleep(self.pulsar.stall_s)
        status = self.pulsar.set_profile(cs_charging_profiles, self.clock())
        log.info("Charging profile %s: %s", cs_charging_profiles.get("charging_schedule"), status)
        return call_result.SetChargingProfile(status=status)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **_: Any) -> call_result.ClearChargingProfile:
        self._got("ClearChargingProfile")
        self.pulsar.clear_profile(self.clock())
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, charging_profile: dict[str, Any] | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        self._got("RemoteStartTransaction")
        if charging_profile is not None:  # what the real one answers to a profile in here
            raise ProtocolError(description="validation of RemoteStartTransaction failed")
        status = self.pulsar.remote_start(id_tag, self.clock())
        log.info("Remote start (%s): %s", id_tag, status)
        return call_result.RemoteStartTransaction(status=status)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(
        self, transaction_id: int, **_: Any
    ) -> call_result.RemoteStopTransaction:
        self._got("RemoteStopTransaction")
        status = self.pulsar.remote_stop(transaction_id, self.clock())
        return call_result.RemoteStopTransaction(status=status)

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **_: Any) -> call_result.TriggerMessage:
        self._got(f"TriggerMessage({requested_message})")
        ok = requested_message in TRIGGERABLE
        return call_result.TriggerMessage(status="Accepted" if ok else "NotImplemented")

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message: str, **_: Any) -> None:
        now, p = self.clock(), self.pulsar
        messages = {
            "BootNotification": p.boot_notification,
            "StatusNotification": lambda: p.status_notification(now),
            "MeterValues": lambda: p.meter_values(now, "Trigger"),
            "Heartbeat": lambda: Outgoing("Heartbeat"),
        }
        make = messages.get(requested_message)
        if make is not None:
            await self.send(make())

    @on(Action.change_availability)
    def on_change_availability(self, **_: Any) -> call_result.ChangeAvailability:
        self._got("ChangeAvailability")
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.reset)
    def on_reset(self, **_: Any) -> call_result.Reset:
        self._got("Reset")
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, **_: Any) -> None:
        self._on_reset()

    @on(Action.unlock_connector)
    def on_unlock_connector(self, **_: Any) -> call_result.UnlockConnector:
        self._got("UnlockConnector")
        return call_result.UnlockConnector(status="NotSupported")  # a fixed cable
