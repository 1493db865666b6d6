"""One connected charge point as the central system sees it: answers to what it sends (OCPP 1.6J
through the ``ocpp`` package) and the few calls we make to it.

What the Wallbox Pulsar needs, learned from people who run it this way:
- Nothing goes to it before its BootNotification: firmware 6.6/6.7 answered an early
  GetConfiguration with a boot loop. Setup runs after each boot (our answer sent first).
- Setup reads the configuration (the stack level for profiles), asks for the measurands the
  policy uses every ``meter_interval_s`` (10 s), and asks for a fresh status and sample.
- Limits go as a TxDefaultProfile in whole amperes, one period from 0 s; 0 A pauses (the
  connector goes SuspendedEVSE) and a new limit resumes. Never RemoteStop: a Pulsar stopped that
  way would not resume. The kind and stack level depend on the firmware (``state.profile_styles``);
  the style that was accepted is kept until the next boot.
- Under OCPP the Pulsar never starts a session itself: it waits in Preparing for a
  RemoteStartTransaction with only a connector and an idTag (one that also carried a profile was
  refused by its schema validation).
- It authorizes with us: every Authorize, StartTransaction and StopTransaction is accepted, with
  transaction ids of our own, recovered from MeterValues after a restart of ours.

Errors::

    common.ports.ChargerError
    +-- CommandRefused      the charge point answered Rejected, or a CALLERROR

A call that gets no answer raises ``asyncio.TimeoutError``; a closed connection
``websockets.ConnectionClosed``. The adapter (controller/ocpp/adapter.py) turns both into
``ChargerUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import (
    IdTagInfo,
)
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    DataTransferStatus,
    MessageTrigger,
    RegistrationStatus,
)
from websockets.exceptions import ConnectionClosed

from common.ports import ChargerError
from controller.ocpp.profiles import charging_profile, profile_styles
from controller.ocpp.samples import Received, format_time, is_news, parse_meter_values
from controller.ocpp.state import Boot, LimitSent, StationState

log = logging.getLogger("controller.ocpp")

CONNECTOR = 1
#: Heartbeat interval we give the charge point (the Pulsar's own default is 60 s too).
HEARTBEAT_S = 60
#: 20 characters at most (OCPP's IdToken); any text works for a remote start.
ID_TAG = "solar-car-charge"
#: What the policy uses: the real power, the current per phase (how many phases the car takes),
#: the session's energy, and what the charger offers (to check that our limit took).
MEASURANDS = (
    "Power.Active.Import",
    "Current.Import",
    "Energy.Active.Import.Register",
    "Current.Offered",
)


@dataclass(frozen=True, slots=True)
class Timing:
    """The central system's clock settings; tests shorten them."""

    #: MeterValueSampleInterval we configure: a sample every 10 s, the controller's cycle.
    meter_interval_s: int = 10
    #: Deadline for one call to the charge point (the ``ocpp`` package's default is 30 s).
    call_timeout_s: float = 10.0
    #: Without a BootNotification this long after connecting, ask for one (FW 6.x needs it).
    boot_wait_s: float = 5.0
    #: Samples older than this on arrival are replays from an earlier connection.
    max_sample_age_s: float = 300.0


class CommandRefused(ChargerError):
    """The charge point refused a call (Rejected or a CALLERROR)."""


class _WireLog(logging.LoggerAdapter):
    """The ``ocpp`` package logs every message at INFO: a line every few seconds. DEBUG here."""

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


_ACCEPTED = IdTagInfo(status=AuthorizationStatus.accepted)


