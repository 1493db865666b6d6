"""A misbehaving HTTP peer on 127.0.0.1, for deadlines and size caps: raw sockets, no http.server,
so it can do what no well-behaved server does.

Behaviours (``BadHttpServer(behaviour)``):

- ``trickle``: a 200 with its headers (a P1-sized Content-Length), then one byte of the body
  every ``interval_s``.
- ``endless``: a 200 without a length, then body bytes as fast as the socket takes them.
- ``silent``: accepts the connection, reads the request, never answers.
- ``slow_headers``: the status line, then one header byte every ``interval_s``.
- ``reply``: a 200 with ``body`` (settable while serving), then the connection is closed.

``connections`` counts accepted connections; ``sent`` the body bytes written; ``held_s`` lists,
per connection the client closed, how long it held on (accept to hang-up), as the server saw it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable


class BadHttpServer:
    def __init__(self, behaviour: str, interval_s: float = 2.0, body: bytes = b"{}") -> None:
        if behaviour not in ("trickle", "endless", "silent", "slow_headers", "reply"):
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour = behaviour
        self.interval_s = interval_s
        self.body = body
        self.connections = 0
        self.sent = 0
        self.held_s: list[float] = []
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._clients: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BadHttpServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for c in list(self._clients):
            with contextlib.suppress(OSError):
                c.close()
        self._sock.close()

    def __enter__(self) -> BadHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(5)
            conn.recv(65536)  # the request; its content does not matter
            getattr(self, f"_{self.behaviour}")(conn)

    def _wait(self, conn: socket.socket, accepted: float) -> bool:
        """Sleep ``interval_s``; False once the client hung up (recorded) or the server stops."""
        readable, _, _ = select.select([conn], [], [], self.interval_s)
        if readable and not conn.recv(1):
            self.held_s.append(time.monotonic() - accepted)
            return False
        return not self._stop.is_set()

    def _trickle(self, conn: socket.socket) -> None:
        accepted = time.monotonic()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3000\r\n\r\n"
        )
        while self._wait(conn, accepted):
            conn.sendall(b" ")
            self.sent += 1

    def _endless(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[")
        chunk = b"1," * 32768
        while not self._stop.is_set():
            conn.sendall(chunk)
            self.sent += len(chunk)

    def _silent(self, conn: socket.socket) -> None:
        accepted = time.monotonic()
        while self._wait(conn, accepted):
            pass

    def _reply(self, conn: socket.socket) -> None:
        body = self.body
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(head.encode() + body)
        conn.close()

    def _slow_headers(self, conn: socket.socket) -> None:
        accepted = time.monotonic()
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while self._wait(conn, accepted):
            conn.sendall(b"X")
            self.sent += 1


def wait_for(predicate: Callable[[], object], timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())
