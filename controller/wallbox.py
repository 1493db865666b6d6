"""The Wallbox, through the PyPI ``wallbox`` package and the rate-limited Wallbox cloud.

The cloud allows about 3 GET and 5 other requests per minute per account, answers bursts with 429
(heavy polling has also given 403), and takes 10-30 s to pass a command on (docs/design.md, "The
Wallbox cloud"). So this adapter reads the status at most once a minute, keeps every request inside
a budget of its own, backs off at least a minute on 429 (and on 403 from a call that is not a
sign-in) without any request at all, reuses its token until it is about to expire, and signs in
again once on 401. Between reads it remembers what it sent, so a decision never waits for a read it
may not make; the snapshot says which fields are that memory rather than a read.

A 429 costs exactly one cycle: the back-off runs a minute from the refused answer, and the next
cycle, which starts a few milliseconds before that minute is over (the loop keeps a fixed grid
from each cycle's start), waits out those milliseconds instead of being refused for another
minute. At start, the token and charger id come from the session file (controller/session.py);
without one, the sign-in and the charger look-up go out in the first cycle and the status read in
the next, so no minute carries more than two GETs.

Time comes from an injected clock, so the simulator can run a day through this code in seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import requests
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
from common.snapshot import (
    STATUS_CHARGING,
    STATUS_PAUSED,
    ChargerSnapshot,
    Phase,
    status_phase,
)
from controller.ratelimit import Clock, RateLimiter, RateLimits, Sleep
from controller.session import SessionFile, WallboxSession, account_key

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Read:
    at: datetime
    status_id: int | None
    setpoint_a: int | None
    power_kw: float | None
    added_energy_kwh: float | None
    max_available_a: int | None = None


@dataclass(frozen=True, slots=True)
class _Sent:
    value: Any
    at: datetime


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
    ) -> None:
        if not config.username or not config.password:
            raise ChargerAuthError("wallbox.username and wallbox.password are required")
        self._clock = clock
        self.limiter = RateLimiter(limits or RateLimits(), clock, sleep)
        self._wpa = watts_per_amp
        self._settle = timedelta(seconds=settle_s)
        self._max_read_age_s = max_read_age_s
        # The package's own timeout default is None: a hung cloud would hang the controller.
        self._w = Wallbox(
            config.username, config.password.get(), requestGetTimeout=config.timeout_s
        )
        self._w.baseUrl = _with_slash(config.api_url)
        self._w.authUrl = _with_slash(config.auth_url)
        self._charger_id: str | None = config.charger_id
        self._read: _Read | None = None
        self._setpoint: _Sent | None = None
        self._enabled: _Sent | None = None
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
        self._request("write", lambda cid: self._w.setMaxChargingCurrent(cid, current_a))
        self._setpoint = _Sent(current_a, now)
        log.debug("set max charging current %d A", current_a)

    def pause(self, now: datetime) -> None:
        self._request("write", self._w.pauseChargingSession)
        self._enabled = _Sent(False, now)
        log.debug("paused")

    def resume(self, now: datetime) -> None:
        self._request("write", self._w.resumeChargingSession)
        self._enabled = _Sent(True, now)
        log.debug("resumed")

    @property
    def charger_id(self) -> str | None:
        return self._charger_id

    # -- reading -------------------------------------------------------------------------------

    def _read_status(self, now: datetime) -> None:
        def sent() -> None:
            # Only a request that went out makes the next read wait a minute; one our own
            # limiter refused must not push the next read back another cycle.
            self.limiter.last_status_attempt = self._clock()

        body = self._request("get", self._w.getChargerStatus, on_sent=sent)
        try:
            config = body.get("config_data") or {}
            status_id = body.get("status_id")
            setpoint = config.get("max_charging_current")
            power = body.get("charging_power")
            energy = body.get("added_energy")
            # amperes despite its name (docs/design.md, "The Wallbox cloud")
            available = body.get("max_available_power")
            self._read = _Read(
                at=now,
                status_id=None if status_id is None else int(status_id),
                setpoint_a=None if setpoint is None else int(setpoint),
                power_kw=None if power is None else float(power),
                added_energy_kwh=None if energy is None else float(energy),
                max_available_a=None if available is None else int(available),
            )
        except (AttributeError, TypeError, ValueError) as e:
            raise ChargerUnavailable(f"unexpected status answer: {e}") from None

    def _newer_than(self, r: _Read, sent: _Sent | None) -> _Sent | None:
        """``sent`` when the read cannot reflect it yet (sent after, or just before, the read)."""
        return sent if sent is not None and r.at < sent.at + self._settle else None

    def _build(self, now: datetime, error: ChargerError | None) -> ChargerSnapshot:
        """The last read, overlaid with commands it cannot reflect yet (sent after, or less than
        settle_s before, the read)."""
        r = self._read
        assert r is not None
        estimated: set[str] = set()
        status_id, setpoint = r.status_id, r.setpoint_a

        sent_setpoint = self._newer_than(r, self._setpoint)
        if sent_setpoint is not None:
            setpoint = sent_setpoint.value
            estimated.add("setpoint_a")
        sent_enabled = self._newer_than(r, self._enabled)
        if sent_enabled is not None:
            phase = status_phase(status_id)
            if sent_enabled.value and phase in (Phase.PAUSED, Phase.SCHEDULED):
                status_id = STATUS_CHARGING
                estimated.add("status")
            elif not sent_enabled.value and phase in (
                Phase.CHARGING,
                Phase.CAR_DEMAND,
                Phase.WAITING,
            ):
                status_id = STATUS_PAUSED
                estimated.add("status")
        age_s = (now - r.at).total_seconds()
        if status_phase(status_id) is not Phase.CHARGING:
            power_w = 0.0
        elif not estimated and r.power_kw is not None and age_s <= self._max_read_age_s:
            power_w = r.power_kw * 1000.0  # the cloud reports kW
        else:
            power_w = (setpoint or 0) * self._wpa
            estimated.add("power_w")
        return ChargerSnapshot(
            ts=now,
            charger_id=self._charger_id or "?",
            status_id=status_id,
            setpoint_a=setpoint,
            power_w=power_w,
            added_energy_kwh=r.added_energy_kwh,
            read_at=r.at,
            estimated=frozenset(estimated),
            read_error=None if error is None else str(error),
            max_available_a=r.max_available_a,
        )

    # -- requests ------------------------------------------------------------------------------

    def _request(
        self,
        kind: Literal["get", "write"],
        call: Callable[[str], T],
        on_sent: Callable[[], None] | None = None,
    ) -> T:
        """One API request with a token, re-authenticating once on 401."""
        self._ensure_token()
        cid = self._ensure_charger_id()
        for attempt in (1, 2):
            self.limiter.acquire(kind)
            if on_sent is not None:
                on_sent()
            try:
                result = call(cid)
            except Exception as e:  # mapped below; the package raises requests' exceptions
                self.limiter.answered(kind)
                status = _http_status(e)
                if status == 401 and attempt == 1:
                    log.info("Wallbox cloud answered 401: signing in again")
                    self._w.jwtToken = ""
                    self._ensure_token()
                    continue
                raise self._map_error(e, status, sign_in=False) from None
            self.limiter.answered(kind)
            self.limiter.succeeded()
            return result
        raise AssertionError("unreachable")

    def _ensure_charger_id(self) -> str:
        if self._charger_id is None:
            self.limiter.acquire("get")
            try:
                ids = self._w.getChargersList()
            except Exception as e:
                raise self._map_error(e, _http_status(e), sign_in=False) from None
            finally:
                self.limiter.answered("get")
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
        self.limiter.acquire("get")
        try:
            w.authenticate()
        except Exception as e:
            self.limiter.answered("get")
            status = _http_status(e)
            if refreshing and status in (400, 401, 403):
                log.info("token refresh refused (HTTP %s): signing in", status)
                w.jwtToken = ""
                self._ensure_token()
                return
            raise self._map_error(e, status, sign_in=True) from None
        self.limiter.answered("get")
        self.sign_ins += 1
        self.limiter.succeeded()
        self._save_session()

    # -- the session file ----------------------------------------------------------------------

    def _restore_session(self) -> None:
        """Take the token and charger id a previous run kept, if they are for this account."""
        if self._session_file is None:
            return
        s = self._session_file.load(self._account)
        if s is None:
            return
        if s.token:
            w = self._w
            w.jwtToken, w.jwtTokenTtl = s.token, s.token_ttl_ms
            w.jwtRefreshToken, w.jwtRefreshTokenTtl = s.refresh_token, s.refresh_token_ttl_ms
            w.headers["Authorization"] = f"Bearer {s.token}"
        if self._charger_id is None and s.charger_id:
            self._charger_id = s.charger_id
        log.info("Wallbox session restored from %s", self._session_file.path)

    def _save_session(self) -> None:
        if self._session_file is None:
            return
        w = self._w
        self._session_file.save(
            WallboxSession(
                account=self._account,
                token=w.jwtToken,
                token_ttl_ms=int(w.jwtTokenTtl or 0),
                refresh_token=w.jwtRefreshToken,
                refresh_token_ttl_ms=int(w.jwtRefreshTokenTtl or 0),
                charger_id=self._charger_id,
            )
        )

    def _map_error(self, e: Exception, status: int | None, sign_in: bool) -> ChargerError:
        if status == 429 or (status == 403 and not sign_in):
            until = self.limiter.back_off()
            why = "too many requests" if status == 429 else "throttled or insufficient rights"
            log.warning(
                "Wallbox cloud answered %s (%s): no requests until %s",
                status,
                why,
                f"{until:%H:%M:%S}",
            )
            return ChargerRateLimited(f"HTTP {status} ({why})", until)
        if sign_in and status in (400, 401, 403):
            until = self.limiter.back_off(self.limiter.limits.auth_backoff_s)
            return ChargerAuthError(
                f"Wallbox sign-in refused (HTTP {status}): check wallbox.username/password; "
                f"next try after {until:%H:%M:%S}"
            )
        if status == 401:
            return ChargerAuthError("Wallbox cloud refused the token twice (HTTP 401)")
        if status is not None:
            return ChargerUnavailable(f"Wallbox cloud answered HTTP {status}")
        if isinstance(e, requests.Timeout):
            return ChargerUnavailable("Wallbox cloud timed out")
        if isinstance(e, requests.RequestException):
            return ChargerUnavailable(f"Wallbox cloud unreachable: {type(e).__name__}")
        if isinstance(e, ValueError | KeyError | TypeError):
            return ChargerUnavailable(f"unexpected answer from the Wallbox cloud: {e!r}")
        raise e


def _http_status(e: Exception) -> int | None:
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return e.response.status_code
    return None


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
