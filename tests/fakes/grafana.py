"""An in-test fake of Grafana 11.6's ``POST /api/ds/query`` for an InfluxDB (Flux) datasource,
and of the phone page's three URLs, for the tests of tools/grafana_check.py.

The answers have Grafana's shapes, taken from its source (pkg/api/metrics.go,
pkg/tsdb/influxdb/flux/executor.go, grafana-plugin-sdk-go backend/json.go):

- every answer is ``{"results": {refId: DataResponse}}``; a DataResponse is
  ``{"status": 200, "frames": [frame, ...]}`` and a frame is
  ``{"schema": {"refId", "meta", "fields"}, "data": {"values": [column, ...]}}`` with times as
  epoch milliseconds;
- a failed query (InfluxDB refused the Flux) has ``"error"``, ``"errorSource": "downstream"`` and
  ``"status"`` (InfluxDB's HTTP status) and still one empty frame carrying the executed query, and
  the whole answer is HTTP 400 when any query failed;
- a query without data answers one frame with no fields and no values, HTTP 200;
- wrong credentials: 401 ``{"message": "Invalid username or password", ...}``; an unreadable
  body: 400 ``{"message": "bad request data"}``; a backend failure: 500
  ``{"message": "Query data error"}``.

The fake substitutes the Flux macros (``v.timeRangeStart`` ...) from the request as Grafana's
backend does, and answers like InfluxDB would when the text still holds a dashboard variable
(``${timezone}``): an error, because the browser should have replaced it.

``plan[panel_id] = mode`` picks the answer per panel (the ``X-Panel-Id`` header the dashboard page
sends; annotations send none, key ""): ``rows`` (default), ``error``, ``empty``, ``http500``,
``slow`` (answers after ``slow_s``), ``missing`` (no result for the refId). ``empty_until`` answers
``empty`` to every query until that many requests were served, as a stack that has no data yet.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from sim.loopback import serve, shut

INFLUX_ERROR = "invalid: error @5:42-5:43: got unexpected token in string expression @5:43-5:43"


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def executed_query(query: str, body: dict[str, Any], interval_ms: int) -> str:
    """The Flux Grafana's backend runs: the macros replaced textually (flux/macros.go)."""
    return (
        query.replace("v.timeRangeStart", _rfc3339(int(body["from"])))
        .replace("v.timeRangeStop", _rfc3339(int(body["to"])))
        .replace("v.windowPeriod", f"{interval_ms}ms")
        .replace("v.defaultBucket", '"solar"')
        .replace("v.organization", '"solar"')
    )


def _frame(ref_id: str, executed: str, rows: int) -> dict[str, Any]:
    meta = {"typeVersion": [0, 0], "executedQueryString": executed}
    if rows == 0:
        return {"schema": {"refId": ref_id, "meta": meta, "fields": []}, "data": {"values": []}}
    times = [1_780_000_000_000 + 60_000 * i for i in range(rows)]
    return {
        "schema": {
            "name": "_value",
            "refId": ref_id,
            "meta": meta,
            "fields": [
                {
                    "name": "_time",
                    "type": "time",
                    "typeInfo": {"frame": "time.Time", "nullable": True},
                },
                {
                    "name": "_value",
                    "type": "number",
                    "typeInfo": {"frame": "float64", "nullable": True},
                },
            ],
        },
        "data": {"values": [times, [1.5 * i for i in range(rows)]]},
    }


def _valid(body: Any) -> bool:
    """What Grafana's request binding and query parsing need, as the dashboard page sends it."""
    if not isinstance(body, dict) or not str(body.get("from", "")).isdigit():
        return False
    if not str(body.get("to", "")).isdigit() or int(body["from"]) >= int(body["to"]):
        return False
    queries = body.get("queries")
    return bool(queries) and all(
        isinstance(q.get("refId"), str)
        and isinstance((q.get("datasource") or {}).get("uid"), str)
        and isinstance(q.get("query"), str)
        and isinstance(q.get("intervalMs"), int)
        and q["intervalMs"] > 0
        and isinstance(q.get("maxDataPoints"), int)
        for q in queries
    )


@dataclass
class Seen:
    panel_id: str
    dashboard_uid: str
    body: dict[str, Any]


