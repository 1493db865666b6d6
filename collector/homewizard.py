"""HTTP client for the HomeWizard Wi-Fi P1 meter's local API, v1 (HTTP) and v2 (HTTPS + token).

It only moves bytes: what a reply means is collector/parse.py, and every failure is one of the
errors drawn in collector/errors.py, with a message a person can act on (the collector logs it
once per episode and keeps polling, so it must never see a raw ``requests`` error).

Every request ends within ``meter.timeout_s`` all included (common/deadline.py: a meter that sends
its headers and then one byte every 2 s would pass any socket timeout), and a reply may be at most
``MAX_REPLY_BYTES`` (a P1 reply is under 4 kB; one that never ends must not fill the memory).
``abort()`` ends the request in progress at once, for SIGTERM.

API v2 TLS: a device's certificate is signed by HomeWizard's own CA and names the device
``appliance/p1dongle/<serial>``, not its IP address, so standard verification cannot work. The
client verifies the chain against that CA alone (not the system's CAs) for the first ``/api``
request, learns the serial there, and from then on also requires that exact name, which pins the
connection to this one meter.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from collector.errors import (
    MeterDisabledError,
    MeterError,
    MeterHTTPError,
    MeterInvalidResponse,
    MeterServerError,
    MeterTimeout,
    MeterTLSError,
    MeterUnauthorizedError,
    MeterUnreachable,
)
from collector.homewizard_ca import HOMEWIZARD_CA_PEM
from collector.parse import (
    DEFAULT_METER_TAG,
    DeviceInfo,
    has_power,
    parse_device,
    parse_reading,
    status_error,
)
from common.config import MeterConfig
from common.deadline import Deadline, deadline, guard_pools
from common.models import Reading, utcnow

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
#: A P1 reply is under 4 kB; anything this long is not one.
MAX_REPLY_BYTES = 64 * 1024


def normalize_url(url: str, api: str) -> str:
    """Base URL without a trailing slash; a bare host gets http:// (v1) or https:// (v2)."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = ("https://" if api == "v2" else "http://") + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"meter.url {url!r} is not an http(s) URL of the meter")
    if api == "v2" and parts.scheme != "https":
        raise ValueError(f"meter.url {url!r}: API v2 is HTTPS only (use https://)")
    if parts.path not in ("", "/"):
        raise ValueError(f"meter.url {url!r}: give the meter's address only, without a path")
    return url


# -- TLS --------------------------------------------------------------------------------------
def homewizard_tls_context(ca_pem: str, check_name: bool) -> ssl.SSLContext:
    """Trust only ``ca_pem``; with ``check_name`` the name must match (in the CN, as HW puts it)."""
    ctx = ssl.create_default_context(cadata=ca_pem)  # cadata given: no system CAs loaded
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT  # HomeWizard's CA is an X.509 v1 certificate
    ctx.hostname_checks_common_name = True
    ctx.check_hostname = check_name
    return ctx


class _GuardedAdapter(HTTPAdapter):
    """Pools whose requests honour ``common.deadline``; no retries (the next poll is the retry)."""

    def __init__(self) -> None:
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        guard_pools(self.poolmanager)


class _HomeWizardTLSAdapter(_GuardedAdapter):
    """Connections verified against one CA, with ``server_name`` instead of the URL's host.

    requests would otherwise load certifi's bundle into the context and check the name against
    the IP address in the URL; both are wrong for a HomeWizard device.
    """

    def __init__(self, ssl_context: ssl.SSLContext, server_name: str | None) -> None:
        self._ctx = ssl_context
        self._name = server_name
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:  # requests' private (_HostParams, _PoolKwargs) TypedDicts; the pool takes dicts
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        pool_kwargs: dict[str, Any] = {"ssl_context": self._ctx, "cert_reqs": "CERT_REQUIRED"}
        if self._name:
            pool_kwargs["server_hostname"] = self._name  # SNI and the name the context checks
        else:
            pool_kwargs["assert_hostname"] = False  # chain only, until the serial is known
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


