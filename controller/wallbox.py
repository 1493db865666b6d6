"""The Wallbox, through the PyPI ``wallbox`` package and the rate-limited Wallbox cloud.

The cloud allows about 3 GET and 5 other requests per minute per account, answers bursts with 429
(heavy polling has also given 403), and takes 10-30 s to pass a command on (docs/design.md, "The
Wallbox cloud"). So this adapter reads the status at most once a minute, keeps every request inside
a budget of its own, backs off at least a minute on 429 (and on 403 from a call that is not a
sign-in) without any request at all, reuses its token until it is about to expire, and signs in
again once on 401. Between reads it remembers what it sent, so a decision never waits for a read it
may not make; the snapshot says which fields are that memory rather than a read.

A 403 on a command is another matter (OCPP mode, missing rights; Home Assistant calls it
"insufficient rights"): that command is not sent again for an hour, doubling up to six, while the
status is still read every minute; a read that shows OCPP switched off ends it at once. Every
request has a total deadline (controller.deadline), and a stopping process abandons one that
hangs. Bad numbers in a status body are read as "not reported"
(controller.wallbox_status).

A 429 costs exactly one cycle: the back-off runs a minute from the refused answer, and the next
cycle, which starts a few milliseconds before that minute is over (the loop keeps a fixed grid
from each cycle's start), waits out those milliseconds instead of being refused for another
minute. At start, the token and charger id come from the session file (controller/session.py);
without one, the sign-in and the charger look-up go out in the first cycle and the status read in
the next, so no minute carries more than two GETs.

Time comes from injected clocks, so the simulator can run a day through this code in seconds:
the wall clock for what people read and for token expiry (epoch milliseconds from the cloud), a
monotonic one for every interval, so a wall-clock step neither blocks reads nor ends a back-off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from wallbox import Wallbox

from common.config import WallboxConfig
from common.models import utcnow
from common.ports import (
    ChargerAuthError,
    ChargerError,
    ChargerRateLimited,
    ChargerStarting,
    ChargerUnavailable,
)
from common.snapshot import READY_IDS, ChargerSnapshot, Phase, status_phase
from controller.deadline import RequestRunner
from controller.ratelimit import Clock, Monotonic, RateLimiter, RateLimits, Sleep
from controller.session import SessionFile, account_key, put_tokens, taken_tokens
from controller.wallbox_errors import PackageError, Refusals, sign_in_refused, transport_error
from controller.wallbox_status import StatusRead, overlay, parse_status, schedule_enabled

log = logging.getLogger(__name__)

T = TypeVar("T")


#: The total deadline of a request is ``wallbox.timeout_s`` plus this (controller.deadline).
DEADLINE_SLACK_S = 1.0


@dataclass(frozen=True, slots=True)
class _Sent:
    value: Any
    mono_s: float


class WallboxCharger:
    """A Wallbox Pulsar (Plus) on the Wallbox cloud, within the cloud's limits."""

    def __init__(
        self,
        config: WallboxConfig,
        watts_per_amp: float,
        clock: Clock = utcnow,
        limits: RateLimits | None = None,
        settle_s: float = 30.0,
        max_read_age_s: float = 300.0,
        session_file: SessionFile | None = None,
        sleep: Sleep = time.sleep,
        monotonic: Monotonic | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        if not config.username or not config.password:
            raise ChargerAuthError("wallbox.username and wallbox.password are required")
        self._clock = clock
        if monotonic is None:  # a simulated clock is its own monotonic clock
            monotonic = time.monotonic if clock is utcnow else (lambda: clock().timestamp())
        self._mono = monotonic
        self.limiter = RateLimiter(limits or RateLimits(), clock, sleep, monotonic)
        self._runner = RequestRunner(config.timeout_s + DEADLINE_SLACK_S, stop)
        self._wpa = watts_per_amp
        self._settle_s = settle_s
        self._max_read_age_s = max_read_age_s
        # The package's own timeout default is None: a hung cloud would hang the controller.
        self._config = config
        self._w = self._package()
        self._charger_id: str | None = config.charger_id
        self._read: StatusRead | None = None
        self._setpoint: _Sent | None = None
        self._enabled: _Sent | None = None
        self._schedule_set: bool | None = None
        self._refused = Refusals(self.limiter)
        self.sign_ins = 0  # sign-ins and refreshes, for tests and the log
        self._session_file = session_file
        self._account = account_key(config.username, self._w.authUrl, self._w.baseUrl)
        self._restore_session()

    # -- the Charger protocol ----------------------------------------------------------------

    def snapshot(self, now: datetime, *, allow_read: bool = True) -> ChargerSnapshot:
        error: ChargerError | None = None
        if allow_read and self.limiter.status_due():
            gets_before = self.limiter.sent_gets
            try:
                self._ensure_token()
                self._ensure_charger_id()
                if self.limiter.sent_gets - gets_before > self.limiter.limits.max_gets_before_read:
                    raise ChargerStarting("signed in and found the charger: status next cycle")
                self._read_status(now)
            except ChargerError as e:
                error = e
        if self._read is None:
            raise error or ChargerUnavailable("charger status not read yet")
        return self._build(now, error)

    def set_current(self, current_a: int, now: datetime) -> None:
        current_a = int(current_a)
        self._write("set_current", lambda cid: self._w.setMaxChargingCurrent(cid, current_a))
        self._setpoint = _Sent(current_a, self._mono())
        log.debug("set max charging current %d A", current_a)

    def pause(self, now: datetime) -> None:
        self._enable(False)

    def resume(self, now: datetime) -> None:
        self._enable(True)

    @property
    def charger_id(self) -> str | None:
        return self._charger_id

    # -- reading -------------------------------------------------------------------------------

    def _read_status(self, now: datetime) -> None:
        def sent() -> None:
            # Only a request that went out makes the next read wait a minute; one our own
            # limiter refused must not push the next read back another cycle.
            self.limiter.last_status_attempt = self._mono()

        body = self._request("get", self._w.getChargerStatus, on_sent=sent)
        read = parse_status(body, now, self._mono())
        before, self._read = self._read, read
        left_ocpp = before is not None and before.operation_mode == "ocpp"
        if left_ocpp and read.operation_mode != "ocpp":
            self._refused.clear()
        if status_phase(read.status_id) is not Phase.CHARGING:
            self._schedule_set = None
        elif before is not None and before.status_id in READY_IDS and not self._resumed(before):
            self._schedule_set = self._read_schedules()

    def _resumed(self, r: StatusRead) -> bool:
        """Whether we sent a resume after read ``r`` (a Ready probe of ours)."""
        return self._enabled is not None and self._enabled.value and self._enabled.mono_s > r.mono_s

    def _read_schedules(self) -> bool | None:
        """A Ready charger started a car by itself: a schedule set in the Wallbox app, or a car
        just plugged in? Asked once per such start (one more GET); None when not answered."""
        try:
            return schedule_enabled(self._request("get", self._w.getChargerSchedules))
        except ChargerError as e:
            log.info("Wallbox schedules not read (%s): a car that starts is not taken for one", e)
            return None

    def _newer_than(self, r: StatusRead, sent: _Sent | None) -> _Sent | None:
        """``sent`` when the read cannot reflect it yet (sent after, or just before, the read)."""
        return sent if sent is not None and r.mono_s < sent.mono_s + self._settle_s else None

    def _build(self, now: datetime, error: ChargerError | None) -> ChargerSnapshot:
        """The last read, overlaid with commands it cannot reflect yet (sent after, or less than
        settle_s before, the read)."""
        r = self._read
        assert r is not None
        sent_setpoint = self._newer_than(r, self._setpoint)
        sent_enabled = self._newer_than(r, self._enabled)
        status_id, setpoint, power_w, estimated = overlay(
            r,
            None if sent_setpoint is None else sent_setpoint.value,
            None if sent_enabled is None else sent_enabled.value,
            fresh=self._mono() - r.mono_s <= self._max_read_age_s,
            watts_per_amp=self._wpa,
        )
        return ChargerSnapshot(
            ts=now,
            charger_id=self._charger_id or "?",
            status_id=status_id,
            setpoint_a=setpoint,
            power_w=power_w,
            added_energy_kwh=r.added_energy_kwh,
            read_at=r.at,
            estimated=estimated,
            read_error=None if error is None else str(error),
            max_available_a=r.max_available_a,
            operation_mode=r.operation_mode,
            refused=self._refused.now(),
            schedule_set=self._schedule_set,
        )

    # -- requests ------------------------------------------------------------------------------

    def _enable(self, on: bool) -> None:
        command = "resume" if on else "pause"
        self._write(command, self._w.resumeChargingSession if on else self._w.pauseChargingSession)
        self._enabled = _Sent(on, self._mono())
        log.debug("%s sent", command)

    def _write(self, command: str, call: Callable[[str], T]) -> T:
        """A command, unless the cloud refused it (403) and its back-off has not ended."""
        self._refused.check(command)
        result = self._request("write", call, command=command)
        self._refused.accepted(command)
        return result

    def _request(
        self,
        kind: Literal["get", "write"],
        call: Callable[[str], T],
        on_sent: Callable[[], None] | None = None,
        command: str | None = None,
    ) -> T:
        """One API request with a token, re-authenticating once on 401."""
        self._ensure_token()
        cid = self._ensure_charger_id()
        for attempt in (1, 2):
            try:
                result = self._send(kind, lambda: call(cid), on_sent)
            except PackageError as e:
                if e.status == 401 and attempt == 1:
                    log.info("Wallbox cloud answered 401: signing in again")
                    self._w.jwtToken = ""
                    self._ensure_token()
                    continue
                if e.status == 403 and command is not None:
                    raise self._refused.refuse(command) from None
                raise self._map_error(e, sign_in=False) from None
            self.limiter.succeeded()
            return result
        raise AssertionError("unreachable")

    def _send(
        self,
        kind: Literal["get", "write"],
        call: Callable[[], T],
        on_sent: Callable[[], None] | None = None,
    ) -> T:
        """One request within our budget and its total deadline. A request that never goes
        out (an abandoned one still hangs, the process stops, the budget is spent) costs no
        budget and does not push the next status read back. Our own errors (not sent, past the
        deadline, stopping) pass as they are; the package's come as ``PackageError``."""
        sent = False

        def start() -> None:
            nonlocal sent
            self.limiter.acquire(kind)
            sent = True
            if on_sent is not None:
                on_sent()

        try:
            return self._runner.run(call, start)
        except ChargerError:
            raise
        except Exception as e:  # the package raises requests' exceptions, and its own
            raise PackageError(e) from e
        finally:
            if sent:
                self.limiter.answered(kind)

    def _ensure_charger_id(self) -> str:
        if self._charger_id is None:
            try:
                ids = self._send("get", self._w.getChargersList)
            except PackageError as e:
                raise self._map_error(e, sign_in=False) from None
            if not ids:
                raise ChargerUnavailable("no charger on this Wallbox account")
            if len(ids) > 1:
                log.warning("several chargers on this account %s: using %s", ids, ids[0])
            self._charger_id = str(ids[0])
            log.info("Wallbox charger id %s (set wallbox.charger_id to skip this look-up)", ids[0])
            self._save_session()
        return self._charger_id

    def _ensure_token(self) -> None:
        """Sign in or refresh only when the token is missing or about to expire (by our clock).

        ``Wallbox.authenticate`` checks expiry against the wall clock; we decide by the injected
        clock and, when we want a new token, mark the old one expired so the package asks for one.
        The sign-in runs on a copy of the package's object, taken over only when it succeeds: one
        abandoned at its deadline that finishes later must not swap the token behind our back
        (and unsaved).
        """
        w, margin = self._w, self.limiter.limits.token_margin_s
        now_s = self._clock().timestamp()
        if w.jwtToken and w.jwtTokenTtl / 1000 - margin > now_s:
            return
        if w.jwtToken:
            w.jwtTokenTtl = 0
            if not (w.jwtRefreshToken and w.jwtRefreshTokenTtl / 1000 - margin > now_s):
                w.jwtToken = ""  # refresh token expired too: sign in
        refreshing = bool(w.jwtToken)
        signing_in = self._package()
        put_tokens(signing_in, taken_tokens(w, self._account, None))
        try:
            self._send("get", signing_in.authenticate)
        except PackageError as e:
            if refreshing and e.status in (400, 401, 403):
                log.info("token refresh refused (HTTP %s): signing in", e.status)
                w.jwtToken = ""
                self._ensure_token()
                return
            raise self._map_error(e, sign_in=True) from None
        put_tokens(w, taken_tokens(signing_in, self._account, None))
        self.sign_ins += 1
        self.limiter.succeeded()
        self._save_session()

    def _package(self) -> Wallbox:
        """A ``wallbox.Wallbox`` for our account and cloud, with our timeout: the package's own
        default is None, and a hung cloud would hang the controller."""
        c = self._config
        password = "" if c.password is None else c.password.get()
        w = Wallbox(c.username, password, requestGetTimeout=c.timeout_s)
        w.baseUrl = _with_slash(c.api_url)
        w.authUrl = _with_slash(c.auth_url)
        return w

    # -- the session file ----------------------------------------------------------------------

    def _restore_session(self) -> None:
        """Take the token and charger id a previous run kept, if they are for this account."""
        s = None if self._session_file is None else self._session_file.load(self._account)
        if s is None:
            return
        put_tokens(self._w, s)
        if self._charger_id is None and s.charger_id:
            self._charger_id = s.charger_id
        log.info("Wallbox session restored from %s", s.path)

    def _save_session(self) -> None:
        if self._session_file is not None:
            self._session_file.save(taken_tokens(self._w, self._account, self._charger_id))

    def _map_error(self, failed: PackageError, sign_in: bool) -> ChargerError:
        status = failed.status
        if status == 429 or (status == 403 and not sign_in):
            until = self.limiter.back_off()
            why = "too many requests" if status == 429 else "throttled"
            log.warning(
                "Wallbox cloud answered %s (%s): no requests until %s",
                status,
                why,
                f"{until:%H:%M:%S}",
            )
            return ChargerRateLimited(f"HTTP {status} ({why})", until)
        if sign_in and status in (400, 401, 403):
            return sign_in_refused(
                status, self.limiter.back_off(self.limiter.limits.auth_backoff_s)
            )
        where = self._w.authUrl if sign_in else self._w.baseUrl
        error = transport_error(failed.error, status, where, None if sign_in else self._charger_id)
        if error is None:
            raise failed.error
        return error


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