class _Served:
    """A fake on a loopback port: its handler class reaches the fake as ``self.fake``."""

    _server: Any = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = serve(type("Handler", (self.handler(),), {"fake": self}))
        return self

    def stop(self) -> None:
        shut(self._server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"


@dataclass
class FakeGrafana(_Served):
    user: str = "admin"
    password: str = "demo-pass"
    plan: dict[str, str] = field(default_factory=dict)
    empty_until: int = 0
    slow_s: float = 3.0
    seen: list[Seen] = field(default_factory=list)
    datasource_uid: str = "scc-influxdb"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _GrafanaHandler

    # -- answers -----------------------------------------------------------------------------
    def authorized(self, header: str | None) -> bool:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header == f"Basic {token}"

    def answer(
        self, panel_id: str, dashboard_uid: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            n = len(self.seen)
            self.seen.append(Seen(panel_id, dashboard_uid, body))
        mode = "empty" if n < self.empty_until else self.plan.get(panel_id, "rows")
        if mode == "http500":
            return 500, {"message": "Query data error", "traceID": ""}
        if mode == "slow":
            time.sleep(self.slow_s)
        results: dict[str, Any] = {}
        for q in body["queries"]:
            if mode == "missing":
                continue
            results[q["refId"]] = self._result(q, body, mode)
        failed = any("error" in r for r in results.values())
        return (400 if failed else 200), {"results": results}

    def _result(self, q: dict[str, Any], body: dict[str, Any], mode: str) -> dict[str, Any]:
        executed = executed_query(q["query"], body, q["intervalMs"])
        if q["datasource"]["uid"] != self.datasource_uid:
            return {"error": "data source not found", "errorSource": "downstream", "status": 404}
        if mode == "error" or "${" in executed:
            return {
                "error": INFLUX_ERROR,
                "errorSource": "downstream",
                "status": 400,
                "frames": [_frame(q["refId"], executed, 0)],
            }
        rows = 0 if mode == "empty" else 3
        return {"status": 200, "frames": [_frame(q["refId"], executed, rows)]}


class _GrafanaHandler(BaseHTTPRequestHandler):
    fake: FakeGrafana

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.fake.authorized(self.headers.get("Authorization")):
            self._send(
                401,
                {
                    "message": "Invalid username or password",
                    "messageId": "password-auth.failed",
                    "statusCode": 401,
                    "traceID": "",
                },
            )
            return
        if self.path.split("?")[0] != "/api/ds/query":
            self._send(404, {"message": "Not found"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if self.headers.get("Content-Type") != "application/json" or not _valid(body):
            self._send(400, {"message": "bad request data", "traceID": ""})
            return
        status, answer = self.fake.answer(
            self.headers.get("X-Panel-Id", ""), self.headers.get("X-Dashboard-Uid", ""), body
        )
        with contextlib.suppress(OSError):  # the checker gave up waiting (the slow mode)
            self._send(status, answer)


@dataclass
class FakeToggle(_Served):
    """The phone page: ``/`` redirects to the login page, ``/healthz``, ``/api/status``."""

    password: str = "demo-pass"
    healthy: bool = True
    status: dict[str, Any] = field(
        default_factory=lambda: {"meter_stale": False, "controller_stale": False, "mode": "solar"}
    )

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _ToggleHandler


class _ToggleHandler(BaseHTTPRequestHandler):
    fake: FakeToggle

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: str, kind: str = "application/json", **headers: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/":
            self._send(303, "", "text/html", Location="/login")
        elif self.path == "/login":
            page = "<title>Log in · Solar Car Charge</title><form method=post></form>"
            self._send(200, page, "text/html; charset=utf-8")
        elif self.path == "/healthz":
            ok = self.fake.healthy
            body = (
                {"ok": True, "store": "influxdb"}
                if ok
                else {"ok": False, "error": "store unavailable"}
            )
            self._send(200 if ok else 503, json.dumps(body))
        elif self.path == "/api/status":
            self._api_status()
        else:
            self._send(404, json.dumps({"error": "not found"}))

    def _api_status(self) -> None:
        auth = self.headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        given = base64.b64decode(value).decode().partition(":")[2] if scheme == "Basic" else None
        if given != self.fake.password:
            self._send(401, json.dumps({"error": "authentication required"}))
            return
        self._send(200, json.dumps(self.fake.status))
