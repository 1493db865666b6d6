"""The OCPP 1.6J central system: a websocket server the charge point connects to, on the LAN.

The controller's loop is synchronous; OCPP is a conversation that never stops (the charge point
sends its status, samples and heartbeats whenever it likes). So the server runs its own asyncio
loop in a background thread, and the controller reaches it only through ``run``, which hands a
coroutine to that loop and waits with a deadline, and through ``view``, a consistent copy of what
is known (controller/ocpp/state.py). Nothing in the controller's thread waits on the network
without a deadline.

Who may connect: the charge point's identity is the last segment of the URL path (the Pulsar
appends it to the URL typed in the app). With ``charge_point_id`` set, any other identity is
refused before the websocket opens; with ``password`` set, the connection must carry HTTP Basic
credentials (OCPP security profile 1: the identity as user name). The password never reaches a
log line: the websockets library logs request headers at DEBUG, so its logger here is held at
INFO. This is plain ws:// for the LAN only; a port forward would put the charger on the internet.

One charger: the latest connection is the one we steer; an older one still open is closed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from ocpp.v16.enums import MessageTrigger
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from common.asyncloop import Abandoned, LoopThread
from common.config import Secret
from common.models import utcnow
from common.ports import ChargerStarting, ChargerUnavailable
from controller.ocpp.chargepoint import CentralChargePoint, CommandRefused, Timing
from controller.ocpp.state import StationState, StationView

log = logging.getLogger("controller.ocpp")
#: The websockets library's own log, never at DEBUG: there it prints request headers, and with a
#: password those carry it. A filter, not a level, so that whoever quiets the log (the replay)
#: still can, before or after this module is imported.
_ws_log = logging.getLogger("controller.ocpp.websocket")
_ws_log.addFilter(lambda record: record.levelno >= logging.INFO)

SUBPROTOCOL = "ocpp1.6"
#: Closing the charger's connection waits this long for its close frame: a charger on the LAN
#: answers in milliseconds, and one gone silent must not hold up a SIGTERM for the library's 10 s.
CLOSE_TIMEOUT_S = 2.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OcppSettings:
    """Where to listen and whom to let in."""

    host: str = "0.0.0.0"
    port: int = 8887
    #: Accept only this identity (the last URL path segment); None: any.
    charge_point_id: str | None = None
    #: HTTP Basic password (security profile 1); None: none asked (a warning at start).
    password: Secret | None = None


def identity_of(path: str) -> str:
    """The charge point identity: the last non-empty segment of the URL path."""
    segments = [s for s in urlsplit(path).path.split("/") if s]
    return unquote(segments[-1]) if segments else ""


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    """User and password of an ``Authorization: Basic`` header; None when absent or unreadable."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class CentralSystem:
    """The server and its thread (see the module docstring). A context manager."""

    def __init__(
        self,
        settings: OcppSettings,
        clock: Callable[[], datetime] = utcnow,
        timing: Timing | None = None,
        thread: LoopThread | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        #: Set on SIGTERM (common.stopping): a call waiting for the charger is abandoned at once.
        self._stop = stop
        self.clock = clock
        self.timing = timing or Timing()
        #: The loop it runs on: its own, or one shared with a simulated charger (the replay).
        self._thread = thread or LoopThread("ocpp-central-system")
        self._server: Server | None = None
        self._stations: dict[str, StationState] = {}
        self._station: StationState | None = None
        self._current: CentralChargePoint | None = None
        # Our transaction ids: from the clock, so a restart does not issue an id again.
        self._tx_ids = itertools.count(int(time.time()) % 1_000_000_000)
        self._closing: set[asyncio.Future[None]] = set()
        self.refused = 0  # connections refused (wrong identity or password), for tests and logs

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> CentralSystem:
        """Listen; ``ChargerUnavailable`` when the port cannot be had."""
        s = self.settings
        self._thread.start()
        try:
            self._server = self._thread.run(self._serve(), timeout_s=10)
        except OSError as e:
            self._thread.stop()
            why = e.strerror or e
            msg = f"cannot listen for the charger on {s.host}:{s.port}: {why}"
            raise ChargerUnavailable(msg) from None
        log.info(
            "OCPP central system listening on ws://%s:%d/<charge point id> (%s)",
            s.host,
            self.port,
            f"only {s.charge_point_id!r}" if s.charge_point_id else "any charge point id",
        )
        if not s.password:
            log.warning(
                "OCPP without a password: anyone on this LAN can pose as the charger. Set "
                "ocpp.password (and the same password in the myWallbox app) if the app offers it"
            )
        return self

    async def _serve(self) -> Server:
        return await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]  # Subprotocol is a NewType of str
            process_request=self._check_request,
            logger=_ws_log,
            # Messages are a few hundred bytes on a LAN: deflating each costs more than it saves.
            compression=None,
            close_timeout=CLOSE_TIMEOUT_S,
        )

    def stop(self) -> None:
        server = self._server
        if server is None:
            return

        async def shut() -> None:
            server.close()
            await server.wait_closed()

        try:
            self._thread.run(shut(), timeout_s=10)
        except TimeoutError as e:
            log.warning("OCPP server did not close in time: %s", e)
        self._thread.stop()
        self._server = None

    def __enter__(self) -> CentralSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (``settings.port`` 0 picks a free one, for tests)."""
        if self._server is None:
            return self.settings.port
        return int(next(iter(self._server.sockets)).getsockname()[1])

    # -- what the controller uses --------------------------------------------------------------

    def view(self) -> StationView | None:
        """What is known of the charge point we steer; None before one ever connected."""
        return None if self._station is None else self._station.view

    def run(
        self,
        action: Callable[[CentralChargePoint], Coroutine[Any, Any, T]],
        what: str,
        timeout_s: float | None = None,
    ) -> T:
        """Run ``action`` on the connected charge point, within a deadline, from any thread."""
        cp = self._current
        if cp is None or not self._thread.running:
            raise ChargerUnavailable("no charge point connected")
        if not cp.booted.is_set():
            raise ChargerStarting("charge point connected, waiting for its BootNotification")
        if self._stop is not None and self._stop():
            raise ChargerUnavailable(f"{what}: not sent: stopping")
        deadline_s = self.timing.call_timeout_s if timeout_s is None else timeout_s
        try:
            return self._thread.run(
                asyncio.wait_for(action(cp), deadline_s), deadline_s + 1.0, stop=self._stop
            )
        except Abandoned:
            raise ChargerUnavailable(f"{what}: abandoned: stopping") from None
        except TimeoutError:
            raise ChargerUnavailable(f"{what}: no answer within {deadline_s:g} s") from None
        except ConnectionClosed:
            raise ChargerUnavailable(f"{what}: the charge point disconnected") from None

    def wait_ready(self, timeout_s: float) -> StationView:
        """Block until a charge point has booted and been set up (tests, replay, demo)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            v = self.view()
            if v is not None and v.ready and v.setup_done:
                return v
            time.sleep(0.01)
        raise ChargerUnavailable(f"no charge point ready within {timeout_s:g} s")

    # -- connections ---------------------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = identity_of(request.path)
        s = self.settings
        if not identity:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "no charge point id in the URL")
        if s.charge_point_id and identity != s.charge_point_id:
            log.warning(
                "Refused a charge point calling itself %r: ocpp.charge_point_id is %r",
                identity,
                s.charge_point_id,
            )
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "unknown charge point")
        if s.password:
            creds = basic_credentials(request.headers)
            ok = creds is not None and hmac.compare_digest(
                f"{creds[0]}:{creds[1]}".encode(), f"{identity}:{s.password.get()}".encode()
            )
            if not ok:
                log.warning(
                    "Refused charge point %r: %s password (HTTP Basic, user = its id)",
                    identity,
                    "no" if creds is None else "wrong",
                )
                response = self._refuse(connection, HTTPStatus.UNAUTHORIZED, "password required")
                response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
                return response
        return None

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, why: str) -> Response:
        self.refused += 1
        return connection.respond(status, why + "\n")

    async def _handle(self, ws: ServerConnection) -> None:
        identity = identity_of(ws.request.path if ws.request else "")
        station = self._stations.setdefault(identity, StationState(identity))
        cp = CentralChargePoint(
            identity, ws, station, self.timing, self.clock, lambda: next(self._tx_ids)
        )
        previous = self._current
        if self._station is not None and self._station is not station:
            log.warning("Now steering charge point %r, not %r", identity, self._station.identity)
        self._current, self._station = cp, station
        if previous is not None:  # a socket the charger gave up on: close it in the background
            self._closing.add(asyncio.ensure_future(previous._connection.close()))
            self._closing = {t for t in self._closing if not t.done()}
        station.update(connection="connected", connection_at=self.clock())
        log.info("Charge point %s connected from %s", identity, ws.remote_address[0])
        watch = asyncio.ensure_future(self._watch_boot(cp))
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        finally:
            watch.cancel()
            if self._current is cp:
                self._current = None
                station.update(connection="disconnected", connection_at=self.clock())
                log.warning("Charge point %s disconnected", identity)

    async def _watch_boot(self, cp: CentralChargePoint) -> None:
        """A Pulsar on 6.x may reconnect without booting: ask for a BootNotification after
        ``boot_wait_s``, and carry on without one after twice that (the charger booted before)."""
        wait_s = self.timing.boot_wait_s
        try:
            await asyncio.wait_for(cp.booted.wait(), wait_s)
            return
        except TimeoutError:
            pass
        log.info("Charge point %s: no BootNotification after %g s, asking for one", cp.id, wait_s)
        try:
            await cp.trigger(MessageTrigger.boot_notification, connector_id=None)
            await asyncio.wait_for(cp.booted.wait(), 2 * wait_s)
            return
        except (TimeoutError, CommandRefused) as e:
            log.warning("Charge point %s sends no BootNotification (%s): carrying on", cp.id, e)
        except ConnectionClosed:
            return
        cp.state.update(connection="booted")
        cp.booted.set()
        await cp.setup()
