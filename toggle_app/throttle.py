"""The failed-password throttle: per client, and for all clients together.

Per client: the first ``free_failures`` mistakes cost nothing (typos); every further one locks the
client out for ``base_delay_s`` doubled per failure, up to ``max_delay_s``; a client quiet for
``forget_after_s`` starts afresh. A client is an IPv4 address or an IPv6 /64, since one home or
phone gets a whole /64 and picks addresses from it at will.

For everyone: many addresses each staying under their own limit (a botnet, or every phone behind
one reverse proxy the config does not name) still guess fast. A token bucket caps wrong passwords
in all: ``global_burst`` at once, then one per ``global_refill_s``. While it is empty every
password check is refused, the right password too: answering it would tell a guesser which guess
was right. Phones already logged in are not affected; they hold a session, not the password.

Refusing (429 with Retry-After) instead of sleeping keeps the server's few threads free. Time comes
in as an argument, so tests need no sleeps.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from toggle_app.proxy import parse_address


def client_key(address: str) -> str:
    """The throttle's unit: the IPv4 address, or the /64 of an IPv6 one."""
    parsed = parse_address(address)
    if parsed is None:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True, slots=True)
class _Entry:
    failures: int
    last: datetime
    locked_until: datetime


@dataclass
class LoginThrottle:
    free_failures: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    forget_after_s: float = 3600.0
    max_clients: int = 1024
    global_burst: float = 30.0
    global_refill_s: float = 10.0
    _state: dict[str, _Entry] = field(default_factory=dict, repr=False)
    _tokens: float | None = field(default=None, repr=False)
    _refilled: datetime | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def retry_after_s(self, client: str, now: datetime) -> float:
        """Seconds this client must wait (its own lockout, or everyone's); 0 when it may try."""
        with self._lock:
            entry = self._current(client_key(client), now)
            own = 0.0 if entry is None else (entry.locked_until - now).total_seconds()
            return max(own, self._global_wait_s(now), 0.0)

    def failure(self, client: str, now: datetime) -> int:
        """Record a wrong password; returns the client's failure count."""
        key = client_key(client)
        with self._lock:
            self._refill(now)
            self._tokens = (self._tokens or 0.0) - 1.0
            entry = self._current(key, now)
            failures = entry.failures + 1 if entry is not None else 1
            extra = failures - self.free_failures
            delay_s = (
                0.0 if extra <= 0 else min(self.base_delay_s * 2 ** (extra - 1), self.max_delay_s)
            )
            self._state[key] = _Entry(failures, now, now + timedelta(seconds=delay_s))
            if len(self._state) > self.max_clients:
                self._evict(now)
            return failures

    def success(self, client: str) -> None:
        with self._lock:
            self._state.pop(client_key(client), None)

    def __len__(self) -> int:
        return len(self._state)

    def _current(self, key: str, now: datetime) -> _Entry | None:
        entry = self._state.get(key)
        if entry is not None and (now - entry.last).total_seconds() > self.forget_after_s:
            del self._state[key]
            return None
        return entry

    def _evict(self, now: datetime) -> None:
        """Make room without freeing a locked-out client: first whoever is forgotten anyway,
        then the client whose lockout ends first (usually one with only free mistakes)."""
        limit = timedelta(seconds=self.forget_after_s)
        forgotten = [k for k, e in self._state.items() if now - e.last > limit]
        for key in forgotten:
            del self._state[key]
        while len(self._state) > self.max_clients:
            del self._state[min(self._state, key=lambda k: self._state[k].locked_until)]

    def _refill(self, now: datetime) -> None:
        if self._tokens is None or self._refilled is None:
            self._tokens, self._refilled = self.global_burst, now
            return
        gained = max((now - self._refilled).total_seconds(), 0.0) / self.global_refill_s
        self._tokens = min(self._tokens + gained, self.global_burst)
        self._refilled = now

    def _global_wait_s(self, now: datetime) -> float:
        self._refill(now)
        tokens = self._tokens or 0.0
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) * self.global_refill_s
