"""Client for the HomeWizard Wi-Fi P1 meter's local API, v1 (HTTP) and v2 (HTTPS + token).

Both give a ``Reading`` in the v1 vocabulary (docs/design.md, "Store schema"), whatever the API: v2
names are mapped, a missing key and ``null`` mean the same (the docs say keys are omitted, the
fixtures send nulls), currents are stored unsigned (real Belgian meters never sign them; the
direction is in the power), and the misspelled ``montly_power_peak_w`` is kept because it is the
real key.

Every failure is one of this module's exceptions, with a message a person can act on: the
collector logs it once per episode and keeps polling, so it must never see a raw ``requests``
error or a traceback.

API v2 TLS: a device's certificate is signed by HomeWizard's own CA and names the device
``appliance/p1dongle/<serial>``, not its IP address, so standard verification cannot work. The
client verifies the chain against that CA alone (not the system's CAs) for the first ``/api``
request, learns the serial there, and from then on also requires that exact name, which pins the
connection to this one meter.
"""

from __future__ import annotations

import json
import logging
import math
import re
import ssl
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from collector.homewizard_ca import HOMEWIZARD_CA_PEM
from common.config import MeterConfig
from common.models import P1_FIELDS, Reading, utcnow

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_METER_TAG = "p1"


# -- errors -----------------------------------------------------------------------------------
class MeterError(Exception):
    """The meter gave no usable reading; the message is one line that says what to do."""


class MeterHTTPError(MeterError):
    """The meter answered with an HTTP error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class MeterDisabledError(MeterHTTPError):
    """403 on API v1: the local API is switched off in the HomeWizard app."""


class MeterUnauthorizedError(MeterHTTPError):
    """401: the v2 token is missing, wrong, or was revoked."""


class MeterServerError(MeterHTTPError):
    """5xx: the meter itself failed (often right after a reboot or firmware update)."""


class MeterInvalidResponse(MeterError):
    """The reply was not the JSON object expected (garbage, truncated, wrong shape)."""


class MeterTimeout(MeterError):
    """No answer within the timeout."""


class MeterUnreachable(MeterError):
    """No connection: refused, no route, name not found, connection dropped."""


class MeterTLSError(MeterError):
    """API v2: the meter's certificate did not verify against the HomeWizard CA and its name."""


# -- pure mapping -----------------------------------------------------------------------------
#: API v2 measurement names -> the v1 vocabulary (HomeWizard's documented v1 -> v2 renames).
V2_TO_V1: dict[str, str] = {
    "power_w": "active_power_w",
    "power_l1_w": "active_power_l1_w",
    "power_l2_w": "active_power_l2_w",
    "power_l3_w": "active_power_l3_w",
    "voltage_l1_v": "active_voltage_l1_v",
    "voltage_l2_v": "active_voltage_l2_v",
    "voltage_l3_v": "active_voltage_l3_v",
    "current_l1_a": "active_current_l1_a",
    "current_l2_a": "active_current_l2_a",
    "current_l3_a": "active_current_l3_a",
    "energy_import_kwh": "total_power_import_kwh",
    "energy_export_kwh": "total_power_export_kwh",
    "average_power_15m_w": "active_power_average_w",
    "monthly_power_peak_w": "montly_power_peak_w",
}
_V1_TO_V2 = {v1: v2 for v2, v1 in V2_TO_V1.items()}
_CURRENTS = ("active_current_l1_a", "active_current_l2_a", "active_current_l3_a")
_TARIFF_PARTS = ("t1", "t2", "t3", "t4")
_bad_fields_warned: set[str] = set()


def _number(body: Mapping[str, Any], key: str) -> float | None:
    """A finite number, or None for missing/null; a wrong type is dropped with one warning."""
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        if key not in _bad_fields_warned:
            _bad_fields_warned.add(key)
            log.warning("P1 meter sent %s=%r, not a number: field ignored", key, v)
        return None
    return float(v) if math.isfinite(v) else None


def _energy_total(body: Mapping[str, Any], key: str) -> float | None:
    """The total counter, else the sum of the tariff counters (some meters omit the total)."""
    total = _number(body, key)
    if total is not None:
        return total
    stem = key.removesuffix("_kwh")
    parts = [_number(body, f"{stem}_{t}_kwh") for t in _TARIFF_PARTS]
    present = [p for p in parts if p is not None]
    return sum(present) if present else None


