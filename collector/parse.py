"""What the P1 meter's replies mean, without any I/O: a measurement body becomes a ``Reading``,
``/api`` becomes ``DeviceInfo``, an error status and body become one of collector/errors.py.

Readings are in the v1 vocabulary (docs/design.md, "Store schema") whatever the API: v2 names are
mapped, a missing key and ``null`` mean the same (the docs say keys are omitted, the fixtures send
nulls), currents are stored unsigned (real Belgian meters never sign them; the direction is in the
power), and the misspelled ``montly_power_peak_w`` is kept because it is the real key. Kept apart
from the HTTP client so that recorded device replies can be checked against it directly.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from collector.errors import (
    MeterDisabledError,
    MeterHTTPError,
    MeterInvalidResponse,
    MeterServerError,
    MeterUnauthorizedError,
)
from common.models import P1_FIELDS, Reading

# The meter's log lines keep one name, whichever module writes them.
log = logging.getLogger("collector.homewizard")

DEFAULT_METER_TAG = "p1"

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
POWER_FIELDS = ("active_power_w", "active_power_l1_w", "active_power_l2_w", "active_power_l3_w")
_TARIFF_PARTS = ("t1", "t2", "t3", "t4")
_bad_fields_warned: set[str] = set()


def _number(body: Mapping[str, Any], key: str) -> float | None:
    """A finite number, or None for missing/null; anything else is dropped with one warning."""
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        _bad_field(key, f"{v!r}, not a number")
        return None
    try:
        number = float(v)  # an integer beyond a float's range (1e400 written out) overflows
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        _bad_field(key, f"{str(v)[:20]}{'...' if len(str(v)) > 20 else ''}, not a finite number")
        return None
    return number


def _bad_field(key: str, what: str) -> None:
    if key not in _bad_fields_warned:
        _bad_fields_warned.add(key)
        log.warning("P1 meter sent %s=%s: field ignored", key, what)


def _energy_total(body: Mapping[str, Any], key: str) -> float | None:
    """The total counter, else the sum of the tariff counters (some meters omit the total)."""
    total = _number(body, key)
    if total is not None:
        return total
    stem = key.removesuffix("_kwh")
    parts = [_number(body, f"{stem}_{t}_kwh") for t in _TARIFF_PARTS]
    present = [p for p in parts if p is not None]
    total = sum(present)
    return total if present and math.isfinite(total) else None


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


def has_power(reading: Reading) -> bool:
    """A reading is of use only with a power: what the controller runs on. A meter that lost its
    smart meter's telegrams (a loose P1 cable) still answers 200, with only its Wi-Fi fields."""
    return any(getattr(reading, f) is not None for f in POWER_FIELDS)


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


def status_error(url: str, status: int, content: bytes, api: str) -> MeterHTTPError:
    """The error for a reply with HTTP ``status`` (not 200), with a hint that fits the API."""
    code = error_code(content)
    what = f"HTTP {status}" + (f" {code}" if code else "")
    if status == 403 and api == "v1":
        return MeterDisabledError(
            f'{url}: {what}: the meter\'s local API is switched off; enable "Local API" '
            "in the HomeWizard Energy app (Settings > Meters > your P1 meter)",
            status,
        )
    if status == 401:
        hint = (
            "check meter.token (create one: press the meter's button, then POST /api/user)"
            if api == "v2"
            else "this meter wants API v2: set meter.api: v2 and meter.token"
        )
        return MeterUnauthorizedError(f"{url}: {what}: {hint}", status)
    if status >= 500:
        return MeterServerError(f"{url}: {what} (the meter failed; it may be rebooting)", status)
    if status == 404:
        return MeterHTTPError(
            f"{url}: {what}: is meter.url the P1 meter, and meter.api ({api}) right?", status
        )
    return MeterHTTPError(f"{url}: {what}", status)


def error_code(content: bytes) -> str | None:
    """v1 ``{"error":{"id":202,"description":...}}`` or v2 ``{"error":"user:unauthorized"}``."""
    try:
        err = json.loads(content).get("error")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    if isinstance(err, str):
        return _short(err)
    if isinstance(err, dict):
        desc, ident = err.get("description"), err.get("id")
        return f"{_short(str(desc))} (id {ident})" if desc else None
    return None


#: A meter's error text is a few words; a longer one is not the meter's (a web app's paragraph
#: when meter.url points at the wrong device) and is cut so the log line stays one short line.
MAX_CODE_CHARS = 60


def _short(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) <= MAX_CODE_CHARS:
        return one_line
    head = one_line[:MAX_CODE_CHARS]
    return head[: head.rfind(" ")].rstrip(" .,:;") + "\u2026"
