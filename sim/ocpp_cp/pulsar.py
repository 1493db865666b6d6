"""A Wallbox Pulsar Plus and the car plugged into it, as seen from its OCPP 1.6J side: the model,
without sockets (sim/ocpp_cp/client.py puts it on a websocket).

What it does, as owners report the real one doing it:
- Under OCPP it never starts a session itself: a plugged-in car waits in Preparing for a
  RemoteStartTransaction. One that carries a charging profile fails the charger's validation.
- Limits arrive as charging profiles in amperes; 0 A suspends the session (SuspendedEVSE) and a
  new limit resumes it; anything between 0 and 6 A gives 6 A. The status follows a command after
  ``status_latency_s`` and the car's current after ``latency_s``.
- Firmware 6.x accepts profiles up to its ``ChargeProfileMaxStackLevel`` (3); firmware 5.x only
  at stack level 0. With ``ignores_limit`` it accepts every profile and keeps charging at its
  maximum (reported on some 6.4 units).
- It samples what ``MeterValuesSampledData`` names every ``MeterValueSampleInterval`` seconds,
  values as strings: power, energy register, current offered, current and voltage per phase. The
  car is ``sim.charger``'s: on ``car_phases`` (one: L1 only), tapering over its last ``taper_kwh``.
- Offline it keeps its samples and sends them after it reconnects, late. A 6.x unit reconnecting
  without a reboot sends no BootNotification until asked (TriggerMessage). A reboot forgets the
  running transaction; the installed profile survives it.

Time comes from the caller: every method takes or reads ``now``, so a replay can run a day of it
in seconds. A lock guards it, because the simulated meter asks for its draw from another thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sim.charger import accepted_a
from sim.ocpp_cp.messages import (
    DEFAULT_CONFIG,
    MEASURAND_UNITS,
    Outgoing,
    boot_payload,
    ocpp_time,
    sampled_values,
)

Clock = Callable[[], datetime]

FW6 = "6.7.38"
FW5 = "5.17.87"
MIN_CURRENT_A = 6
#: 3 x 230.9 V: the 692.8 W per amp of a 3N~400 V connection.
DEFAULT_VOLTAGE_V = 400 / math.sqrt(3)
SUPPORTED_MEASURANDS = tuple(MEASURAND_UNITS)


class Pulsar:
    """The charger and the car (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        firmware: str = FW6,
        ignores_limit: bool = False,
        car_phases: int = 3,
        car_max_current_a: float = 32.0,
        max_current_a: int = 32,
        latency_s: float = 4.0,
        status_latency_s: float = 0.5,
        voltage_v: float = DEFAULT_VOLTAGE_V,
        car_connected: bool = True,
        kwh_to_full: float | None = None,
        taper_kwh: float = 0.0,
        serial: str = "PLP1-0-2-4-9-002-E",
    ) -> None:
        if car_phases not in (1, 2, 3):
            raise ValueError("car_phases must be 1, 2 or 3")
        self._lock = threading.RLock()
        self.firmware = firmware
        self.ignores_limit = ignores_limit
        self.car_phases = car_phases
        self.car_max_current_a = car_max_current_a
        self.max_current_a = max_current_a
        self.latency_s = latency_s
        self.status_latency_s = status_latency_s
        self.voltage_v = voltage_v
        self.car_connected = car_connected
        self.kwh_to_full, self.taper_kwh = kwh_to_full, taper_kwh
        self.serial = serial
        self.config = dict(DEFAULT_CONFIG)
        if self.firmware_major >= 6:
            self.config["ChargeProfileMaxStackLevel"] = "3"
        #: The installed TxDefaultProfile's limit; None: no profile, the charger's maximum.
        self.profile_a: float | None = None
        self.offered_a = float(max_current_a)  # what the status and Current.Offered show
        self.drawn_limit_a = float(max_current_a)  # what the car draws up to, after latency
        self.transaction_id: int | None = None
        self.meter_start_wh = 0
        self.energy_wh = 1_234_567.0
        self.car_full = False
        self.finished = False  # a transaction ended with the car still plugged in
        self._stop_requested = False
        self.booted = False  # BootNotification accepted since power-on
        self.heartbeat_s = 60.0
        self.requested_start: str | None = None  # idTag of an accepted RemoteStart
        #: Seconds it sits on a SetChargingProfile before answering (a hung charger, for tests).
        self.stall_s = 0.0
        self.commands: list[str] = []  # what it was told, for tests: "limit 10", "start", ...
        self._t = clock()
        self._pending: list[tuple[datetime, str, float]] = []
        self._told_status: str | None = None
        self._next_sample: datetime | None = None
        self._next_heartbeat: datetime | None = None

    @property
    def firmware_major(self) -> int:
        return int(self.firmware.split(".")[0])

    # -- physics -------------------------------------------------------------------------------

    def advance(self, now: datetime) -> None:
        """Apply commands whose latency has passed and count energy up to ``now``."""
        with self._lock:
            self._pending.sort(key=lambda p: p[0])
            while self._pending and self._pending[0][0] <= now:
                at, kind, value = self._pending.pop(0)
                self._integrate(max(at, self._t))
                setattr(self, kind, value)
            self._integrate(now)

    def _integrate(self, until: datetime) -> None:
        dt = (until - self._t).total_seconds()
        if dt <= 0:
            return
        wh = self._power_w() * dt / 3600
        self.energy_wh += wh
        if self.kwh_to_full is not None and wh > 0:
            self.kwh_to_full -= wh / 1000
            if self.kwh_to_full <= 0 or self._accepted_a() < 0.5:
                self.car_full = True
        self._t = until

    def current_a(self) -> tuple[float, float, float]:
        """Current per phase (L1-L3) now."""
        with self._lock:
            if self.transaction_id is None or not self.car_connected or self.car_full:
                return (0.0, 0.0, 0.0)
            a = min(self.drawn_limit_a, self._accepted_a())
            l1, l2, l3 = (a if i < self.car_phases else 0.0 for i in range(3))
            return (l1, l2, l3)

    def _accepted_a(self) -> float:
        return accepted_a(self.car_max_current_a, self.kwh_to_full, self.taper_kwh)

    def _power_w(self) -> float:
        return sum(self.current_a()) * self.voltage_v

    def power_w(self, now: datetime) -> float:
        with self._lock:
            self.advance(now)
            return self._power_w()

    def phase_powers_w(self, now: datetime) -> tuple[float, float, float]:
        """The draw on L1, L2, L3, as the meter sees it."""
        with self._lock:
            self.advance(now)
            l1, l2, l3 = (a * self.voltage_v for a in self.current_a())
            return (l1, l2, l3)

    @property
    def status(self) -> str:
        with self._lock:
            if not self.car_connected:
                return "Available"
            if self.transaction_id is None:
                return "Finishing" if self.finished else "Preparing"
            if self.offered_a <= 0:
                return "SuspendedEVSE"
            if self.car_full:
                return "SuspendedEV"
            return "Charging"

    # -- what the central system tells it ------------------------------------------------------

    def set_profile(self, profile: dict[str, Any], now: datetime) -> str:
        """A SetChargingProfile's ``cs_charging_profiles``: Accepted or Rejected."""
        with self._lock:
            self.advance(now)
            schedule = profile.get("charging_schedule") or {}
            periods = schedule.get("charging_schedule_period") or []
            level = int(profile.get("stack_level", 0))
            top = 0 if self.firmware_major <= 5 else int(self.config["ChargeProfileMaxStackLevel"])
            if schedule.get("charging_rate_unit") != "A" or not periods or level > top:
                self.commands.append(f"rejected profile at stack level {level}")
                return "Rejected"
            limit = float(periods[0]["limit"])
            self.commands.append(f"limit {limit:g}")
            self.profile_a = limit
            self._apply_limit(now)
            return "Accepted"

    def clear_profile(self, now: datetime) -> None:
        with self._lock:
            self.advance(now)
            self.profile_a = None
            self._apply_limit(now)

    def _limit_in_force(self) -> float:
        top = float(self.max_current_a)
        if self.profile_a is None or self.ignores_limit:
            return top
        return min(max(self.profile_a, MIN_CURRENT_A) if self.profile_a > 0 else 0.0, top)

    def _apply_limit(self, now: datetime) -> None:
        a = self._limit_in_force()
        self._pending.append((now + timedelta(seconds=self.status_latency_s), "offered_a", a))
        self._pending.append((now + timedelta(seconds=self.latency_s), "drawn_limit_a", a))

    def remote_start(self, id_tag: str, now: datetime) -> str:
        with self._lock:
            self.advance(now)
            if not self.car_connected or self.transaction_id is not None or self.requested_start:
                return "Rejected"
            self.commands.append("start")
            self.requested_start, self.finished = id_tag, False
            return "Accepted"

    def remote_stop(self, transaction_id: int, now: datetime) -> str:
        with self._lock:
            self.advance(now)
            if transaction_id != self.transaction_id:
                return "Rejected"
            self.commands.append("stop")
            self._stop_requested = True
            return "Accepted"

    def configure(self, key: str, value: str) -> str:
        with self._lock:
            if key not in self.config:
                return "NotSupported"
            if key == "MeterValuesSampledData":
                if any(m.strip() not in SUPPORTED_MEASURANDS for m in value.split(",")):
                    return "Rejected"
            elif key in ("MeterValueSampleInterval", "HeartbeatInterval"):
                if not value.isdigit():
                    return "Rejected"
                self._next_sample = self._next_heartbeat = None
            self.config[key] = value
            self.commands.append(f"config {key}={value}")
            return "Accepted"

    # -- the car and the charger's own events --------------------------------------------------

    def plug_in(self, now: datetime, kwh_to_full: float | None = None) -> None:
        with self._lock:
            self.advance(now)
            self.car_connected, self.car_full, self.kwh_to_full = True, False, kwh_to_full
            self.finished = False

    def unplug(self, now: datetime) -> list[Outgoing]:
        """The car leaves: its transaction stops (the StopTransaction to send)."""
        with self._lock:
            self.advance(now)
            self.car_connected = False
            out = self._stop(now, "EVDisconnected")
            self.finished = False
            return out

    def reboot(self, now: datetime) -> None:
        """Power cycle: the transaction is forgotten (no StopTransaction), the profile kept."""
        with self._lock:
            self.advance(now)
            self.transaction_id = self.requested_start = self._told_status = None
            self.booted = False
            self._pending.clear()
            self._next_sample = self._next_heartbeat = None
            a = float(self.max_current_a) if self.profile_a is None else self.profile_a
            self.offered_a = self.drawn_limit_a = (
                a if not self.ignores_limit else self.max_current_a
            )

    def _stop(self, now: datetime, reason: str) -> list[Outgoing]:
        if self.transaction_id is None:
            return []
        payload = {
            "transaction_id": self.transaction_id,
            "meter_stop": round(self.energy_wh),
            "timestamp": ocpp_time(now),
            "reason": reason,
            "id_tag": "",
        }
        self.transaction_id = None
        self.finished = self.car_connected
        return [Outgoing("StopTransaction", payload)]

    # -- what it sends -------------------------------------------------------------------------

    def boot_notification(self) -> Outgoing:
        return Outgoing("BootNotification", boot_payload(self.serial, self.firmware))

    def boot_accepted(self, interval_s: float) -> None:
        with self._lock:
            self.booted = True
            self.heartbeat_s = interval_s

    def transaction_started(self, transaction_id: int, now: datetime) -> None:
        """A session starts at the limit its default profile sets, not at the last one drawn."""
        with self._lock:
            self.advance(now)
            self.transaction_id = transaction_id
            self.offered_a = self.drawn_limit_a = self._limit_in_force()

    def start_transaction(self, now: datetime) -> Outgoing | None:
        """The StartTransaction an accepted RemoteStart calls for, once."""
        with self._lock:
            tag, self.requested_start = self.requested_start, None
            if tag is None or not self.car_connected:
                return None
            self.meter_start_wh = round(self.energy_wh)
            return Outgoing(
                "StartTransaction",
                {
                    "connector_id": 1,
                    "id_tag": tag,
                    "meter_start": self.meter_start_wh,
                    "timestamp": ocpp_time(now),
                },
            )

    def status_notification(self, now: datetime) -> Outgoing:
        with self._lock:
            self._told_status = status = self.status
            return Outgoing(
                "StatusNotification",
                {
                    "connector_id": 1,
                    "error_code": "NoError",
                    "status": status,
                    "timestamp": ocpp_time(now),
                    "vendor_id": "com.wallbox",
                },
            )

    def meter_values(self, now: datetime, context: str = "Sample.Periodic") -> Outgoing:
        with self._lock:
            self.advance(now)
            wanted = {m.strip() for m in self.config["MeterValuesSampledData"].split(",")}
            values = sampled_values(
                wanted,
                context,
                energy_wh=self.energy_wh,
                power_w=self._power_w(),
                offered_a=self.offered_a,
                current_a=self.current_a(),
                voltage_v=self.voltage_v,
            )
            payload: dict[str, Any] = {
                "connector_id": 1,
                "meter_value": [{"timestamp": ocpp_time(now), "sampled_value": values}],
            }
            if self.transaction_id is not None:
                payload["transaction_id"] = self.transaction_id
            return Outgoing("MeterValues", payload)

    def due(self, now: datetime) -> list[Outgoing]:
        """What falls due by ``now``: a start, a status change, a sample, a heartbeat."""
        with self._lock:
            self.advance(now)
            out: list[Outgoing] = []
            if self._stop_requested:
                self._stop_requested = False
                out.extend(self._stop(now, "Remote"))
            start = self.start_transaction(now)
            if start is not None:
                out.append(start)
            if self.status != self._told_status:
                out.append(self.status_notification(now))
            interval = int(self.config["MeterValueSampleInterval"])
            if interval > 0 and (self._next_sample is None or now >= self._next_sample):
                if self._next_sample is not None:
                    out.append(self.meter_values(now))
                self._next_sample = now + timedelta(seconds=interval)
            if self._next_heartbeat is None or now >= self._next_heartbeat:
                if self._next_heartbeat is not None:
                    out.append(Outgoing("Heartbeat"))
                self._next_heartbeat = now + timedelta(seconds=self.heartbeat_s)
            return out

    def has_due(self, now: datetime) -> bool:
        """Whether ``due(now)`` would have anything to do: a driver may skip the tick if not."""
        with self._lock:
            timers = (self._next_sample, self._next_heartbeat)
            if any(t is None or now >= t for t in timers):
                return True
            if self._pending and now >= min(p[0] for p in self._pending):
                return True
            return bool(self._stop_requested or self.requested_start) or (
                self.status != self._told_status
            )

    def told_status_lost(self) -> None:
        """The last StatusNotification may not have arrived: send the status again."""
        self._told_status = None  # one assignment: atomic without the lock
