"""Serves a simulated P1 meter (sim.p1) over real HTTP (API v1) or HTTPS (API v2), with faults.

It answers as the device does (docs/design.md, "The HomeWizard P1 meter": error bodies, the bearer
token, the ``X-Api-Version`` header, 404 on unknown paths), so the collector's client meets real
sockets. Tests inject faults (403 API disabled, 401, 500, truncated JSON, a body that is not JSON,
a slow reply, a dropped connection) for the next requests or all of them.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sim.p1 import V2_API_VERSION, SimulatedP1
from sim.tls import TestPki

log = logging.getLogger(__name__)


class Fault(enum.StrEnum):
    """What the simulated meter can do wrong, at the HTTP level."""

    API_DISABLED = "api_disabled"  # v1: 403 {"error":{"id":202,"description":"API not enabled"}}
    UNAUTHORIZED = "unauthorized"  # 401 {"error":"user:unauthorized"}
    SERVER_ERROR = "server_error"  # 500
    TRUNCATED = "truncated"  # 200 with the JSON body cut in half
    GARBAGE = "garbage"  # 200 with a body that is not JSON at all
    SLOW = "slow"  # the right answer, after ``delay_s``
    DISCONNECT = "disconnect"  # the connection is closed without an answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the device does
    server_version = "HomeWizard-sim"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection does not hold a thread for ever
    # Headers and body go out in two writes; with Nagle's algorithm and the client's delayed
    # ACK that costs 40 ms per request on loopback, which a real meter does not.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _HTTPServer)
        server.meter_server._handle(self)

    def send_json(self, status: int, body: object, extra: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(body).encode(), extra)

    def send_bytes(
        self,
        status: int,
        data: bytes,
        extra: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], owner: MeterServer) -> None:
        self.meter_server = owner
        super().__init__(addr, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS is set up here, in the request's own thread, so a client that never completes
        # the handshake cannot stall the accept loop.
        owner = self.meter_server
        sock = request
        try:
            if owner.ssl_context is not None:
                request.settimeout(5)
                sock = owner.ssl_context.wrap_socket(request, server_side=True)
            owner._track(sock, True)
            super().finish_request(sock, client_address)
        except (OSError, ssl.SSLError) as e:
            log.debug("simulated meter: connection from %s ended: %s", client_address, e)
        finally:
            owner._track(sock, False)
            if sock is not request:
                sock.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("simulated meter: error serving %s", client_address, exc_info=True)


class MeterServer:
    """Serves a SimulatedP1 on 127.0.0.1 (ephemeral port by default) in a background thread.

    ``api="v2"`` needs ``tls`` (see sim.tls) and serves HTTPS with a bearer ``token``.
    ``inject(fault, count)`` makes the next ``count`` requests (or all, count=None) fail.
    """

    def __init__(
        self,
        meter: SimulatedP1,
        api: str = "v1",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        tls: TestPki | None = None,
    ) -> None:
        if api not in ("v1", "v2"):
            raise ValueError(f"api must be v1 or v2, not {api!r}")
        if api == "v2" and (tls is None or not token):
            raise ValueError("the v2 simulator needs a TLS certificate and a token")
        self.meter = meter
        self.api = api
        self.token = token
        self.ssl_context: ssl.SSLContext | None = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls.cert), str(tls.key))
            self.ssl_context = ctx
        self.requests: Counter[str] = Counter()
        self.device_info = True  # False: /api answers 404, as on a meter without it
        self.delay_s = 10.0
        self._fault: Fault | None = None
        self._fault_left: int | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[Any] = set()
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> MeterServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sim-meter",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open connections, so the port refuses from now on."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MeterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, sock: Any, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(sock)

    # -- faults -----------------------------------------------------------------------------
    def inject(self, fault: Fault | None, count: int | None = None, delay_s: float = 10.0) -> None:
        """Make the next ``count`` requests fail with ``fault`` (None: clear; count None: all)."""
        with self._lock:
            self._fault, self._fault_left, self.delay_s = fault, count, delay_s

    def _take_fault(self) -> Fault | None:
        with self._lock:
            fault = self._fault
            if fault is not None and self._fault_left is not None:
                self._fault_left -= 1
                if self._fault_left <= 0:
                    self._fault, self._fault_left = None, None
            return fault

    # -- requests ---------------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        path = h.path.split("?", 1)[0]
        with self._lock:
            self.requests[path] += 1
        v2 = self.api == "v2"
        extra = {"X-Api-Version": V2_API_VERSION} if v2 else {}
        if v2 and not self._v2_headers_ok(h, extra):
            return
        body_of = self._routes(v2).get(path)
        if body_of is None or (path == "/api" and not self.device_info):
            h.send_bytes(404, b"Not Found", extra, content_type="text/plain")
            return
        fault = self._take_fault()
        if fault is not None and self._answer_fault(h, fault, v2, extra):
            return
        data = json.dumps(body_of()).encode()
        if fault is Fault.TRUNCATED:
            data = data[: len(data) // 2]
        h.send_bytes(200, data, extra)

    def _v2_headers_ok(self, h: _Handler, extra: dict[str, str]) -> bool:
        """API v2 wants its version header (or none) and the bearer token; else it refuses."""
        if h.headers.get("X-Api-Version", "2") != "2":
            h.send_json(400, {"error": "request:api-version-not-supported"})
            return False
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            h.send_json(401, {"error": "user:unauthorized"}, extra)
            return False
        return True

    def _routes(self, v2: bool) -> dict[str, Callable[[], dict[str, Any]]]:
        if v2:
            return {"/api": self.meter.device_v2, "/api/measurement": self.meter.measurement_v2}
        return {"/api": self.meter.device_v1, "/api/v1/data": self.meter.data_v1}

    def _answer_fault(self, h: _Handler, fault: Fault, v2: bool, extra: dict[str, str]) -> bool:
        """Act out ``fault``; True when that was the whole answer (no body follows)."""
        if fault is Fault.SLOW:
            self._stopping.wait(self.delay_s)
            return False
        if fault is Fault.DISCONNECT:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault is Fault.GARBAGE:
            h.send_bytes(200, b"<html><body>rebooting</body></html>", extra)
            return True
        if fault in _ERROR_ANSWERS:
            status, v1_body, v2_body = _ERROR_ANSWERS[fault]
            h.send_json(status, v2_body if v2 else v1_body, extra)
            return True
        return False  # TRUNCATED: the body is cut after it is made


#: Faults answered with an error: (HTTP status, v1 body, v2 body).
_ERROR_ANSWERS: dict[Fault, tuple[int, object, object]] = {
    # v2's answer to a disabled API is undocumented: a generic error tests the generic handling.
    Fault.API_DISABLED: (
        403,
        {"error": {"id": 202, "description": "API not enabled"}},
        {"error": "request:forbidden"},
    ),
    Fault.UNAUTHORIZED: (401, {"error": "user:unauthorized"}, {"error": "user:unauthorized"}),
    Fault.SERVER_ERROR: (
        500,
        {"error": {"id": 901, "description": "Internal error"}},
        {"error": "request:internal-server-error"},
    ),
}