class CentralChargePoint(ChargePoint):
    """One websocket connection to the charge point (see the module docstring)."""

    def __init__(
        self,
        identity: str,
        connection: Any,
        state: StationState,
        timing: Timing,
        clock: Callable[[], datetime],
        next_transaction_id: Callable[[], int],
    ) -> None:
        super().__init__(
            identity,
            connection,
            response_timeout=timing.call_timeout_s,
            logger=_WireLog(logging.getLogger("controller.ocpp.wire"), {}),
        )
        self.state = state
        self.timing = timing
        self.clock = clock
        self.booted = asyncio.Event()
        self._next_transaction_id = next_transaction_id
        self._setup_lock = asyncio.Lock()

    # -- what the charge point sends -------------------------------------------------------------

    @on(Action.boot_notification)
    def on_boot_notification(
        self,
        charge_point_vendor: str,
        charge_point_model: str,
        firmware_version: str | None = None,
        charge_point_serial_number: str | None = None,
        **_: Any,
    ) -> call_result.BootNotification:
        now = self.clock()
        serial = charge_point_serial_number
        boot = Boot(charge_point_vendor, charge_point_model, firmware_version, serial, now)
        # A boot forgets the transaction (the charger may have); MeterValues bring it back.
        self.state.update(
            connection="booted",
            connection_at=now,
            boot=boot,
            transaction_id=None,
            profile_style=None,
            setup_done=False,
        )
        log.info(
            "Charge point %s booted: %s %s, firmware %s",
            self.id,
            charge_point_vendor,
            charge_point_model,
            firmware_version or "unknown",
        )
        return call_result.BootNotification(
            current_time=format_time(now), interval=HEARTBEAT_S, status=RegistrationStatus.accepted
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **_: Any) -> None:
        self.booted.set()
        await self.setup()

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=format_time(self.clock()))

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **_: Any
    ) -> call_result.StatusNotification:
        now = self.clock()
        before = self.state.view
        if connector_id == 0:
            self.state.update(station_status=status)
        else:
            changes: dict[str, Any] = dict(status=status, status_at=now, error_code=error_code)
            if status == "Available":  # the car is gone: so is its transaction
                changes["transaction_id"] = None
            self.state.update(**changes)
        if status != (before.station_status if connector_id == 0 else before.status):
            extra = "" if error_code == "NoError" else f" ({error_code})"
            log.info("Charge point %s connector %d: %s%s", self.id, connector_id, status, extra)
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
        **_: Any,
    ) -> call_result.MeterValues:
        now = self.clock()
        v = self.state.view
        last = None if v.sample is None else v.sample.sample
        newest = None
        dropped = 0
        for sample in parse_meter_values(meter_value):
            if is_news(sample, last, now, self.timing.max_sample_age_s):
                last = newest = sample
            else:
                dropped += 1
        changes: dict[str, Any] = {}
        if newest is not None:
            changes["sample"] = Received(newest, now)
        if dropped:
            changes["dropped_samples"] = v.dropped_samples + dropped
            log.info("Charge point %s: dropped %d late or replayed sample(s)", self.id, dropped)
        if transaction_id is not None and v.transaction_id is None and v.status != "Available":
            changes["transaction_id"] = transaction_id
        if changes:
            self.state.update(**changes)
        return call_result.MeterValues()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str, **_: Any) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info=_ACCEPTED)

    @on(Action.start_transaction)
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, **_: Any
    ) -> call_result.StartTransaction:
        tx = self._next_transaction_id()
        self.state.update(transaction_id=tx, meter_start_wh=float(meter_start))
        log.info("Charge point %s: transaction %d started (tag %s)", self.id, tx, id_tag or "-")
        return call_result.StartTransaction(transaction_id=tx, id_tag_info=_ACCEPTED)

    @on(Action.stop_transaction)
    def on_stop_transaction(self, transaction_id: int, **kw: Any) -> call_result.StopTransaction:
        if self.state.view.transaction_id == transaction_id:
            self.state.update(transaction_id=None)
        log.info(
            "Charge point %s: transaction %d stopped (%s)",
            self.id,
            transaction_id,
            kw.get("reason") or "no reason given",
        )
        return call_result.StopTransaction(id_tag_info=_ACCEPTED)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.firmware_status_notification)
    def on_firmware_status(self, status: str, **_: Any) -> call_result.FirmwareStatusNotification:
        log.info("Charge point %s firmware update: %s", self.id, status)
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    # -- what we ask of it -------------------------------------------------------------------

    async def _call(self, request: Any) -> Any:
        try:
            return await self.call(request, suppress=False)
        except OCPPError as e:
            name = type(request).__name__
            raise CommandRefused(f"{name}: the charge point answered {e.code}") from None

    async def set_limit(self, limit_a: int) -> None:
        """A TxDefaultProfile of ``limit_a`` whole amperes (0 pauses), in the first style the
        firmware accepts."""
        v = self.state.view
        styles = profile_styles(
            None if v.boot is None else v.boot.firmware,
            _int(v.configuration.get("ChargeProfileMaxStackLevel")),
        )
        if v.profile_style is not None:
            styles = (v.profile_style, *(s for s in styles if s != v.profile_style))
        refusals = []
        for style in styles:
            request = call.SetChargingProfile(
                connector_id=CONNECTOR,
                cs_charging_profiles=charging_profile(limit_a, style, self.clock()),
            )
            try:
                result = await self._call(request)
            except CommandRefused as e:
                refusals.append(f"{style}: {e}")
                continue
            if result.status == "Accepted":
                same = v.limit is not None and v.limit.limit_a == limit_a
                limit = v.limit if same else LimitSent(limit_a, self.clock())  # since it changed
                self.state.update(limit=limit, profile_style=style)
                if v.profile_style != style:
                    log.info("Charge point %s takes limits as %s", self.id, style)
                return
            refusals.append(f"{style}: {result.status}")
        raise CommandRefused(f"{limit_a} A limit refused ({'; '.join(refusals)})")

    async def remote_start(self) -> None:
        """Start a session for a car waiting in Preparing (nothing but a connector and a tag)."""
        result = await self._call(
            call.RemoteStartTransaction(id_tag=ID_TAG, connector_id=CONNECTOR)
        )
        if result.status != "Accepted":
            raise CommandRefused(f"RemoteStartTransaction: {result.status}")

    async def trigger(self, message: MessageTrigger, connector_id: int | None = CONNECTOR) -> bool:
        result = await self._call(
            call.TriggerMessage(requested_message=message, connector_id=connector_id)
        )
        return bool(result.status == "Accepted")

    # -- setup after each boot -----------------------------------------------------------------

    async def setup(self) -> None:
        """Configure the charge point; a step that fails is logged and the next one runs."""
        try:
            async with self._setup_lock:
                await self._setup()
        except ConnectionClosed:
            log.info("Charge point %s left during setup", self.id)

    async def _setup(self) -> None:
        for step in (self._read_configuration, self._configure_samples, self._ask_for_news):
            try:
                await step()
            except (CommandRefused, TimeoutError) as e:
                log.warning("Charge point %s setup, %s: %s", self.id, step.__name__[1:], e)
        limit = self.state.view.limit
        if limit is not None:  # a reboot may have lost it: a profile-less charger runs flat out
            try:
                await self.set_limit(limit.limit_a)
            except (CommandRefused, TimeoutError) as e:
                log.warning(
                    "Charge point %s: our %d A limit not restored: %s", self.id, limit.limit_a, e
                )
        v = self.state.update(setup_done=True)
        log.info(
            "Charge point %s ready: samples every %d s, measurands %s",
            self.id,
            self.timing.meter_interval_s,
            v.configuration.get("MeterValuesSampledData", "?"),
        )

    async def _read_configuration(self) -> None:
        result = await self._call(call.GetConfiguration())
        keys = {
            str(k.get("key")): str(k.get("value", ""))
            for k in result.configuration_key or ()
            if isinstance(k, dict)
        }
        self.state.update(configuration=keys)

    async def _change(self, key: str, value: str) -> bool:
        if self.state.view.configuration.get(key) == value:
            return True
        result = await self._call(call.ChangeConfiguration(key=key, value=value))
        ok = result.status in ("Accepted", "RebootRequired")
        if ok:
            config = dict(self.state.view.configuration, **{key: value})
            self.state.update(configuration=config)
        return bool(ok)

    async def _configure_samples(self) -> None:
        if not await self._change("MeterValuesSampledData", ",".join(MEASURANDS)):
            # Some firmware refuses a list with one it lacks: keep those it takes one by one.
            taken = [m for m in MEASURANDS if await self._change("MeterValuesSampledData", m)]
            if taken:
                await self._change("MeterValuesSampledData", ",".join(taken))
            log.warning("Charge point %s measures only %s", self.id, ", ".join(taken) or "nothing")
        if not await self._change("MeterValueSampleInterval", str(self.timing.meter_interval_s)):
            log.warning(
                "Charge point %s refused a sample every %d s", self.id, self.timing.meter_interval_s
            )

    async def _ask_for_news(self) -> None:
        await self.trigger(MessageTrigger.status_notification)
        await self.trigger(MessageTrigger.meter_values)