# -- client -----------------------------------------------------------------------------------
class HomeWizardClient:
    """One meter. Not thread-safe: the collector polls from one thread."""

    def __init__(
        self,
        url: str,
        api: Literal["v1", "v2"] = "v1",
        token: str | None = None,
        *,
        verify_tls: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        ca_pem: str = HOMEWIZARD_CA_PEM,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if api not in ("v1", "v2"):
            raise ValueError(f"meter.api must be v1 or v2, not {api!r}")
        if api == "v2" and not token:
            raise ValueError("meter.token is required for API v2")
        self.api: Literal["v1", "v2"] = api
        self.base_url = normalize_url(url, api)
        self.timeout_s = timeout_s
        self.verify_tls = verify_tls
        self._clock = clock
        self._ca_pem = ca_pem
        self._device: DeviceInfo | None = None
        self._device_done = False
        self._inflight: Deadline | None = None
        self._session = requests.Session()
        self._session.trust_env = False  # a LAN device: no proxies, no .netrc
        self._session.mount("http://", _GuardedAdapter())
        self._session.mount("https://", _GuardedAdapter())
        # identity: a compressed reply could be far larger than MAX_REPLY_BYTES once inflated.
        self._session.headers.update({"Accept": "application/json", "Accept-Encoding": "identity"})
        if api == "v2":
            self._session.headers.update({"Authorization": f"Bearer {token}", "X-Api-Version": "2"})
            if verify_tls:
                ctx = homewizard_tls_context(ca_pem, check_name=False)
                self._session.mount("https://", _HomeWizardTLSAdapter(ctx, None))
            else:
                self._session.verify = False
        self._data_path = "/api/measurement" if api == "v2" else "/api/v1/data"

    @classmethod
    def from_config(
        cls, meter: MeterConfig, clock: Callable[[], datetime] = utcnow
    ) -> HomeWizardClient:
        """From ``config.meter``."""
        token = meter.token.get() if meter.token else None
        return cls(
            meter.url,
            meter.api,
            token,
            verify_tls=meter.verify_tls,
            timeout_s=meter.timeout_s,
            clock=clock,
        )

    @property
    def meter_tag(self) -> str:
        """The series tag: the device serial once known, else "p1"."""
        if self._device is not None and self._device.serial:
            return self._device.serial
        return DEFAULT_METER_TAG

    @property
    def tls_name(self) -> str | None:
        """The certificate name v2 requests are verified against, once the serial is known."""
        if self.api == "v2" and self._device is not None and self._device.serial:
            return f"appliance/p1dongle/{self._device.serial}"
        return None

    def device(self) -> DeviceInfo | None:
        """``GET /api``, once. A meter without it (404) or without a serial is still usable."""
        if self._device_done:
            return self._device
        try:
            info = parse_device(self._get("/api"))
        except MeterHTTPError as e:
            if isinstance(e, MeterDisabledError | MeterUnauthorizedError | MeterServerError):
                raise
            log.warning("P1 meter: no device info (%s); tagging readings %r", e, DEFAULT_METER_TAG)
            info = None
        self._device, self._device_done = info, True
        if self.api == "v2" and self.verify_tls:
            if self.tls_name:
                ctx = homewizard_tls_context(self._ca_pem, check_name=True)
                self._session.mount("https://", _HomeWizardTLSAdapter(ctx, self.tls_name))
            else:
                log.warning(
                    "P1 meter: no serial in /api, so its TLS name cannot be checked "
                    "(the certificate chain still is)"
                )
        return info

    def read(self) -> Reading:
        """One measurement, timestamped when the request was sent."""
        self.device()
        ts = self._clock()
        reading = parse_reading(self._get(self._data_path), ts, self.api, self.meter_tag)
        if not has_power(reading):
            raise MeterInvalidResponse(
                f"{self.base_url}{self._data_path}: the reply holds no power field; the P1 meter "
                "may not be receiving its smart meter's telegrams (check the P1 cable)"
            )
        return reading

    def abort(self) -> None:
        """End the request in progress now (from a signal handler); the next one is unaffected."""
        inflight = self._inflight
        if inflight is not None:
            inflight.abort()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HomeWizardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        url = self.base_url + path
        with deadline(self.timeout_s) as limit:
            self._inflight = limit
            try:
                status, content = self._fetch(url, limit)
            finally:
                self._inflight = None
        if status != 200:
            raise status_error(url, status, content, self.api)
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError) as e:
            detail = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
            raise MeterInvalidResponse(
                f"{url}: invalid JSON ({len(content)} bytes: {detail})"
            ) from None

    def _fetch(self, url: str, limit: Deadline) -> tuple[int, bytes]:
        """Status and body, or the MeterError that says why not."""
        try:
            with warnings.catch_warnings():
                # verify_tls: false was warned about once at start, not on every request.
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                with self._session.get(
                    url,
                    # The deadline ends the request; this read timeout is a backstop only.
                    timeout=(self.timeout_s, self.timeout_s + 1),
                    allow_redirects=False,
                    stream=True,
                ) as resp:
                    status, content = resp.status_code, _read_capped(resp, url)
        except MeterInvalidResponse:
            raise
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
            if limit.ended:
                raise _ended(url, limit) from None
            raise _transport_error(url, e, self.timeout_s, self.tls_name) from None
        if limit.ended:  # cut short without an error: headers cut off read as the end of them
            raise _ended(url, limit)
        return status, content


