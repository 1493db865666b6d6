"""Shared pieces for the controller's adapter, service and closed-loop tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from common.config import ChargingConfig
from common.models import Reading
from common.store.sqlite import SqliteStore
from controller.policy import PolicySettings
from controller.ratelimit import RateLimits
from controller.service import Controller
from controller.wallbox import WallboxCharger
from sim.clock import ManualClock as _ManualClock
from sim.rig import wallbox_config
from sim.wallbox_cloud import DEFAULT_CHARGER_ID, SimCharger, WallboxCloud

#: Simulated time starts tomorrow 09:00 UTC: ahead of the wall clock, which the ``wallbox``
#: package consults for its own token check, so its refresh path behaves as in real life.
T0 = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
WPA = ChargingConfig().effective_watts_per_amp  # 3N~400 V: 692.8 W/A
#: The settings these tests were written for, pinned so the tests do not move with the defaults
#: (which bench/policy_bench.py chooses).
TEST_CHARGING = ChargingConfig(window_s=120.0, start_delay_s=120.0, stop_delay_s=300.0)


class ManualClock(_ManualClock):
    """The shared simulated clock (sim.clock), starting at T0 by default."""

    def __init__(self, start: datetime = T0) -> None:
        super().__init__(start)


__all__ = [
    "T0",
    "TEST_CHARGING",
    "WPA",
    "House",
    "Loop",
    "ManualClock",
    "make_loop",
    "minutes",
    "pv_steps",
    "sim_cloud",
    "trickling_server",
    "wallbox_config",
]


def minutes(t: datetime) -> float:
    return (t - T0).total_seconds() / 60


def pv_steps(*steps: tuple[float, float]) -> Callable[[datetime], float]:
    """PV power by minute: steps of (from_minute, watts)."""

    def pv(t: datetime) -> float:
        m, watts = minutes(t), 0.0
        for start, w in steps:
            if m >= start:
                watts = w
        return watts

    return pv


@contextmanager
def sim_cloud(
    clock: ManualClock, cloud_kw: dict[str, Any] | None = None, **charger_kw: Any
) -> Iterator[WallboxCloud]:
    """The simulated cloud (``cloud_kw``: ocpp_mode, zero_kw_every) and its charger."""
    charger_kw.setdefault("watts_per_amp", WPA)
    charger = SimCharger(clock, **charger_kw)
    with WallboxCloud(clock, charger=charger, timeout_delay_s=0.6, **(cloud_kw or {})) as cloud:
        yield cloud


class House:
    """A house with solar panels on a P1 meter: 1 Hz readings into the store, whose grid power
    includes what the simulated charger draws, as a real meter's would."""

    def __init__(
        self,
        store: SqliteStore,
        charger: SimCharger,
        start: datetime,
        pv_w: Callable[[datetime], float],
        house_w: Callable[[datetime], float] = lambda t: 450.0,
    ) -> None:
        self.store, self.charger = store, charger
        self.pv_w, self.house_w = pv_w, house_w
        self._t = start
        self.meter_down = False

    def run_until(self, end: datetime) -> None:
        batch = []
        while self._t < end:
            t = self._t
            grid = self.house_w(t) - self.pv_w(t) + self.charger.power_w(t)
            if not self.meter_down:
                batch.append(Reading(ts=t, active_power_w=round(grid, 1)))
            self._t += timedelta(seconds=1)
        self.store.write_readings(batch)


@dataclass
class Loop:
    """Controller + house + cloud on one simulated clock, cycling every ``interval_s``."""

    clock: ManualClock
    cloud: WallboxCloud
    store: SqliteStore
    house: House
    controller: Controller
    interval_s: float = 60.0
    looks: list = field(default_factory=list)

    def cycle(self):
        """One cycle, and the looks at the meter the loop makes before the next one
        (service.run_loop; their decisions, when they act, go to ``looks``)."""
        self.house.run_until(self.clock())
        decision = self.controller.run_cycle(self.clock())
        end = self.clock() + timedelta(seconds=self.interval_s)
        while (look_s := self.controller.look_in_s()) is not None:
            if self.clock() + timedelta(seconds=look_s) >= end:
                break
            self.clock.advance(look_s)
            self.house.run_until(self.clock())
            acted = self.controller.look(self.clock())
            if acted is not None:
                self.looks.append(acted)
        self.clock.set(end)
        return decision

    def run(self, minutes: float) -> list:
        """The decisions of every cycle, and of the looks that acted, in time order."""
        out = []
        for _ in range(round(minutes * 60 / self.interval_s)):
            out.append(self.cycle())
            out.extend(self.looks)
            self.looks.clear()
        return out


def make_loop(
    clock: ManualClock,
    cloud: WallboxCloud,
    store: SqliteStore,
    pv_w: Callable[[datetime], float],
    charging: ChargingConfig | None = None,
    limits: RateLimits | None = None,
    charger_id: str | None = str(DEFAULT_CHARGER_ID),
    car_known: bool = True,
    one_phase_seen: bool = False,
) -> Loop:
    """A configured charger id by default: its first cycle reads the status (a cold start
    without one reads it in the second, see test_controller_charger).

    ``car_known``: the controller has measured this car before (it draws what the config says),
    as every run after the first one at home; False is a first start. ``one_phase_seen``: this
    household has charged a car on one phase before, so a start at min current measures a car
    not measured yet (controller.measure)."""
    settings = PolicySettings.from_config(charging or TEST_CHARGING)
    charger = WallboxCharger(
        wallbox_config(cloud, charger_id=charger_id),
        settings.watts_per_amp,
        clock=clock,
        limits=limits,
        sleep=clock.advance,
    )
    house = House(store, cloud.charger, clock() - timedelta(seconds=180), pv_w)
    controller = Controller(store, charger, settings)
    if car_known:
        controller.car.last_w_per_a = settings.watts_per_amp
    if one_phase_seen:
        controller.car.lightest_w_per_a = settings.one_phase_watts_per_amp
    return Loop(clock, cloud, store, house, controller)


def trickling_server(
    every_s: float = 2.0,
) -> tuple[socket.socket, threading.Event, threading.Event]:
    """A loopback server that answers every request one byte every ``every_s``, for ever: the
    reply that kept the controller in one sign-in for more than 50 s with ``timeout_s: 3``.
    Returns the socket, the event that stops it and one set when a request came in."""
    srv = socket.create_server(("127.0.0.1", 0))
    done, asked = threading.Event(), threading.Event()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            asked.set()
            try:
                conn.sendall(head)
                while not done.wait(every_s):
                    conn.sendall(b" ")
            except OSError:
                pass

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv, done, asked
