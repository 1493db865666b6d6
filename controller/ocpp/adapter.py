"""The charger port (``common.ports.Charger``) for a charge point on our own OCPP central system.

Where the cloud adapter reads a status once a minute and guesses in between, this one has the
charger's own measurements every 10 s: the connector status within a second of a change, the
real power and the current on each phase. So the snapshot is mostly measured; it falls back to
"setpoint x watts per amp" (named in ``estimated``) only while a sample cannot reflect what the
charger does now: taken before our last limit had ``settle_s`` to apply, before the last status
change, or too old. When samples are late (``MeterValueSampleInterval`` ignored, a lost message),
or none came since our last limit had its ``settle_s`` (the controller's 10 s cycle would
otherwise often fall between a new limit and the first sample that shows it, and steer on an
estimate), and a read is allowed, it asks for one with TriggerMessage and waits briefly.

Commands map onto charging profiles (controller/ocpp/chargepoint.py): ``set_current`` sends the
limit, or only remembers it while we hold the car paused (sending it would resume); ``pause`` is a
0 A limit; ``resume`` sends the remembered limit and, for a car waiting in Preparing, starts its
session with RemoteStartTransaction. A limit the charger accepted but does not apply (known on
some firmware) is detected from Current.Offered and the measured currents, logged once, and shown
as ``limit_ignored``.

Every call runs on the server's loop with a deadline; a missing connection, a timeout or a closed
socket is ``ChargerUnavailable``, a refusal ``CommandRefused``: all ``ChargerError``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from ocpp.v16.enums import MessageTrigger

from common.ports import ChargerError, ChargerStarting, ChargerUnavailable
from common.snapshot import ChargerSnapshot
from controller.ocpp.samples import Received, limit_ignored
from controller.ocpp.server import CentralSystem
from controller.ocpp.state import StationView

log = logging.getLogger("controller.ocpp")

#: From a new limit to samples that show it: the Pulsar reports the status within a second; how
#: fast the car's current follows is not measured by anyone we know of (our simulated Pulsar
#: takes 4 s). The policy waits as long before it trusts the meter again
#: (controller/chargers.py keeps the same number for it).
DEFAULT_SETTLE_S = 6.0
#: A limit is judged ignored only on samples this long after it changed: a slow ramp is not a
#: firmware that ignores limits.
VERIFY_AFTER_S = 30.0

#: Samples are asked for at most once in this share of the sample interval (a cycle of the
#: same length may wake a little early).
ASK_AGAIN = 0.8

#: A connected car that is off and has no transaction: resuming it needs a RemoteStart.
_NEEDS_START = frozenset({"Preparing", "Finishing"})
#: States in which the limit shows in the samples (the car is on its session).
_IN_SESSION = frozenset({"Charging", "SuspendedEVSE", "SuspendedEV"})


class OcppCharger:
    """A charge point connected to ``central`` (see the module docstring)."""

    def __init__(
        self,
        central: CentralSystem,
        watts_per_amp: float,
        *,
        settle_s: float = DEFAULT_SETTLE_S,
        verify_after_s: float = VERIFY_AFTER_S,
        max_sample_age_s: float = 60.0,
        min_current_a: int = 6,
        trigger_wait_s: float = 2.0,
    ) -> None:
        self.central = central
        self._wpa = watts_per_amp
        self._settle = timedelta(seconds=settle_s)
        self._verify_after = timedelta(seconds=verify_after_s)
        self._max_age = timedelta(seconds=max_sample_age_s)
        self._min_a = min_current_a
        self._trigger_wait_s = trigger_wait_s
        self._setpoint: int | None = None
        #: Whether we hold the car paused (0 A), and since when: None until we command.
        self._paused: tuple[bool, datetime] | None = None
        self._last_trigger: datetime | None = None
        self._warned_about: object = None
        self.triggers = 0  # TriggerMessage(MeterValues) sent, for tests and the log

    # -- the Charger protocol ------------------------------------------------------------------

    def snapshot(self, now: datetime, *, allow_read: bool = True) -> ChargerSnapshot:
        v = self._view()
        if allow_read and self._late(v, now):
            v = self._ask_for_sample(v, now)
        if v.status is None:
            raise ChargerStarting("charge point connected, waiting for its first status")
        return self._build(v, now)

    def set_current(self, current_a: int, now: datetime) -> None:
        current_a = int(current_a)
        v = self._view()
        if self._holds_paused(v):
            self._setpoint = current_a  # sent by the resume: a limit now would start the car
            return
        self.central.run(lambda cp: cp.set_limit(current_a), "SetChargingProfile")
        self._setpoint = current_a

    def pause(self, now: datetime) -> None:
        self._view()
        self.central.run(lambda cp: cp.set_limit(0), "SetChargingProfile(0 A)")
        self._paused = (True, now)

    def resume(self, now: datetime) -> None:
        v = self._view()
        limit_a = self._setpoint_of(v) or self._min_a
        if v.limit is None or v.limit.limit_a != limit_a:  # set_current may have sent it
            self.central.run(lambda cp: cp.set_limit(limit_a), "SetChargingProfile")
        self._setpoint = limit_a
        if v.status in _NEEDS_START:
            self.central.run(lambda cp: cp.remote_start(), "RemoteStartTransaction")
        self._paused = (False, now)

    @property
    def charger_id(self) -> str | None:
        v = self.central.view()
        return None if v is None else v.identity

    # -- reading -------------------------------------------------------------------------------

    def _view(self) -> StationView:
        v = self.central.view()
        if v is None or v.connection in ("never", "disconnected"):
            raise ChargerUnavailable("no charge point connected")
        if not v.ready:
            raise ChargerStarting("charge point connected, waiting for its BootNotification")
        return v

    def _late(self, v: StationView, now: datetime) -> bool:
        interval = timedelta(seconds=self.central.timing.meter_interval_s)
        if self._last_trigger is not None and now - self._last_trigger < ASK_AGAIN * interval:
            return False  # asked already: about once per interval, however deaf the charger
        if v.sample is None or now - v.sample.received_at > 1.5 * interval:
            return True
        # Our last limit has had its settle time and no sample since shows it.
        return v.limit is not None and v.sample.received_at < v.limit.at + self._settle <= now

    def _ask_for_sample(self, v: StationView, now: datetime) -> StationView:
        self._last_trigger = now
        self.triggers += 1
        try:
            self.central.run(lambda cp: cp.trigger(MessageTrigger.meter_values), "TriggerMessage")
        except ChargerError as e:
            log.info("Charge point %s: no sample asked for (%s)", v.identity, e)
            return v
        end = time.monotonic() + self._trigger_wait_s
        while time.monotonic() < end:
            fresh = self.central.view()
            if fresh is not None and fresh.sample is not v.sample:
                return fresh
            time.sleep(0.01)
        return self.central.view() or v

    def _reflects_now(self, r: Received | None, v: StationView, now: datetime) -> bool:
        """Whether the sample shows what the charger does now (see the module docstring)."""
        if r is None or now - r.received_at > self._max_age:
            return False
        if v.status_at is not None and r.received_at < v.status_at:
            return False
        return v.limit is None or r.received_at >= v.limit.at + self._settle

    def _setpoint_of(self, v: StationView) -> int | None:
        if self._setpoint is not None:
            return self._setpoint
        if v.limit is not None and v.limit.limit_a > 0:
            return v.limit.limit_a
        offered = None if v.sample is None else v.sample.sample.offered_a
        return round(offered) if offered else None

    def _holds_paused(self, v: StationView) -> bool:
        if self._paused is not None:
            return self._paused[0]
        return (v.limit is not None and v.limit.limit_a == 0) or v.status == "SuspendedEVSE"

    def _status(self, v: StationView) -> tuple[str, bool]:
        """The connector status, overlaid with our pause or resume until a status follows it."""
        status = v.status or ""
        if self._paused is None or (v.status_at is not None and v.status_at >= self._paused[1]):
            return status, False
        if self._paused[0] and status == "Charging":
            return "SuspendedEVSE", True
        if not self._paused[0] and status in ("SuspendedEVSE", *_NEEDS_START):
            return "Charging", True
        return status, False

    def _build(self, v: StationView, now: datetime) -> ChargerSnapshot:
        status, overlaid = self._status(v)
        setpoint = self._setpoint_of(v)
        r = v.sample
        estimated: set[str] = {"status"} if overlaid else set()
        currents = None
        if not overlaid and self._reflects_now(r, v, now) and r and r.sample.power_w is not None:
            power_w = r.sample.power_w
            currents = r.sample.current_a
        else:
            power_w = (setpoint or 0) * self._wpa if status == "Charging" else 0.0
            estimated.add("power_w")
        energy = None if r is None else r.sample.energy_wh
        added = None
        if energy is not None and v.meter_start_wh is not None and v.transaction_id is not None:
            added = max(energy - v.meter_start_wh, 0.0) / 1000.0
        return ChargerSnapshot(
            ts=now,
            charger_id=v.identity,
            status_id=None,
            setpoint_a=setpoint,
            power_w=power_w,
            added_energy_kwh=added,
            read_at=None if r is None else r.received_at,
            estimated=frozenset(estimated),
            connector_status=status,
            current_per_phase_a=currents,
            offered_a=None if r is None else r.sample.offered_a,
            limit_ignored=self._limit_ignored(v),
            firmware=None if v.boot is None else v.boot.firmware,
        )

    def _limit_ignored(self, v: StationView) -> bool:
        lim, r = v.limit, v.sample
        if lim is None or r is None or v.status not in _IN_SESSION:
            return False
        if r.received_at < lim.at + self._verify_after:
            return False
        verdict = limit_ignored(lim.limit_a, r.sample)
        if verdict and self._warned_about != lim:
            self._warned_about = lim
            drawn = "?" if r.sample.current_a is None else f"{max(r.sample.current_a):.1f}"
            log.warning(
                "Charge point %s accepted a %d A limit but offers %s A and draws %s A: its "
                "firmware ignores charging profiles (known on some Pulsar firmware); update the "
                "firmware, or steer it through the Wallbox cloud",
                v.identity,
                lim.limit_a,
                "?" if r.sample.offered_a is None else f"{r.sample.offered_a:.1f}",
                drawn,
            )
        return bool(verdict)