def _read_capped(resp: requests.Response, url: str) -> bytes:
    """The body, refused once it passes MAX_REPLY_BYTES (the connection is then dropped)."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
        raise _too_large(url, f"announced {int(declared)} bytes")
    body = bytearray()
    for chunk in resp.iter_content(16 * 1024):
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            raise _too_large(url, f"more than {MAX_REPLY_BYTES} bytes and counting")
    return bytes(body)


def _too_large(url: str, what: str) -> MeterInvalidResponse:
    return MeterInvalidResponse(
        f"{url}: reply too large ({what}; a P1 reply is a few kB): is meter.url the P1 meter?"
    )


def _ended(url: str, limit: Deadline) -> MeterError:
    if limit.aborted:
        return MeterUnreachable(f"{url}: request abandoned (stopping)")
    return MeterTimeout(f"no complete answer from {url} within {limit.seconds:g} s")


def _transport_error(url: str, e: BaseException, timeout_s: float, name: str | None) -> MeterError:
    if isinstance(e, requests.exceptions.SSLError):
        return MeterTLSError(_tls_message(url, e, name))
    if isinstance(e, requests.exceptions.Timeout):
        return MeterTimeout(f"no answer from {url} within {timeout_s:g} s")
    if isinstance(e, requests.exceptions.ChunkedEncodingError):
        return MeterInvalidResponse(f"{url}: reply cut off ({_reason(e)})")
    if isinstance(e, requests.exceptions.ConnectionError):
        return MeterUnreachable(f"cannot reach {url}: {_reason(e)}")
    return MeterUnreachable(f"{url}: {_reason(e)}")


def _reason(e: BaseException) -> str:
    """The innermost cause, without urllib3's wrapping ("Max retries exceeded with url ...")."""
    seen = e
    while True:
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        inner = inner or getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if not isinstance(inner, BaseException) or inner is seen:
            break
        seen = inner
    text = str(seen)
    if isinstance(seen, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    for marker in ("] ", "): "):  # "[Errno 111] Connection refused", "NewConnectionError(...): x"
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
    return text.strip() or type(seen).__name__


def _tls_message(url: str, e: BaseException, name: str | None) -> str:
    reason = _reason(e)
    expect = f" (expected name {name})" if name else ""
    return (
        f"{url}: TLS certificate check failed{expect}: {reason} (a HomeWizard meter's "
        "certificate is signed by the HomeWizard CA; to skip the check set meter.verify_tls: false)"
    )
