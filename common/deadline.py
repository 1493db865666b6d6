"""A total deadline for one HTTP request, and a way to end a request from another thread.

A socket timeout bounds each wait for bytes, not the request: a peer that sends one byte every 2 s
never trips a 5 s timeout, and a reply that never ends is read for ever. urllib3's
``Timeout(total=...)`` does not help either: it only shortens the first wait. So the connections
of a guarded pool (requests and influxdb-client both sit on urllib3 pools) tell the request in
progress which socket they use, and a watchdog thread shuts that socket down when the deadline
passes.
Whatever the request waits on then (connect, TLS, headers, body) ends at once with an error that
the caller turns into its own timeout. ``Deadline.abort()`` does the same on demand: a signal
handler calls it so that SIGTERM never waits on a hung peer.

Usage: ``guard_pools(pool_manager)`` once, then each request inside ``with deadline(s) as d:``
(in the thread that makes the request) and ``d.ended`` after an error says whether it was ours.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection


class Deadline:
    """One request's deadline; ``abort()`` and the timer end it the same way."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False  # the timer fired
        self.aborted = False  # abort() was called
        self.released = False
        self._lock = threading.Lock()
        self._conn: Any = None

    @property
    def ended(self) -> bool:
        return self.expired or self.aborted

    def attach(self, conn: Any) -> None:
        """The connection the request uses now; shut at once if the deadline already passed."""
        with self._lock:
            self._conn = conn
            if self.ended:
                _shut(conn)

    def expire(self) -> None:
        with self._lock:
            if self.released:  # the request ended just now: its connection is back in the pool
                return
            self.expired = True
            _shut(self._conn)

    def abort(self) -> None:
        """End the request now (any thread, or a signal handler in the requesting thread)."""
        with self._lock:
            self.aborted = True
            _shut(self._conn)

    def release(self) -> None:
        """The request is over: a late timer must not shut a connection now back in its pool."""
        with self._lock:
            self.released = True
            self._conn = None


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    # socket.socket's own shutdown, also for an SSLSocket: its override would drop the TLS state
    # under the reader's feet; shutting the descriptor makes the blocked read return instead.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "http_deadline", default=None
)


class _Watchdog:
    """One thread for every deadline (a timer thread per request would cost more than the
    request): a heap of (when, deadline), the earliest on top, the finished ones dropped lazily."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, d: Deadline) -> None:
        entry = (time.monotonic() + d.seconds, next(self._count), d)
        with self._cv:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="http-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0] is entry:
                self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._heap:
                    self._cv.wait()
                when, _, d = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0 and not d.released:
                    self._cv.wait(wait)
                    continue
                heapq.heappop(self._heap)
            if not d.released:
                d.expire()


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Requests made in this block on guarded pools end within ``seconds``, all included."""
    d = Deadline(seconds)
    token = _CURRENT.set(d)
    _WATCHDOG.watch(d)
    try:
        yield d
    finally:
        d.release()
        _CURRENT.reset(token)


def _attach(conn: Any) -> None:
    d = _CURRENT.get()
    if d is not None:
        d.attach(conn)


class _GuardedHTTPConnection(HTTPConnection):
    """Each connect and request joins the block's deadline, so that its watchdog can close the
    socket. Put before HTTPSConnection, it guards that one too (super() follows the MRO)."""

    def connect(self) -> None:
        _attach(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def guard_pools(manager: PoolManager) -> None:
    """Make the pools ``manager`` creates from now on honour ``deadline()``."""
    manager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
