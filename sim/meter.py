"""A simulated HomeWizard P1 meter, served over real HTTP (API v1) or HTTPS (API v2).

The bodies follow the real device field for field (docs/design.md, "The HomeWizard P1 meter": v1
names with the misspelled ``montly_power_peak_w``, v2 names, error bodies, the bearer token, the odd
TLS name), so the collector meets the same bytes it meets on a real meter. What the meter measures
comes from a provider callable (grid power in W at a given time, + import / - export), so a
simulation of house, PV and car can drive it. Tests inject faults (403 API disabled, 401, 500,
truncated JSON, a slow reply, a dropped connection) and body variants (nulls, missing keys, one
phase, signed or unsigned currents), and can inject the clock.

Standalone, it lets a user try ``scc collector`` without hardware::

    python -m sim.meter --port 8081 --export-w 4200
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import json
import logging
import math
import random
import secrets
import signal
import socket
import ssl
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sim.tls import TestPki, make_test_pki

log = logging.getLogger(__name__)

#: Grid power in W at a time: + import, - export (HomeWizard's ``active_power_w``).
GridPowerProvider = Callable[[datetime], float]
Clock = Callable[[], datetime]

DEFAULT_SERIAL = "5c2fafa1b2c3"
DEFAULT_FIRMWARE = "6.0305"
V2_API_VERSION = "2.2.0"

try:
    _METER_TZ: Any = ZoneInfo("Europe/Brussels")
except ZoneInfoNotFoundError:  # no tz database: the meter's local time becomes UTC
    _METER_TZ = UTC

# Phase shares of the total: a little imbalance, as on a real house (-4200 -> -1420/-1390/-1390).
_PHASE_SHARE = (0.338, 0.331, 0.331)
_QUARTER = timedelta(minutes=15)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Fault(enum.StrEnum):
    """What the simulated meter can do wrong, at the HTTP level."""

    API_DISABLED = "api_disabled"  # v1: 403 {"error":{"id":202,"description":"API not enabled"}}
    UNAUTHORIZED = "unauthorized"  # 401 {"error":"user:unauthorized"}
    SERVER_ERROR = "server_error"  # 500
    TRUNCATED = "truncated"  # 200 with the JSON body cut in half
    GARBAGE = "garbage"  # 200 with a body that is not JSON at all
    SLOW = "slow"  # the right answer, after ``delay_s``
    DISCONNECT = "disconnect"  # the connection is closed without an answer


@dataclass(frozen=True)
class _Phase:
    power_w: float
    voltage_v: float
    current_a: float  # unsigned


class SimulatedP1:
    """The meter's state: energy counters, the quarter-hour average, this month's peak.

    Counters integrate the provider's power between requests, so totals grow as on a real meter
    (left Riemann sum over the request times, which is what a poller of a real meter sees too).
    Body variants are plain attributes, set by tests: ``null_fields`` and ``omit_fields`` (v1
    names; mapped for v2), ``phases`` (1 or 3), ``signed_currents`` (None: as the reference
    bodies, unsigned in v1 and signed in v2; real Belgian meters send unsigned in both).
    """

    def __init__(
        self,
        provider: GridPowerProvider,
        clock: Clock = _utcnow,
        *,
        phases: int = 3,
        serial: str = DEFAULT_SERIAL,
        firmware_version: str = DEFAULT_FIRMWARE,
        import_t1_kwh: float = 3921.554,
        import_t2_kwh: float = 2921.663,
        export_t1_kwh: float = 4388.12,
        export_t2_kwh: float = 822.788,
        monthly_peak_w: float = 3560.0,
    ) -> None:
        self.provider = provider
        self.clock = clock
        self.phases = phases
        self.serial = serial
        self.firmware_version = firmware_version
        self.null_fields: set[str] = set()
        self.omit_fields: set[str] = set()
        self.signed_currents: bool | None = None
        self._import_kwh = [import_t1_kwh, import_t2_kwh]
        self._export_kwh = [export_t1_kwh, export_t2_kwh]
        self._peak_w = monthly_peak_w
        self._peak_at = datetime(2026, 5, 12, 16, 30, tzinfo=UTC)
        self._quarter_start: datetime | None = None
        self._quarter_import_ws = 0.0
        self._last: tuple[datetime, float] | None = None
        self._lock = threading.Lock()

    # -- state ----------------------------------------------------------------------------
    @staticmethod
    def tariff(ts: datetime) -> int:
        """Belgian day (1) / night (2) tariff: night 22:00-07:00 local and all weekend."""
        local = ts.astimezone(_METER_TZ)
        return 2 if local.weekday() >= 5 or not 7 <= local.hour < 22 else 1

    def _advance(self, now: datetime) -> float:
        power_w = float(self.provider(now))
        if self._last is None or self._quarter_start is None:
            self._quarter_start = _quarter_of(now)
        else:
            then, last_w = self._last
            dt_s = max((now - then).total_seconds(), 0.0)
            t = self.tariff(then) - 1
            if last_w >= 0:
                self._import_kwh[t] += last_w * dt_s / 3.6e6
            else:
                self._export_kwh[t] += -last_w * dt_s / 3.6e6
            # The quarter-hour demand: import energy per quarter, split at the boundaries.
            import_w, start = max(last_w, 0.0), then
            while now >= self._quarter_start + _QUARTER:
                end = self._quarter_start + _QUARTER
                self._quarter_import_ws += import_w * max((end - start).total_seconds(), 0.0)
                self._close_quarter(end if now < end + _QUARTER else _quarter_of(now))
                start = max(start, end)
            self._quarter_import_ws += import_w * max((now - start).total_seconds(), 0.0)
        self._last = (now, power_w)
        return power_w

    def _close_quarter(self, next_start: datetime) -> None:
        """A quarter ended: a new monthly peak? A new month starts from zero."""
        assert self._quarter_start is not None
        avg_w = self._quarter_import_ws / _QUARTER.total_seconds()
        if avg_w > self._peak_w:
            self._peak_w, self._peak_at = avg_w, self._quarter_start + _QUARTER
        if (
            next_start.astimezone(_METER_TZ).month
            != self._quarter_start.astimezone(_METER_TZ).month
        ):
            self._peak_w, self._peak_at = 0.0, next_start
        self._quarter_start, self._quarter_import_ws = next_start, 0.0

    def _phases(self, power_w: float) -> list[_Phase | None]:
        total = round(power_w)
        if self.phases == 1:
            powers = [total]
        else:
            l1, l2 = round(power_w * _PHASE_SHARE[0]), round(power_w * _PHASE_SHARE[1])
            powers = [l1, l2, total - l1 - l2]
        out: list[_Phase | None] = []
        for p in powers:
            # Voltage rises with export and sags with import, as on a weak LV feeder.
            v = round(235.0 - p * 0.0022, 1)
            out.append(_Phase(float(p), v, round(abs(p) / v, 2)))
        return out + [None] * (3 - len(out))

    def _avg_w(self, now: datetime) -> float:
        if self._quarter_start is None:
            return 0.0
        elapsed = (now - self._quarter_start).total_seconds()
        return round(self._quarter_import_ws / elapsed, 0) if elapsed > 0 else 0.0

    def _sample(self) -> tuple[datetime, float, list[_Phase | None], float]:
        with self._lock:
            now = self.clock()
            power_w = self._advance(now)
            return now, power_w, self._phases(power_w), self._avg_w(now)

    # -- bodies ---------------------------------------------------------------------------
    def device_v1(self) -> dict[str, Any]:
        return {
            "product_type": "HWE-P1",
            "product_name": "P1 meter",
            "serial": self.serial,
            "firmware_version": self.firmware_version,
            "api_version": "v1",
        }

    def device_v2(self) -> dict[str, Any]:
        return {
            "product_name": "P1 Meter",
            "product_type": "HWE-P1",
            "serial": self.serial,
            "firmware_version": self.firmware_version,
            "api_version": V2_API_VERSION,
        }

    def data_v1(self) -> dict[str, Any]:
        """``GET /api/v1/data`` as a Belgian L+G E360 on a HomeWizard P1 sends it."""
        now, power_w, ph, avg_w = self._sample()
        signed = bool(self.signed_currents)
        local = now.astimezone(_METER_TZ)
        peak_local = self._peak_at.astimezone(_METER_TZ)
        body: dict[str, Any] = {
            "wifi_ssid": "Proximus-Home-1A2B",
            "wifi_strength": 82,
            "smr_version": 50,
            "meter_model": "LGF5E360",
            "unique_id": "314C475A30353638363430383338",
            "active_tariff": self.tariff(now),
            "total_power_import_kwh": round(sum(self._import_kwh), 3),
            "total_power_import_t1_kwh": round(self._import_kwh[0], 3),
            "total_power_import_t2_kwh": round(self._import_kwh[1], 3),
            "total_power_export_kwh": round(sum(self._export_kwh), 3),
            "total_power_export_t1_kwh": round(self._export_kwh[0], 3),
            "total_power_export_t2_kwh": round(self._export_kwh[1], 3),
            "active_power_w": float(round(power_w)),
        }
        for i, p in enumerate(ph, 1):
            body[f"active_power_l{i}_w"] = None if p is None else p.power_w
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"active_voltage_l{i}_v"] = p.voltage_v
        body["active_current_a"] = round(sum(p.current_a for p in ph if p), 2)
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"active_current_l{i}_a"] = _current(p, signed)
        body.update(
            {
                "active_power_average_w": avg_w,
                "montly_power_peak_w": round(self._peak_w, 0),
                "montly_power_peak_timestamp": int(peak_local.strftime("%y%m%d%H%M%S")),
                "total_gas_m3": 1893.412,
                "gas_timestamp": int(_gas_time(local).strftime("%y%m%d%H%M%S")),
                "gas_unique_id": "37464C4C3130303334363937",
                "external": [
                    {
                        "unique_id": "37464C4C3130303334363937",
                        "type": "gas_meter",
                        "timestamp": int(_gas_time(local).strftime("%y%m%d%H%M%S")),
                        "value": 1893.412,
                        "unit": "m3",
                    }
                ],
            }
        )
        return self._variants(body, {})

    def measurement_v2(self) -> dict[str, Any]:
        """``GET /api/measurement`` (API v2): new names, ISO local timestamps, int powers."""
        now, power_w, ph, avg_w = self._sample()
        signed = True if self.signed_currents is None else self.signed_currents
        local = now.astimezone(_METER_TZ)
        body: dict[str, Any] = {
            "protocol_version": 50,
            "meter_model": "LGF5E360",
            "unique_id": "314C475A30353638363430383338",
            "timestamp": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "tariff": self.tariff(now),
            "energy_import_kwh": round(sum(self._import_kwh), 3),
            "energy_import_t1_kwh": round(self._import_kwh[0], 3),
            "energy_import_t2_kwh": round(self._import_kwh[1], 3),
            "energy_export_kwh": round(sum(self._export_kwh), 3),
            "energy_export_t1_kwh": round(self._export_kwh[0], 3),
            "energy_export_t2_kwh": round(self._export_kwh[1], 3),
            "power_w": round(power_w),
        }
        for i, p in enumerate(ph, 1):
            body[f"power_l{i}_w"] = None if p is None else round(p.power_w)
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"voltage_l{i}_v"] = p.voltage_v
        body["current_a"] = round(sum(p.current_a for p in ph if p), 2)
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"current_l{i}_a"] = _current(p, signed)
        body.update(
            {
                "average_power_15m_w": avg_w,
                "monthly_power_peak_w": round(self._peak_w, 0),
                "monthly_power_peak_timestamp": self._peak_at.astimezone(_METER_TZ).strftime(
                    "%Y-%m-%dT%H:%M:%S"
                ),
                "external": [
                    {
                        "unique_id": "37464C4C3130303334363937",
                        "type": "gas_meter",
                        "timestamp": _gas_time(local).strftime("%Y-%m-%dT%H:%M:%S"),
                        "value": 1893.412,
                        "unit": "m3",
                    }
                ],
            }
        )
        return self._variants(body, V1_TO_V2)

    def _variants(self, body: dict[str, Any], rename: dict[str, str]) -> dict[str, Any]:
        for name in self.null_fields:
            key = rename.get(name, name)
            if key in body:
                body[key] = None
        for name in self.omit_fields:
            body.pop(rename.get(name, name), None)
        return body


def _quarter_of(ts: datetime) -> datetime:
    return ts.replace(minute=ts.minute - ts.minute % 15, second=0, microsecond=0)


def _current(p: _Phase, signed: bool) -> float:
    return -p.current_a if signed and p.power_w < 0 else p.current_a


def _gas_time(local: datetime) -> datetime:
    """Gas comes every 5 minutes on DSMR 5 meters."""
    return local.replace(minute=local.minute - local.minute % 5, second=0, microsecond=0)


#: v1 name -> v2 name for the fields a test may null or drop (HomeWizard's v2 mapping).
V1_TO_V2: dict[str, str] = {
    "smr_version": "protocol_version",
    "active_tariff": "tariff",
    "total_power_import_kwh": "energy_import_kwh",
    "total_power_export_kwh": "energy_export_kwh",
    "active_power_w": "power_w",
    "active_power_l1_w": "power_l1_w",
    "active_power_l2_w": "power_l2_w",
    "active_power_l3_w": "power_l3_w",
    "active_voltage_l1_v": "voltage_l1_v",
    "active_voltage_l2_v": "voltage_l2_v",
    "active_voltage_l3_v": "voltage_l3_v",
    "active_current_a": "current_a",
    "active_current_l1_a": "current_l1_a",
    "active_current_l2_a": "current_l2_a",
    "active_current_l3_a": "current_l3_a",
    "active_power_average_w": "average_power_15m_w",
    "montly_power_peak_w": "monthly_power_peak_w",
}


# -- HTTP ---------------------------------------------------------------------------------------
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
    def _handle(self, h: _Handler) -> None:  # noqa: C901 (split in progress)
        path = h.path.split("?", 1)[0]
        with self._lock:
            self.requests[path] += 1
        v2 = self.api == "v2"
        extra = {"X-Api-Version": V2_API_VERSION} if v2 else {}
        if v2 and h.headers.get("X-Api-Version", "2") != "2":
            h.send_json(400, {"error": "request:api-version-not-supported"})
            return
        if v2 and h.headers.get("Authorization") != f"Bearer {self.token}":
            h.send_json(401, {"error": "user:unauthorized"}, extra)
            return
        routes: dict[str, Callable[[], dict[str, Any]]] = (
            {"/api": self.meter.device_v2, "/api/measurement": self.meter.measurement_v2}
            if v2
            else {"/api": self.meter.device_v1, "/api/v1/data": self.meter.data_v1}
        )
        if path not in routes or (path == "/api" and not self.device_info):
            h.send_bytes(404, b"Not Found", extra, content_type="text/plain")
            return
        fault = self._take_fault()
        if fault is Fault.SLOW:
            self._stopping.wait(self.delay_s)
        elif fault is Fault.DISCONNECT:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        elif fault is Fault.API_DISABLED:
            body: object = (
                {"error": "request:forbidden"}  # undocumented for v2; tests generic handling
                if v2
                else {"error": {"id": 202, "description": "API not enabled"}}
            )
            h.send_json(403, body, extra)
            return
        elif fault is Fault.UNAUTHORIZED:
            h.send_json(401, {"error": "user:unauthorized"}, extra)
            return
        elif fault is Fault.SERVER_ERROR:
            body = (
                {"error": "request:internal-server-error"}
                if v2
                else {"error": {"id": 901, "description": "Internal error"}}
            )
            h.send_json(500, body, extra)
            return
        elif fault is Fault.GARBAGE:
            h.send_bytes(200, b"<html><body>rebooting</body></html>", extra)
            return
        data = json.dumps(routes[path]()).encode()
        if fault is Fault.TRUNCATED:
            data = data[: len(data) // 2]
        h.send_bytes(200, data, extra)


# -- a plausible Belgian house for the standalone simulator ---------------------------------------
def steady(grid_power_w: float, noise_w: float = 30.0, seed: int = 1) -> GridPowerProvider:
    """A steady grid power with a little noise (e.g. -4200 W: a sunny noon, car not charging)."""

    def provider(now: datetime) -> float:
        rng = random.Random(seed * 1_000_003 + int(now.timestamp()))
        return grid_power_w + rng.uniform(-noise_w, noise_w)

    return provider


def belgian_house(pv_peak_w: float = 4500.0, seed: int = 1) -> GridPowerProvider:
    """House load minus PV over the local day: night base load, a sunny midday, a kettle."""

    def provider(now: datetime) -> float:
        local = now.astimezone(_METER_TZ)
        hour = local.hour + local.minute / 60 + local.second / 3600
        rng = random.Random(seed * 1_000_003 + int(now.timestamp()))
        pv = pv_peak_w * max(0.0, math.sin(math.pi * (hour - 6.5) / 14.5)) ** 1.5
        house = 320.0 + rng.uniform(-40, 40)
        if local.minute % 47 < 3:  # a kettle, a fridge cycle, a dishwasher heat-up
            house += 2000.0
        if 18 <= local.hour < 20:
            house += 900.0  # cooking
        return house - pv

    return provider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.meter",
        description="Serve a simulated HomeWizard P1 meter (Belgian 3-phase house).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="TCP port (0: any free port)")
    power = parser.add_mutually_exclusive_group()
    power.add_argument("--export-w", type=float, help="steady export in W (e.g. 4200)")
    power.add_argument("--import-w", type=float, help="steady import in W")
    parser.add_argument("--phases", type=int, choices=(1, 3), default=3)
    parser.add_argument("--api", choices=("v1", "v2"), default="v1")
    parser.add_argument("--token", help="v2 bearer token (default: a random one, printed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    if args.export_w is not None:
        provider = steady(-abs(args.export_w))
    elif args.import_w is not None:
        provider = steady(abs(args.import_w))
    else:
        provider = belgian_house()
    meter = SimulatedP1(provider, phases=args.phases)
    tls, token = None, None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if args.api == "v2":
        tmp = tempfile.TemporaryDirectory(prefix="sim-meter-")
        tls = make_test_pki(Path(tmp.name), f"appliance/p1dongle/{meter.serial}")
        token = args.token or secrets.token_hex(16).upper()
    try:
        server = MeterServer(meter, args.api, host=args.host, port=args.port, token=token, tls=tls)
    except OSError as e:
        print(f"sim meter: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        print(f"Simulated HomeWizard P1 (API {args.api}) on {server.url}", flush=True)
        env = f"SCC_METER__URL={server.url}"
        if tls is not None:
            print(
                f"  token: {token}\n  its certificate is signed by a test CA ({tls.ca_cert}), "
                "not HomeWizard's: set meter.verify_tls: false to use it",
                flush=True,
            )
            env += f" SCC_METER__API=v2 SCC_METER__TOKEN={token} SCC_METER__VERIFY_TLS=false"
        print(f"  try: {env} scc collector --once", flush=True)
        stop.wait()
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
