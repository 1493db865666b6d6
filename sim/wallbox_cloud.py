"""A simulated Wallbox cloud with a charger and car behind it, over real HTTP on 127.0.0.1.

The real PyPI ``wallbox`` package talks to it unchanged (point ``wallbox.api_url`` at ``api_url``
and ``wallbox.auth_url`` at ``auth_url``). It answers what docs/design.md, "The Wallbox cloud"
documents: sign-in and token refresh (``ttl`` in epoch milliseconds), charger groups, the full
status body, ``PUT v2/charger/{id}`` with the package's raw bodies, and remote actions 1 (resume)
and 2 (pause). It enforces what makes the real cloud hard to use: 3 GET and 5 other requests per
rolling minute per account (429 beyond), expiring tokens (401), and a charger that follows commands
only after a latency. Faults can be injected (401, 403, 429, 500, timeouts), and every request is
recorded.

Everything runs on an injected clock, so a simulated day can pass in seconds. Standalone:
``python -m sim.wallbox_cloud --port 8090`` (real time).
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sim.loopback import serve, shut

Clock = Callable[[], datetime]

DEFAULT_CHARGER_ID = 9988552
DEFAULT_USERNAME = "user@example.com"
DEFAULT_PASSWORD = "secret"


def _real_clock() -> datetime:
    return datetime.now(UTC)


class SimCharger:
    """A Pulsar Plus with a car: follows commands after ``latency_s``, counts energy.

    Status ids: 161 no car, 182 paused, 181 connected but the car takes nothing (full), 194
    charging. Draw = setpoint x watts_per_amp while charging (capped by what the car accepts).
    Time only moves forward; every query first advances the model to the asked time.
    """

    def __init__(
        self,
        clock: Clock,
        charger_id: int = DEFAULT_CHARGER_ID,
        watts_per_amp: float = 692.8,
        latency_s: float = 15.0,
        setpoint_a: int = 16,
        paused: bool = True,
        car_connected: bool = True,
        car_full: bool = False,
        kwh_to_full: float | None = None,
        car_max_current_a: int = 32,
        max_available_a: int = 32,
    ) -> None:
        self._lock = threading.RLock()
        self.charger_id = charger_id
        self.watts_per_amp = watts_per_amp
        self.latency_s = latency_s
        self.max_available_a = max_available_a
        self.car_max_current_a = car_max_current_a
        self.setpoint_a = setpoint_a
        self.paused = paused
        self.locked = 0
        self.car_connected = car_connected
        self.car_full = car_full
        self.kwh_to_full = kwh_to_full
        self.added_energy_kwh = 0.0
        self.total_energy_kwh = 0.0
        self.charging_time_s = 0.0
        self._t = clock()
        self._pending: list[tuple[datetime, str, Any]] = []

    # -- physics -------------------------------------------------------------------------------

    def _draw_w(self) -> float:
        if not self.car_connected or self.paused or self.car_full:
            return 0.0
        return min(self.setpoint_a, self.car_max_current_a) * self.watts_per_amp

    def advance(self, now: datetime) -> None:
        """Integrate energy up to ``now``, applying commands whose latency has passed."""
        with self._lock:
            self._pending.sort(key=lambda p: p[0])
            while self._pending and self._pending[0][0] <= now:
                at, kind, value = self._pending.pop(0)
                self._integrate(max(at, self._t))
                self._apply(kind, value)
            self._integrate(now)

    def _integrate(self, until: datetime) -> None:
        dt = (until - self._t).total_seconds()
        if dt <= 0:
            return
        p = self._draw_w()
        if p > 0:
            kwh = p * dt / 3.6e6
            self.added_energy_kwh += kwh
            self.total_energy_kwh += kwh
            self.charging_time_s += dt
            if self.kwh_to_full is not None:
                self.kwh_to_full -= kwh
                if self.kwh_to_full <= 0:
                    self.car_full = True
        self._t = until

    def _apply(self, kind: str, value: Any) -> None:
        if kind == "current":
            self.setpoint_a = int(value)
        elif kind == "paused":
            if self.car_connected:
                self.paused = bool(value)
        elif kind == "locked":
            self.locked = int(value)

    def command(self, now: datetime, kind: str, value: Any) -> None:
        """Queue a command; it takes effect ``latency_s`` after ``now``."""
        with self._lock:
            self.advance(now)
            self._pending.append((now + timedelta(seconds=self.latency_s), kind, value))

    def plug_in(self, now: datetime, kwh_to_full: float | None = None) -> None:
        with self._lock:
            self.advance(now)
            self.car_connected, self.car_full = True, False
            self.kwh_to_full = kwh_to_full
            self.added_energy_kwh = self.charging_time_s = 0.0

    def unplug(self, now: datetime) -> None:
        with self._lock:
            self.advance(now)
            self.car_connected, self.paused = False, False

    def set_car_full(self, now: datetime, full: bool = True) -> None:
        with self._lock:
            self.advance(now)
            self.car_full = full

    def power_w(self, now: datetime) -> float:
        with self._lock:
            self.advance(now)
            return self._draw_w()

    def added_energy(self, now: datetime) -> float:
        """kWh of the current session up to ``now``."""
        with self._lock:
            self.advance(now)
            return self.added_energy_kwh

    def status_id(self, now: datetime) -> int:
        with self._lock:
            self.advance(now)
            if not self.car_connected:
                return 161
            if self.paused:
                return 182
            if self.car_full:
                return 181
            return 194


@dataclass
class RequestRecord:
    method: str
    path: str
    status: int  # 0: the client got no answer (simulated timeout)
    ts: datetime
    body: str = ""
    account: str | None = None


@dataclass
class _Fault:
    status: int | str  # HTTP status, or "timeout"
    times: int
    path_contains: str | None
    method: str | None


@dataclass
class _Account:
    username: str
    password: str
    user_id: int
    calls: deque[tuple[datetime, bool]] = field(default_factory=deque)  # (time, is_get)


class WallboxCloud:
    """The cloud: accounts, tokens, limits, faults and a recorder around one ``SimCharger``."""

    def __init__(
        self,
        clock: Clock = _real_clock,
        charger: SimCharger | None = None,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        token_ttl_s: float = 3600.0,
        refresh_token_ttl_s: float = 30 * 86400.0,
        get_limit: int = 3,
        write_limit: int = 5,
        limit_window_s: float = 60.0,
        over_limit_status: int = 429,
        timeout_delay_s: float = 1.0,
    ) -> None:
        self.clock = clock
        self.charger = charger or SimCharger(clock)
        self.accounts = {username: _Account(username, password, user_id=286113)}
        self.token_ttl_s = token_ttl_s
        self.refresh_token_ttl_s = refresh_token_ttl_s
        self.get_limit = get_limit
        self.write_limit = write_limit
        self.limit_window_s = limit_window_s
        self.over_limit_status = over_limit_status
        self.timeout_delay_s = timeout_delay_s
        self.requests: list[RequestRecord] = []
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._refresh_tokens: dict[str, tuple[str, datetime]] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- test controls -------------------------------------------------------------------------

    def inject(
        self,
        status: int | str,
        times: int = 1,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (or "timeout")."""
        with self._lock:
            self._faults.append(_Fault(status, times, path_contains, method))

    def revoke_tokens(self) -> None:
        """Invalidate every access token (the next API call gets 401)."""
        with self._lock:
            self._tokens.clear()

    def count(
        self, method: str | None = None, path_contains: str | None = None, status: int | None = None
    ) -> int:
        return len(self.select(method, path_contains, status))

    def select(
        self, method: str | None = None, path_contains: str | None = None, status: int | None = None
    ) -> list[RequestRecord]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (path_contains is None or path_contains in r.path)
                and (status is None or r.status == status)
            ]

    def commands(self) -> list[str]:
        """The accepted non-GET requests as short names: current(10), resume, pause, lock(1)."""
        out = []
        for r in self.select(status=200):
            if r.method == "GET":
                continue
            body = json.loads(r.body) if r.body else {}
            if "maxChargingCurrent" in body:
                out.append(f"current({body['maxChargingCurrent']})")
            elif "locked" in body:
                out.append(f"lock({body['locked']})")
            elif body.get("action") == 1:
                out.append("resume")
            elif body.get("action") == 2:
                out.append("pause")
            else:
                out.append(f"{r.method} {r.path}")
        return out

    # -- server --------------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> WallboxCloud:
        handler = type("Handler", (_Handler,), {"cloud": self})
        self._server = serve(handler, port, host=host)
        return self

    def stop(self) -> None:
        shut(self._server)
        self._server = None

    def __enter__(self) -> WallboxCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the cloud first"
        return self._server.server_address[1]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/auth/"

    # -- request handling ----------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int | str, dict[str, Any]]:
        now = self.clock()
        with self._lock:
            account = self._account_of(path, headers)
            status, answer = self._route(method, path, headers, body, now, account)
            self.requests.append(
                RequestRecord(
                    method=method,
                    path=path,
                    status=0 if status == "timeout" else int(status),
                    ts=now,
                    body=body,
                    account=None if account is None else account.username,
                )
            )
            return status, answer

    def _account_of(self, path: str, headers: dict[str, str]) -> _Account | None:
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            except ValueError:
                return None
            return self.accounts.get(user)
        if auth.startswith("Bearer "):
            token = auth[7:]
            owner = self._tokens.get(token) or self._refresh_tokens.get(token)
            if owner:
                return self.accounts.get(owner[0])
        return None

    def _fault_for(self, method: str, path: str) -> int | str | None:
        for f in self._faults:
            if f.times <= 0:
                continue
            if f.path_contains is not None and f.path_contains not in path:
                continue
            if f.method is not None and f.method != method:
                continue
            f.times -= 1
            return f.status
        return None

    def _over_limit(self, account: _Account, is_get: bool, now: datetime) -> bool:
        edge = now - timedelta(seconds=self.limit_window_s)
        while account.calls and account.calls[0][0] <= edge:
            account.calls.popleft()
        used = sum(1 for _, g in account.calls if g == is_get)
        account.calls.append((now, is_get))  # rejected attempts count too, as on a real API
        return used >= (self.get_limit if is_get else self.write_limit)

    def _route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: str,
        now: datetime,
        account: _Account | None,
    ) -> tuple[int | str, dict[str, Any]]:
        fault = self._fault_for(method, path)
        if fault is not None:
            return fault, {"error": True, "message": f"injected {fault}"}
        if account is not None and self._over_limit(account, method == "GET", now):
            return self.over_limit_status, {"message": "Too Many Requests"}
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] == ["auth"]:
            return self._auth(method, parts[1:], headers, now, account)
        if parts[:1] != ["api"]:
            return 404, {"error": True, "message": "not found"}
        token_owner = self._valid_token(headers, now)
        if token_owner is None:
            return 401, {"error": True, "message": "Unauthorized"}
        return self._api(method, parts[1:], body, now)

    def _auth(
        self,
        method: str,
        parts: list[str],
        headers: dict[str, str],
        now: datetime,
        account: _Account | None,
    ) -> tuple[int, dict[str, Any]]:
        if method != "GET":
            return 405, {"error": True}
        if parts == ["users", "signin"]:
            if headers.get("partner") != "wallbox":
                return 400, {"error": True, "message": "missing Partner header"}
            auth = headers.get("authorization", "")
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return 401, {"error": True}
            acct = self.accounts.get(user)
            if not auth.startswith("Basic ") or acct is None or acct.password != pw:
                return 401, {"error": True, "message": "invalid credentials"}
            return 200, self._issue(acct, now)
        if parts == ["users", "refresh-token"]:
            token = headers.get("authorization", "")[7:]
            owner = self._refresh_tokens.get(token)
            if owner is None or owner[1] <= now or account is None:
                return 401, {"error": True, "message": "invalid refresh token"}
            return 200, self._issue(account, now)
        return 404, {"error": True}

    def _issue(self, acct: _Account, now: datetime) -> dict[str, Any]:
        token, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        exp = now + timedelta(seconds=self.token_ttl_s)
        rexp = now + timedelta(seconds=self.refresh_token_ttl_s)
        self._tokens[token] = (acct.username, exp)
        self._refresh_tokens[refresh] = (acct.username, rexp)
        return {
            "data": {
                "attributes": {
                    "token": token,
                    "refresh_token": refresh,
                    "user_id": acct.user_id,
                    "ttl": round(exp.timestamp() * 1000),
                    "refresh_token_ttl": round(rexp.timestamp() * 1000),
                    "error": False,
                    "status": 200,
                }
            }
        }

    def _valid_token(self, headers: dict[str, str], now: datetime) -> str | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        entry = self._tokens.get(auth[7:])
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def _api(  # noqa: C901 (split in progress)
        self, method: str, parts: list[str], body: str, now: datetime
    ) -> tuple[int, dict[str, Any]]:
        ch = self.charger
        cid = str(ch.charger_id)
        if method == "GET" and parts == ["v3", "chargers", "groups"]:
            return 200, {
                "result": {
                    "groups": [
                        {
                            "id": 289814,
                            "name": "Thuis",
                            "chargers": [{"id": ch.charger_id, "name": _name(ch)}],
                        }
                    ]
                }
            }
        if method == "GET" and parts == ["chargers", "status", cid]:
            return 200, self._status_body(now)
        if method == "PUT" and parts == ["v2", "charger", cid]:
            try:
                data = json.loads(body)
            except ValueError:
                return 400, {"error": True, "message": "invalid json"}
            if "maxChargingCurrent" in data:
                amps = data["maxChargingCurrent"]
                if not isinstance(amps, int) or not 6 <= amps <= ch.max_available_a:
                    return 400, {"error": True, "message": "maxChargingCurrent out of range"}
                ch.command(now, "current", amps)
            elif "locked" in data:
                ch.command(now, "locked", int(data["locked"]))
            else:
                return 400, {"error": True, "message": "nothing to change"}
            return 200, self._put_body(now, data)
        if method == "POST" and parts == ["v3", "chargers", cid, "remote-action"]:
            try:
                action = json.loads(body)["action"]
            except (ValueError, KeyError, TypeError):
                return 400, {"error": True, "message": "invalid action"}
            if action == 1:
                ch.command(now, "paused", False)
            elif action == 2:
                ch.command(now, "paused", True)
            elif action not in (3, 5, 9):
                return 400, {"error": True, "message": "unknown action"}
            # The real body is undocumented (docs/design.md, "The Wallbox cloud"); the package only
            # parses it.
            return 200, {"result": {"action": action, "charger_id": ch.charger_id}}
        if method == "GET" and parts[:2] == ["chargers", "status"]:
            return 404, {"error": True, "message": "charger not found"}
        return 404, {"error": True, "message": "not found"}

    def _status_body(self, now: datetime) -> dict[str, Any]:
        ch = self.charger
        status_id = ch.status_id(now)
        power_kw = round(ch.power_w(now) / 1000.0, 2)
        body = copy.deepcopy(_STATUS_TEMPLATE)
        body.update(
            {
                "last_sync": f"{now:%Y-%m-%d %H:%M:%S}",
                "status_id": status_id,
                "name": _name(ch),
                "charging_power": power_kw,
                "max_available_power": ch.max_available_a,
                "charging_speed": 41 if power_kw > 0 else 0,
                "added_range": round(ch.added_energy_kwh * 6.5),
                "added_energy": round(ch.added_energy_kwh, 3),
                "added_green_energy": 0,
                "added_grid_energy": 0,
                "charging_time": round(ch.charging_time_s),
                "finished": status_id in (161, 181),
            }
        )
        cfg = body["config_data"]
        cfg.update(
            {
                "charger_id": ch.charger_id,
                "serial_number": str(ch.charger_id),
                "name": _name(ch),
                "locked": ch.locked,
                "max_charging_current": ch.setpoint_a,
                "max_available_current": ch.max_available_a,
                "sync_timestamp": round(now.timestamp()),
            }
        )
        return body

    def _put_body(self, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
        """Like the real PUT answer: the charger data with the accepted (not yet applied) value."""
        ch = self.charger
        body = copy.deepcopy(_PUT_TEMPLATE)
        cd = body["data"]["chargerData"]
        cd.update(
            {
                "id": ch.charger_id,
                "serialNumber": str(ch.charger_id),
                "name": _name(ch),
                "status": ch.status_id(now),
                "maxAvailableCurrent": ch.max_available_a,
                "maxChargingCurrent": data.get("maxChargingCurrent", ch.setpoint_a),
                "locked": data.get("locked", ch.locked),
                "lastConnection": round(now.timestamp()),
            }
        )
        return body


def _name(ch: SimCharger) -> str:
    return f"PulsarPlus SN {ch.charger_id}"


class _Handler(BaseHTTPRequestHandler):
    cloud: WallboxCloud
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = self.cloud.handle(method, self.path, headers, body)
        if status == "timeout":
            time.sleep(self.cloud.timeout_delay_s)  # the client has given up by now
            self.close_connection = True
            return
        data = json.dumps(answer).encode()
        self.send_response(int(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass


_STATUS_TEMPLATE: dict[str, Any] = {
    "user_id": 286113,
    "user_name": "Jan",
    "car_id": 1,
    "car_plate": "",
    "depot_price": 0.32,
    "last_sync": "",
    "power_sharing_status": 0,
    "mid_status": 0,
    "status_id": 161,
    "name": "",
    "charging_power": 0,
    "max_available_power": 32,
    "depot_name": "Thuis",
    "charging_speed": 0,
    "added_range": 0,
    "added_energy": 0,
    "added_green_energy": 0,
    "added_discharged_energy": 0,
    "added_grid_energy": 0,
    "charging_time": 0,
    "finished": False,
    "cost": 0,
    "current_mode": 3,
    "preventive_discharge": False,
    "state_of_charge": None,
    "ocpp_status": 1,
    "config_data": {
        "charger_id": 0,
        "uid": "xyzUID123",
        "serial_number": "",
        "name": "",
        "locked": 0,
        "auto_lock": 0,
        "auto_lock_time": 60,
        "multiuser": 0,
        "max_charging_current": 16,
        "language": "EN",
        "icp_max_current": 0,
        "grid_type": 1,
        "energy_price": 0.32,
        "energyCost": {"value": 0.32, "inheritedGroupId": None},
        "unlock_user_id": 286113,
        "power_sharing_config": 256,
        "purchased_power": 0,
        "show_name": 1,
        "show_lastname": 1,
        "show_email": 1,
        "show_profile": 1,
        "show_default_user": 1,
        "gesture_status": 7,
        "home_sharing": 0,
        "dca_status": 0,
        "connection_type": 1,
        "max_available_current": 32,
        "live_refresh_time": 30,
        "update_refresh_time": 300,
        "owner_id": 286113,
        "remote_action": 0,
        "rfid_type": None,
        "charger_has_image": 0,
        "sha256_charger_image": None,
        "plan": {
            "plan_name": "Basic",
            "features": [
                "DEFAULT_FEATURE",
                "POWER_BOOST",
                "MOBILE_CONNECTIVITY",
                "AUTOMATIC_REPORTING",
                "STATISTICS",
            ],
        },
        "sync_timestamp": 0,
        "currency": {"id": 1, "name": "Euro Member Countries", "symbol": "€", "code": "EUR"},
        "charger_load_type": "Private",
        "contract_charging_available": False,
        "country": {"id": 21, "code": "BEL", "iso2": "BE", "name": "BELGICA", "phone_code": "32"},
        "state": None,
        "timezone": "Europe/Brussels",
        "part_number": "PLP1-0-2-4-9-002-E",
        "software": {
            "updateAvailable": False,
            "currentVersion": "6.7.38",
            "latestVersion": "6.7.38",
            "fileName": "plp1_6.7.38.tar",
        },
        "available": 1,
        "operation_mode": "wallbox",
        "ocpp_ready": "ocpp_1.6j",
        "tariffs": [],
        "mid_enabled": 0,
        "mid_margin": 1,
        "mid_margin_unit": 1,
        "mid_serial_number": "",
        "mid_status": 0,
        "session_segment_length": 0,
        "group_id": 289814,
        "user_socket_locking": 0,
        "sim_iccid": None,
        "ecosmart": {"enabled": False, "mode": 0, "percentage": 100},
    },
}

_PUT_TEMPLATE: dict[str, Any] = {
    "data": {
        "chargerData": {
            "id": 0,
            "uid": "xyzUID123",
            "uniqueIdentifier": "wsUnanQQ",
            "serialNumber": "",
            "name": "",
            "group": 289814,
            "groupUid": "xyzGROUP",
            "chargerType": "PulsarPlus",
            "softwareVersion": "6.7.38",
            "softwareUpdatedAt": 1774000000,
            "status": 0,
            "statusDescription": "",
            "ocppConnectionStatus": 1,
            "ocppReady": "ocpp_1.6j",
            "stateOfCharge": None,
            "maxChgCurrent": None,
            "maxAvailableCurrent": 32,
            "maxChargingCurrent": 16,
            "locked": 0,
            "lastConnection": 0,
            "lastSync": {"date": "", "timezone_type": 3, "timezone": "UTC"},
            "midEnabled": 0,
            "midMargin": 1,
            "midMarginUnit": 1,
            "midSerialNumber": "",
            "midStatus": 0,
            "wifiSignal": 62,
            "connectionType": "wifi",
            "chargerLoadName": "Private",
            "chargerLoadId": 2,
            "chargingType": "AC",
            "connectorType": "Type 2/Socket",
            "protocolCommunication": "wifi",
            "accessType": "guest",
            "powerSharingStatus": 0,
            "resume": {
                "totalUsers": 1,
                "totalSessions": 212,
                "chargingTime": None,
                "totalEnergy": 3120.4,
                "totalMidEnergy": 0,
                "energyUnit": "kWh",
            },
        },
        "users": [
            {
                "id": 286113,
                "avatar": None,
                "name": "Jan",
                "surname": "Peeters",
                "email": "jan@example.be",
                "profile": "super-admin",
                "assigned": True,
                "createdByUser": False,
            }
        ],
    }
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="A simulated Wallbox cloud on 127.0.0.1 (real time).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--username", default=DEFAULT_USERNAME)
    p.add_argument("--password", default=DEFAULT_PASSWORD)
    p.add_argument("--latency-s", type=float, default=15.0, help="command latency")
    p.add_argument("--watts-per-amp", type=float, default=692.8)
    p.add_argument("--no-car", action="store_true", help="start without a car plugged in")
    args = p.parse_args(argv)
    charger = SimCharger(
        _real_clock,
        watts_per_amp=args.watts_per_amp,
        latency_s=args.latency_s,
        car_connected=not args.no_car,
    )
    cloud = WallboxCloud(
        _real_clock, charger=charger, username=args.username, password=args.password
    )
    cloud.start(args.port, host=args.host)
    print(
        f"Simulated Wallbox cloud on {args.host}:{cloud.port}\n"
        f"  wallbox.api_url:  {cloud.api_url}\n  wallbox.auth_url: {cloud.auth_url}\n"
        f"  wallbox.username: {args.username}\n  wallbox.password: {args.password}\n"
        f"  charger id: {charger.charger_id}; Ctrl-C stops",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
