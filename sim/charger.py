"""A simulated Wallbox Pulsar Plus with a car behind it: what the simulated cloud reports on.

It follows commands only after a latency, as the real charger does behind the cloud
(docs/design.md, "The Wallbox cloud"), draws setpoint x watts per ampere while the car takes
power, and counts the session's energy. Everything runs on an injected clock.
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
    ) -> None:
        self._lock = threading.RLock()
        self.charger_id = charger_id
        self.watts_per_amp = watts_per_amp
        self.latency_s = latency_s
        self.max_available_a = max_available_a
        self.car_max_current_a = car_max_current_a
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

    def _draw_w(self) -> float:
        if not self.car_connected or self.paused or self.car_full:
            return 0.0
        return min(self.setpoint_a, self.car_max_current_a) * self.watts_per_amp

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
                if self.kwh_to_full <= 0:
                    self.car_full = True
        self._t = until

    def _apply(self, kind: str, value: Any) -> None:
        if kind == "current":
            self.setpoint_a = int(value)
        elif kind == "paused":
            if self.car_connected:
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

    def set_car_full(self, now: datetime, full: bool = True) -> None:
        with self._lock:
            self.advance(now)
            self.car_full = full

    def power_w(self, now: datetime) -> float:
        with self._lock:
            self.advance(now)
            return self._draw_w()

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
            if self.paused:
                return 182
            if self.car_full:
                return 181
            return 194