def parse_reading(
    body: object, ts: datetime, api: Literal["v1", "v2"] = "v1", meter: str = DEFAULT_METER_TAG
) -> Reading:
    """Map a ``/api/v1/data`` (v1) or ``/api/measurement`` (v2) body onto a Reading."""
    if not isinstance(body, dict):
        raise MeterInvalidResponse(f"expected a JSON object, got {type(body).__name__}")
    values: dict[str, float | None] = {}
    for name in P1_FIELDS:
        key = name if api == "v1" else _V1_TO_V2[name]
        if name in ("total_power_import_kwh", "total_power_export_kwh"):
            values[name] = _energy_total(body, key)
        else:
            values[name] = _number(body, key)
    for name in _CURRENTS:
        v = values[name]
        if v is not None:
            values[name] = abs(v)
    return Reading(ts=ts, meter=meter, **values)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    product_type: str | None
    serial: str | None
    firmware_version: str | None
    api_version: str | None


def parse_device(body: object) -> DeviceInfo:
    if not isinstance(body, dict):
        raise MeterInvalidResponse(f"/api: expected a JSON object, got {type(body).__name__}")

    def text(key: str) -> str | None:
        v = body.get(key)
        return str(v) if isinstance(v, str | int) and str(v) else None

    return DeviceInfo(
        product_type=text("product_type"),
        serial=text("serial"),
        firmware_version=text("firmware_version"),
        api_version=text("api_version"),
    )


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


class _HomeWizardTLSAdapter(HTTPAdapter):
    """Connections verified against one CA, with ``server_name`` instead of the URL's host.

    requests would otherwise load certifi's bundle into the context and check the name against
    the IP address in the URL; both are wrong for a HomeWizard device.
    """

    def __init__(self, ssl_context: ssl.SSLContext, server_name: str | None) -> None:
        self._ctx = ssl_context
        self._name = server_name
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

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
        self._session = requests.Session()
        self._session.trust_env = False  # a LAN device: no proxies, no .netrc
        self._session.headers.update({"Accept": "application/json"})
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
        return parse_reading(self._get(self._data_path), ts, self.api, self.meter_tag)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HomeWizardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        url = self.base_url + path
        try:
            with warnings.catch_warnings():
                # verify_tls: false was warned about once at start, not on every request.
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                resp = self._session.get(
                    url, timeout=(self.timeout_s, self.timeout_s), allow_redirects=False
                )
                content = resp.content
        except requests.exceptions.SSLError as e:
            raise MeterTLSError(_tls_message(url, e, self.tls_name)) from None
        except requests.exceptions.Timeout:
            raise MeterTimeout(f"no answer from {url} within {self.timeout_s:g} s") from None
        except requests.exceptions.ChunkedEncodingError as e:
            raise MeterInvalidResponse(f"{url}: reply cut off ({_reason(e)})") from None
        except requests.exceptions.ConnectionError as e:
            raise MeterUnreachable(f"cannot reach {url}: {_reason(e)}") from None
        except requests.exceptions.RequestException as e:
            raise MeterUnreachable(f"{url}: {_reason(e)}") from None
        if resp.status_code != 200:
            raise self._status_error(url, resp.status_code, content)
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError) as e:
            detail = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
            raise MeterInvalidResponse(
                f"{url}: invalid JSON ({len(content)} bytes: {detail})"
            ) from None

    def _status_error(self, url: str, status: int, content: bytes) -> MeterHTTPError:
        code = _error_code(content)
        what = f"HTTP {status}" + (f" {code}" if code else "")
        if status == 403 and self.api == "v1":
            return MeterDisabledError(
                f'{url}: {what}: the meter\'s local API is switched off; enable "Local API" '
                "in the HomeWizard Energy app (Settings > Meters > your P1 meter)",
                status,
            )
        if status == 401:
            hint = (
                "check meter.token (create one: press the meter's button, then POST /api/user)"
                if self.api == "v2"
                else "this meter wants API v2: set meter.api: v2 and meter.token"
            )
            return MeterUnauthorizedError(f"{url}: {what}: {hint}", status)
        if status >= 500:
            return MeterServerError(
                f"{url}: {what} (the meter failed; it may be rebooting)", status
            )
        if status == 404:
            return MeterHTTPError(
                f"{url}: {what}: is meter.url the P1 meter, and meter.api ({self.api}) right?",
                status,
            )
        return MeterHTTPError(f"{url}: {what}", status)


def _error_code(content: bytes) -> str | None:
    """v1 ``{"error":{"id":202,"description":...}}`` or v2 ``{"error":"user:unauthorized"}``."""
    try:
        err = json.loads(content).get("error")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    if isinstance(err, str):
        return err
    if isinstance(err, dict):
        desc, ident = err.get("description"), err.get("id")
        return f"{desc} (id {ident})" if desc else None
    return None


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
