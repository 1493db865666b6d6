"""Our own budget for the Wallbox cloud's requests, kept below the limits it announced.

The cloud allows about 3 GET and 5 other requests per minute per account and answers bursts with
429 (docs/design.md, "The Wallbox cloud"). A rolling window per kind of request keeps us under it,
and a back-off after a refusal blocks every request until it ends.

Every interval here runs on a monotonic clock (docs/design.md, "Fail-safe"): a wall clock that
steps back an hour (NTP, a DST bug, a Pi without a real-time clock booting at 1970) must not
hold the status read back for that hour, nor end a back-off early when it steps forward. The wall
clock only names the time a back-off ends in messages. Both clocks are injected, so a simulated
day runs through this code in seconds (the simulated clock is then its own monotonic clock).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from common.ports import ChargerRateLimited

Clock = Callable[[], datetime]
Sleep = Callable[[float], object]
#: Seconds on a clock that never steps (time.monotonic in production).
Monotonic = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Our own budget, kept below what the cloud announced (3 GET + 5 writes per minute)."""

    status_interval_s: float = 60.0
    #: A cycle that runs a little early still reads: cycles are 60 s apart, give or take jitter.
    status_jitter_s: float = 1.0
    max_gets: int = 3
    max_writes: int = 5
    window_s: float = 60.0
    backoff_s: float = 60.0
    max_backoff_s: float = 600.0
    #: After a refused sign-in; signing in again and again with a wrong password helps nobody.
    auth_backoff_s: float = 300.0
    #: Refresh the token this long before it expires, so it never expires mid-cycle.
    token_margin_s: float = 60.0
    #: A back-off that ends within this much is waited out rather than refused: the cycle after
    #: a 429 starts the few ms the refused request took before the minute is over.
    backoff_grace_s: float = 5.0
    #: GETs one cycle may send before its status read waits for the next cycle (sign-in and
    #: charger look-up at a cold start); a token refresh plus the read is still fine.
    max_gets_before_read: int = 1
    #: A command the cloud refused with 403 (OCPP mode, missing rights) is not sent again for
    #: this long, doubling on each refusal up to the maximum; status reads go on meanwhile.
    refused_backoff_s: float = 3600.0
    max_refused_backoff_s: float = 6 * 3600.0


class RateLimiter:
    """Rolling-window budgets for GETs and writes, and a back-off that blocks every request."""

    def __init__(
        self,
        limits: RateLimits,
        clock: Clock,
        sleep: Sleep = time.sleep,
        monotonic: Monotonic | None = None,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._mono: Monotonic = monotonic or (lambda: clock().timestamp())
        self._sleep = sleep
        self.sent_gets = 0  # GETs that went out, ever: tells snapshot what this cycle cost
        self._gets: deque[float] = deque()
        self._writes: deque[float] = deque()
        self._blocked_until_s: float | None = None
        self._strikes = 0
        #: When the last status read went out (monotonic seconds).
        self.last_status_attempt: float | None = None

    def now_s(self) -> float:
        return self._mono()

    def wall(self, mono_s: float) -> datetime:
        """The wall-clock time a monotonic instant corresponds to (for messages and errors)."""
        return self._clock() + timedelta(seconds=mono_s - self._mono())

    @property
    def blocked_until(self) -> datetime | None:
        return None if self._blocked_until_s is None else self.wall(self._blocked_until_s)

    def _trim(self, q: deque[float], now_s: float) -> None:
        edge = now_s - self.limits.window_s
        while q and q[0] <= edge:
            q.popleft()

    def status_due(self) -> bool:
        last = self.last_status_attempt
        if last is None:
            return True
        elapsed = self._mono() - last
        return elapsed >= self.limits.status_interval_s - self.limits.status_jitter_s

    def acquire(self, kind: Literal["get", "write"]) -> None:
        """Count one request, or raise ChargerRateLimited if it would break a budget."""
        now_s = self._mono()
        blocked = self._blocked_until_s
        if (
            blocked is not None
            and now_s < blocked
            and blocked - now_s <= self.limits.backoff_grace_s
        ):
            self._sleep(blocked - now_s)
            now_s = self._mono()
        if blocked is not None and now_s < blocked:
            until = self.wall(blocked)
            raise ChargerRateLimited(f"backing off until {until:%H:%M:%S}", until)
        q, cap = (self._gets, self.limits.max_gets)
        if kind == "write":
            q, cap = (self._writes, self.limits.max_writes)
        self._trim(q, now_s)
        if len(q) >= cap:
            until = self.wall(q[0] + self.limits.window_s)
            raise ChargerRateLimited(f"own budget: {cap} {kind}s per minute used", until)
        q.append(now_s)
        self.sent_gets += kind == "get"

    def answered(self, kind: Literal["get", "write"]) -> None:
        """Re-stamp the request just counted with the time its answer came back.

        The cloud counts a request when it arrives, somewhere between our ``acquire`` and the
        answer; stamped with the later time, our window never ends before the cloud's does, so a
        slow answer cannot make the next minute's request the cloud's fourth (a 429).
        """
        q = self._writes if kind == "write" else self._gets
        if q:
            q[-1] = max(q[-1], self._mono())

    def back_off(self, seconds: float | None = None) -> datetime:
        """Block every request: doubling from ``backoff_s`` on repeated strikes, capped."""
        self._strikes += 1
        if seconds is None:
            seconds = min(
                self.limits.backoff_s * 2 ** (self._strikes - 1), self.limits.max_backoff_s
            )
        self._blocked_until_s = self._mono() + seconds
        return self.wall(self._blocked_until_s)

    def succeeded(self) -> None:
        self._strikes = 0
