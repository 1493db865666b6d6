"""The simulated Pulsar on the network: a websocket client with its own asyncio loop in a thread,
connecting to the central system, reconnecting when the connection drops, as the real one does.

Two ways to drive its clock:
- real time (``realtime=True``, the command line and the demo): it steps itself every ``step_s``;
- driven (``realtime=False``, tests and the replay): nothing happens on its own clock until the
  caller's ``tick(now)``, which returns once everything due was sent and answered, so a test or
  a replay on a simulated clock sees the central system up to date when ``tick`` returns.
Either way, answers to the central system's calls (and triggered messages) go out at once.

While disconnected it keeps its samples and transaction messages, and sends them late after the
next connection, as chargers do. ``disconnect`` drops the connection, ``reboot`` power-cycles the
charger (sim/ocpp_cp/pulsar.py says what that forgets), ``offline`` keeps it away.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from common.asyncloop import LoopThread
from sim.ocpp_cp.client import PulsarClient
from sim.ocpp_cp.messages import Outgoing
from sim.ocpp_cp.pulsar import Pulsar

log = logging.getLogger("sim.ocpp_cp")
_ws_log = logging.getLogger("sim.ocpp_cp.websocket")
_ws_log.setLevel(logging.INFO)  # at DEBUG websockets logs the Authorization header

T = TypeVar("T")
#: What a charger keeps while offline and sends after reconnecting.
_KEPT = ("MeterValues", "StartTransaction", "StopTransaction")


class SimChargePoint:
    """The simulated Pulsar's connection (see the module docstring). A context manager."""

    def __init__(
        self,
        url: str,
        pulsar: Pulsar,
        clock: Callable[[], datetime],
        *,
        password: str | None = None,
        realtime: bool = True,
        step_s: float = 0.1,
        reconnect_s: float = 0.5,
        boots_on_reconnect: bool | None = None,
        thread: LoopThread | None = None,
    ) -> None:
        self.url = url
        self.identity = url.rstrip("/").rsplit("/", 1)[-1]
        self.pulsar = pulsar
        self.clock = clock
        self.password = password
        self.realtime = realtime
        self.step_s = step_s
        self.reconnect_s = reconnect_s
        #: Firmware 5.x boots on every connection; 6.x only after a power cycle.
        self.boots_on_reconnect = (
            pulsar.firmware_major <= 5 if boots_on_reconnect is None else boots_on_reconnect
        )
        self.journal: list[str] = []
        self.refusals: list[int] = []  # HTTP statuses of refused connections
        self.connections = 0
        self.backlog: list[Outgoing] = []
        #: Its own loop, or one shared with the central system (the replay: no thread switch).
        self._thread = thread or LoopThread(f"sim-ocpp-{self.identity}")
        self._cp: PulsarClient | None = None
        self._offline = False
        self._tasks: list[asyncio.Future[None]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SimChargePoint:
        self._thread.start()
        self._thread.run(self._start_tasks(), timeout_s=10)
        return self

    async def _start_tasks(self) -> None:
        self._tasks.append(asyncio.ensure_future(self._connect_loop()))
        if self.realtime:
            self._tasks.append(asyncio.ensure_future(self._step_loop()))

    def stop(self) -> None:
        if self._thread.running:
            self._thread.run(self._stop_tasks(), timeout_s=10)
        self._thread.stop()

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def __enter__(self) -> SimChargePoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests and the replay do ----------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._cp is not None

    def wait_connected(self, timeout_s: float = 5.0) -> None:
        end = time.monotonic() + timeout_s
        while not self.connected:
            if time.monotonic() > end:
                raise TimeoutError(f"{self.identity} did not connect to {self.url}")
            time.sleep(0.01)

    def tick(self, now: datetime | None = None, timeout_s: float = 10.0) -> None:
        """Send what falls due by ``now`` (default: the clock) and wait for the answers."""
        self._run(self._step(now or self.clock()), timeout_s)

    def disconnect(self) -> None:
        """Drop the connection (a network blip); it reconnects after ``reconnect_s``."""
        self._run(self._close(), 10.0)

    def reboot(self) -> None:
        """Power-cycle the charger: it reconnects and boots afresh."""
        self.pulsar.reboot(self.clock())
        self.disconnect()

    def offline(self, offline: bool = True) -> None:
        """Stay disconnected (and keep samples) until ``offline(False)``."""
        self._offline = offline
        if offline:
            self.disconnect()

    def send(self, msg: Outgoing) -> None:
        """Send one message now (a test's late replay, say)."""
        self._run(self._send_all([msg]), 10.0)

    def unplug(self) -> None:
        self._run(self._send_all(self.pulsar.unplug(self.clock())), 10.0)

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        return self._thread.run(coro, timeout_s)

    # -- the loop's side -----------------------------------------------------------------------

    async def _close(self) -> None:
        if self._cp is not None:
            await self._cp._connection.close()

    async def _step(self, now: datetime) -> None:
        await self._send_all(self.pulsar.due(now))

    async def _send_all(self, messages: list[Outgoing], cp: PulsarClient | None = None) -> None:
        for msg in messages:
            cp = cp or self._cp
            if cp is None or not self.pulsar.booted:
                self._keep(msg)
                continue
            try:
                await cp.send(msg)
            except (ConnectionClosed, TimeoutError):
                self._keep(msg)

    def _keep(self, msg: Outgoing) -> None:
        if msg.action in _KEPT:
            self.backlog.append(msg)
        elif msg.action == "StatusNotification":
            self.pulsar.told_status_lost()

    async def _step_loop(self) -> None:
        while True:
            try:
                await self._step(self.clock())
            except Exception:  # a bug in the model must not stop the charger's clock
                log.exception("simulated charge point step failed")
            await asyncio.sleep(self.step_s)

    def _headers(self) -> dict[str, str]:
        if not self.password:
            return {}
        token = base64.b64encode(f"{self.identity}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _connect_loop(self) -> None:
        while True:
            if not self._offline:
                try:
                    await self._connect_once()
                except InvalidStatus as e:
                    self.refusals.append(e.response.status_code)
                    log.info("%s refused: HTTP %d", self.identity, e.response.status_code)
                except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as e:
                    log.debug("%s: connection failed: %r", self.identity, e)
            await asyncio.sleep(self.reconnect_s)

    async def _connect_once(self) -> None:
        async with connect(
            self.url,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]  # Subprotocol is a NewType of str
            additional_headers=self._headers(),
            open_timeout=5,
            logger=_ws_log,
            compression=None,
        ) as ws:
            cp = PulsarClient(
                self.identity, ws, self.pulsar, self.clock, self.reboot_soon, self.journal
            )
            serving = asyncio.ensure_future(cp.start())
            try:
                self.connections += 1
                if not self.pulsar.booted or self.boots_on_reconnect:
                    await cp.send(self.pulsar.boot_notification())
                backlog, self.backlog = self.backlog, []
                await self._send_all(backlog, cp)
                self._cp = cp  # connected, for the caller, once the backlog is out
                await serving
            finally:
                self._cp = None
                serving.cancel()

    def reboot_soon(self) -> None:
        """A Reset from the central system (on the loop): reboot after answering it."""
        self.pulsar.reboot(self.clock())
        self._tasks.append(asyncio.ensure_future(self._close()))
