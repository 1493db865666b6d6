"""A simulated Wallbox Pulsar Plus with a car behind it: what the simulated cloud reports on.

It follows commands only after a latency, as the real charger does behind the cloud
(docs/design.md, "The Wallbox cloud"), draws setpoint x watts per ampere while the car takes
power, and counts the session's energy. Everything runs on an injected clock.

The car is the car, not the config: ``watts_per_amp`` is what it really draws per ampere and
``phases`` which meter phases that lands on (a plug-in hybrid on one phase of a 3-phase charger
draws on L1 only), and with ``taper_kwh`` it takes less and less current over its last kWh, as a
battery near full does (docs/design.md, "Surplus arithmetic").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

Clock = Callable[[], datetime]

DEFAULT_CHARGER_ID = 9988552


class SimCharger:
    """A Pulsar Plus with a car: follows commands after ``latency_s``, counts energy.

    Status ids: 161 no car, 182 paused, 181 connected but the car takes nothing (full), 194
    charging. Draw = setpoint x watts_per_amp while charging (capped by what the car accepts).
    Time only moves forward; every query first advances the model to the asked time.

    A schedule set in the Wallbox app can hold the car (``hold_on_schedule``): the charger then
    shows ``schedule_status_id`` (179 Scheduled, or 161 Ready as some chargers do) and draws
    nothing until the schedule starts it (``schedule_start``) or, when ``resume_overrides`` says
    so, a remote resume does.
    """

    def __init__(
        self,
        clock: Clock,
        charger_id: int = DEFAULT_CHARGER_ID,
        watts_per_amp: float = 692.8,
        latency_s: float = 15.0,
        setpoint_a: int = 16,
        paused: bool = True,
        car_connected: bool = True,
        car_full: bool = False,
        kwh_to_full: float | None = None,
        car_max_current_a: int = 32,
        max_available_a: int = 32,
        phases: int = 3,
        taper_kwh: float = 0.0,
        schedule_status_id: int | None = None,
        resume_overrides: bool = True,
    ) -> None:
        if phases not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        self._lock = threading.RLock()
        self.charger_id = charger_id
        self.watts_per_amp = watts_per_amp
        self.latency_s = latency_s
        self.max_available_a = max_available_a
        self.car_max_current_a = car_max_current_a
        self.phases = phases
        self.taper_kwh = taper_kwh
        #: While set, a schedule holds the car and the charger shows this status id.
        self.schedule_status_id = schedule_status_id
        #: The schedules set in the Wallbox app (``GET chargers/{id}/schedules``): one, enabled,
        #: when a schedule holds the car at the start.
        self.schedules: list[dict[str, Any]] = (
            [] if schedule_status_id is None else [night_schedule(charger_id)]
        )
        self.resume_overrides = resume_overrides
        self.setpoint_a = setpoint_a
        self.paused = paused
        self.locked = 0
        self.car_connected = car_connected
        self.car_full = car_full
        self.kwh_to_full = kwh_to_full
        self.added_energy_kwh = 0.0
        self.total_energy_kwh = 0.0
        self.charging_time_s = 0.0
        self._t = clock()
        self._pending: list[tuple[datetime, str, Any]] = []

    # -- physics -------------------------------------------------------------------------------

    def _accepted_a(self) -> float:
        """What the car takes: its own maximum, less and less over its last ``taper_kwh``."""
        left = self.kwh_to_full
        if left is None or self.taper_kwh <= 0 or left >= self.taper_kwh:
            return float(self.car_max_current_a)
        return self.car_max_current_a * max(left, 0.0) / self.taper_kwh

    def _draw_w(self) -> float:
        if not self.car_connected or self.paused or self.car_full or self._held():
            return 0.0
        return min(self.setpoint_a, self._accepted_a()) * self.watts_per_amp

    def advance(self, now: datetime) -> None:
        """Integrate energy up to ``now``, applying commands whose latency has passed."""
        with self._lock:
            self._pending.sort(key=lambda p: p[0])
            while self._pending and self._pending[0][0] <= now:
                at, kind, value = self._pending.pop(0)
                self._integrate(max(at, self._t))
                self._apply(kind, value)
            self._integrate(now)

    def _integrate(self, until: datetime) -> None:
        dt = (until - self._t).total_seconds()
        if dt <= 0:
            return
        p = self._draw_w()
        if p > 0:
            kwh = p * dt / 3.6e6
            self.added_energy_kwh += kwh
            self.total_energy_kwh += kwh
            self.charging_time_s += dt
            if self.kwh_to_full is not None:
                self.kwh_to_full -= kwh
                if self.kwh_to_full <= 0 or self._accepted_a() < 0.5:
                    self.car_full = True
        self._t = until

    def _held(self) -> bool:
        return self.schedule_status_id is not None and self.car_connected

    def _apply(self, kind: str, value: Any) -> None:
        if kind == "current":
            self.setpoint_a = int(value)
        elif kind == "paused":
            if self._held() and not value and self.resume_overrides:
                self.schedule_status_id = None  # a resume overrides the schedule
            if self.car_connected and not self._held():
                self.paused = bool(value)
        elif kind == "locked":
            self.locked = int(value)

    def command(self, now: datetime, kind: str, value: Any) -> None:
        """Queue a command; it takes effect ``latency_s`` after ``now``."""
        with self._lock:
            self.advance(now)
            self._pending.append((now + timedelta(seconds=self.latency_s), kind, value))

    def plug_in(self, now: datetime, kwh_to_full: float | None = None) -> None:
        with self._lock:
            self.advance(now)
            self.car_connected, self.car_full = True, False
            self.kwh_to_full = kwh_to_full
            self.added_energy_kwh = self.charging_time_s = 0.0

    def unplug(self, now: datetime) -> None:
        with self._lock:
            self.advance(now)
            self.car_connected, self.paused = False, False

    def schedule_start(self, now: datetime) -> None:
        """The schedule's time has come: the car charges at the setpoint."""
        with self._lock:
            self.advance(now)
            self.schedule_status_id, self.paused = None, False

    def set_car_full(self, now: datetime, full: bool = True) -> None:
        with self._lock:
            self.advance(now)
            self.car_full = full

    def power_w(self, now: datetime) -> float:
        with self._lock:
            self.advance(now)
            return self._draw_w()

    def phase_powers_w(self, now: datetime) -> tuple[float, float, float]:
        """The draw on L1, L2, L3: all on L1 for a 1-phase car, a third each for a 3-phase one."""
        p = self.power_w(now)
        return (p, 0.0, 0.0) if self.phases == 1 else (p / 3, p / 3, p / 3)

    def added_energy(self, now: datetime) -> float:
        """kWh of the current session up to ``now``."""
        with self._lock:
            self.advance(now)
            return self.added_energy_kwh

    def status_id(self, now: datetime) -> int:
        with self._lock:
            self.advance(now)
            if not self.car_connected:
                return 161
            if self.schedule_status_id is not None:
                return self.schedule_status_id
            if self.paused:
                return 182
            if self.car_full:
                return 181
            return 194


def night_schedule(charger_id: int) -> dict[str, Any]:
    """A schedule as the ``wallbox`` package's README shows one: every day, 01:00 to 06:00."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return {
        "chargerId": charger_id,
        "enable": 1,
        "max_current": 1,
        "max_energy": 0,
        "days": dict.fromkeys(days, True),
        "start": "0100",
        "stop": "0600",
    }
