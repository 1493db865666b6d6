"""A simulated Wallbox cloud with a charger and car behind it, over real HTTP on 127.0.0.1.

The real PyPI ``wallbox`` package talks to it unchanged (point ``wallbox.api_url`` at ``api_url``
and ``wallbox.auth_url`` at ``auth_url``). It answers what docs/design.md, "The Wallbox cloud"
documents: sign-in and token refresh (sim.wallbox_auth), charger groups, the full status body,
the schedules set in the app, ``PUT v2/charger/{id}`` with the package's raw bodies
(sim.wallbox_bodies), and remote actions 1 (resume) and 2 (pause). It enforces what makes the
real cloud hard to use: 3 GET and 5 other requests per rolling minute per account (429 beyond),
expiring tokens (401), and a charger that follows commands only after a latency (sim.charger).
Faults can be injected (401, 403, 429, 500, timeouts), and every request is recorded.

Everything runs on an injected clock, so a simulated day can pass in seconds. Standalone:
``python -m sim.wallbox_cloud --port 8090`` (real time).
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common.stopping import Stopping
from sim.charger import DEFAULT_CHARGER_ID, Clock, SimCharger
from sim.loopback import serve, shut
from sim.wallbox_auth import Account, Accounts, Answer
from sim.wallbox_bodies import groups_body, put_body, status_body
from sim.wallbox_record import Recorder, RequestRecord

__all__ = [
    "DEFAULT_CHARGER_ID",
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "RequestRecord",
    "SimCharger",
    "WallboxCloud",
    "main",
]

DEFAULT_USERNAME = "user@example.com"
DEFAULT_PASSWORD = "secret"


def _real_clock() -> datetime:
    return datetime.now(UTC)


class WallboxCloud(Recorder):
    """The cloud: accounts, tokens, limits, faults and a recorder around one ``SimCharger``.

    Two behaviours of real accounts are options: ``ocpp_mode`` (the charger is set to OCPP in
    the app: the status says ``operation_mode: ocpp`` and remote actions are refused with 403,
    while setting the current still works) and ``zero_kw_every`` (every n-th status read of a
    charging car reports ``charging_power: 0`` while ``added_energy`` keeps rising, as owners
    see; docs/design.md, "The Wallbox cloud").
    """

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
        ocpp_mode: bool = False,
        zero_kw_every: int = 0,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.charger = charger or SimCharger(clock)
        self.accounts = Accounts(username, password, token_ttl_s, refresh_token_ttl_s)
        self.get_limit = get_limit
        self.write_limit = write_limit
        self.limit_window_s = limit_window_s
        self.over_limit_status = over_limit_status
        self.timeout_delay_s = timeout_delay_s
        self.ocpp_mode = ocpp_mode
        self.zero_kw_every = zero_kw_every
        self._charging_reads = 0
        #: Status replies that said 0 kW for a charging car: a test proves the lie was told.
        self.zero_kw_served = 0
        #: A recorded status body to answer instead of the model's (tests of the adapter's parsing).
        self.recorded_status: dict[str, Any] | None = None
        self._server: ThreadingHTTPServer | None = None

    @property
    def token_ttl_s(self) -> float:
        return self.accounts.token_ttl_s

    @token_ttl_s.setter
    def token_ttl_s(self, value: float) -> None:
        self.accounts.token_ttl_s = value

    @property
    def refresh_token_ttl_s(self) -> float:
        return self.accounts.refresh_token_ttl_s

    @refresh_token_ttl_s.setter
    def refresh_token_ttl_s(self, value: float) -> None:
        self.accounts.refresh_token_ttl_s = value

    # -- test controls -------------------------------------------------------------------------

    def revoke_tokens(self) -> None:
        """Invalidate every access token (the next API call gets 401)."""
        with self._lock:
            self.accounts.revoke_tokens()

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
            account = self.accounts.of(headers)
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

    def _over_limit(self, account: Account, is_get: bool, now: datetime) -> bool:
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
        account: Account | None,
    ) -> tuple[int | str, dict[str, Any]]:
        fault = self.fault_for(method, path)
        if fault is not None:
            return fault, {"error": True, "message": f"injected {fault}"}
        if account is not None and self._over_limit(account, method == "GET", now):
            return self.over_limit_status, {"message": "Too Many Requests"}
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] == ["auth"]:
            return self.accounts.answer(method, parts[1:], headers, now, account)
        if method == "GET" and parts == ["sim", "draw"]:
            # Not the Wallbox API: how a simulated meter in another process sees the car.
            return 200, {"power_w": round(self.charger.power_w(now), 1)}
        if parts[:1] != ["api"]:
            return 404, {"error": True, "message": "not found"}
        if self.accounts.token_owner(headers, now) is None:
            return 401, {"error": True, "message": "Unauthorized"}
        return self._api(method, parts[1:], body, now)

    def _api(self, method: str, parts: list[str], body: str, now: datetime) -> Answer:
        cid = str(self.charger.charger_id)
        routes: dict[tuple[str, tuple[str, ...]], Callable[[], Answer]] = {
            ("GET", ("v3", "chargers", "groups")): lambda: (200, groups_body(self.charger)),
            ("GET", ("chargers", "status", cid)): lambda: (200, self._status(now)),
            ("GET", ("chargers", cid, "schedules")): lambda: (
                200,
                {"schedules": list(self.charger.schedules)},
            ),
            ("PUT", ("v2", "charger", cid)): lambda: self._put_charger(body, now),
            ("POST", ("v3", "chargers", cid, "remote-action")): lambda: self._remote_action(
                body, now
            ),
        }
        route = routes.get((method, tuple(parts)))
        if route is not None:
            return route()
        if method == "GET" and parts[:2] == ["chargers", "status"]:
            return 404, {"error": True, "message": "charger not found"}
        return 404, {"error": True, "message": "not found"}

    def _status(self, now: datetime) -> dict[str, Any]:
        if self.recorded_status is not None:
            return self.recorded_status
        body = status_body(self.charger, now)
        if self.ocpp_mode:
            body["config_data"]["operation_mode"] = "ocpp"
        if body["status_id"] == 194 and self.zero_kw_every > 0:
            self._charging_reads += 1
            if self._charging_reads % self.zero_kw_every == 0:
                body["charging_power"] = 0
                self.zero_kw_served += 1
        return body

    def _put_charger(self, body: str, now: datetime) -> Answer:
        ch = self.charger
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
        return 200, put_body(ch, now, data)

    def _remote_action(self, body: str, now: datetime) -> Answer:
        ch = self.charger
        if self.ocpp_mode:
            return 403, {"error": True, "message": "Forbidden"}
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="A simulated Wallbox cloud on 127.0.0.1 (real time).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--username", default=DEFAULT_USERNAME)
    p.add_argument("--password", default=DEFAULT_PASSWORD)
    p.add_argument("--latency-s", type=float, default=15.0, help="command latency")
    p.add_argument("--watts-per-amp", type=float, default=692.8)
    p.add_argument("--no-car", action="store_true", help="start without a car plugged in")
    p.add_argument("--car-phases", type=int, choices=(1, 3), default=3)
    p.add_argument("--ocpp-mode", action="store_true", help="refuse remote actions (403)")
    p.add_argument("--zero-kw-every", type=int, default=0, metavar="N")
    args = p.parse_args(argv)
    charger = SimCharger(
        _real_clock,
        watts_per_amp=args.watts_per_amp,
        latency_s=args.latency_s,
        car_connected=not args.no_car,
        phases=args.car_phases,
    )
    cloud = WallboxCloud(
        _real_clock,
        charger=charger,
        username=args.username,
        password=args.password,
        ocpp_mode=args.ocpp_mode,
        zero_kw_every=args.zero_kw_every,
    )
    cloud.start(args.port, host=args.host)
    print(
        f"Simulated Wallbox cloud on {args.host}:{cloud.port}\n"
        f"  wallbox.api_url:  {cloud.api_url}\n  wallbox.auth_url: {cloud.auth_url}\n"
        f"  wallbox.username: {args.username}\n  wallbox.password: {args.password}\n"
        f"  charger id: {charger.charger_id}; the car's draw for a simulated meter: "
        f"http://{args.host}:{cloud.port}/sim/draw; Ctrl-C stops",
        flush=True,
    )
    # Explicit handlers: started from a background shell, SIGINT comes in ignored, and Docker
    # stops with SIGTERM; both end it cleanly (common.stopping: no lock in a handler).
    stopping = Stopping()
    stopping.on_signals((signal.SIGINT, signal.SIGTERM))
    try:
        while not stopping.wait(3600.0):
            pass
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
