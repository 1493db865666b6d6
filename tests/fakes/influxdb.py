"""An in-test fake of the parts of InfluxDB 2 this project uses, faithful in those parts.

- ``POST /api/v2/write``: line protocol parsed for real (escapes, float/int/uint/string/bool fields,
  optional timestamps, ``precision`` ns/us/ms/s, newlines inside quoted strings); token auth (401),
  unknown org or bucket (404), malformed line (400, nothing written), field type conflict (422,
  the other points written), points older than the bucket's retention (422 "partial write: points
  beyond retention policy dropped=N", the other points written; ``set_retention``). A point with
  the series and timestamp of a stored one overwrites it field by field, as InfluxDB does.
- ``POST /api/v2/query``: only the project's own queries (``common/store/flux.py`` QUERIES), matched
  by exact text; anything else is a 400 that names it. Values come from the ``extern`` option
  statements influxdb-client sends. Each query runs as the pipeline of Flux operations its text
  names (tests/fakes/flux_queries.py, which keeps a copy of the text it implements) over one table
  per series and field, and the answer is annotated CSV as Flux's encoder writes it (CRLF rows,
  #datatype/#group/#default, a new header block when the schema changes, RFC3339Nano times, Go
  float format).
- ``GET /health``, ``GET /ping``.
- Faults: ``fail(status[, body])`` answers every API request with that status (and InfluxDB's
  JSON error, or any body: a proxy's page, an error table after a 200), ``delay(seconds)`` holds
  each answer back, ``stop()`` closes the port (connection refused) and ``start()`` reopens the
  same port, so an outage and the recovery after it can be tested. ``expire(before)`` deletes
  what is older, as InfluxDB's retention service does.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from common.store import flux
from sim.loopback import serve, shut
from tests.fakes.flux_queries import PIPELINES
from tests.fakes.flux_tables import QueryError, Series, encode_csv, parse_rfc3339_ns
from tests.fakes.line_protocol import (
    PRECISION_NS,
    TYPE_NAMES,
    LinePoint,
    LineProtocolError,
    parse_line_protocol,
)

VERSION = "v2.7.12"


def _extern_options(extern: Any) -> dict[str, tuple[str, Any]]:
    """``option name = literal`` statements of an extern File AST: name -> (literal type, value)."""
    options: dict[str, tuple[str, Any]] = {}
    if not extern:
        return options
    for stmt in extern.get("body") or []:
        if stmt.get("type") != "OptionStatement":
            raise QueryError(f"extern: unsupported statement {stmt.get('type')}")
        assignment = stmt.get("assignment") or {}
        name = (assignment.get("id") or {}).get("name")
        init = assignment.get("init") or {}
        if not name or "type" not in init:
            raise QueryError("extern: malformed option statement")
        # A duration literal holds its parts in "values" ([{magnitude, unit}]), not in "value".
        options[name] = (init["type"], init.get("value", init.get("values")))
    return options


_DURATION_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION_NS |= {"m": 60 * _DURATION_NS["s"], "h": 3600 * _DURATION_NS["s"]}


def _duration_ns(parts: Any) -> int:
    try:
        total = sum(int(p["magnitude"]) * _DURATION_NS[p["unit"]] for p in parts)
    except (TypeError, KeyError, ValueError):
        raise QueryError(f"extern: unsupported duration {parts!r}") from None
    if total <= 0:
        raise QueryError("duration must be positive")
    return total


_QUERY_NAMES = {text: name for name, text in flux.QUERIES.items()}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    body: bytes


class FakeInfluxDB:
    """Start with ``with FakeInfluxDB() as influx:``; ``influx.url``, ``influx.token``."""

    def __init__(
        self, org: str = "solar", token: str = "test-token", buckets: Iterable[str] = ("solar",)
    ) -> None:
        self.org, self.token = org, token
        self.buckets: dict[str, dict[tuple, Series]] = {b: {} for b in buckets}
        self.retention_s: dict[str, float] = {}
        self._types: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.failure: int | None = None
        self.failure_body: tuple[bytes | None, str] = (None, "")
        self.delay_s = 0.0
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle and faults ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeInfluxDB:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = serve(handler, self.port, poll_interval_s=0.02)
        self.port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        """Close the port: clients now get 'connection refused'. Data is kept for start()."""
        shut(self._server)
        self._server = None
        for conn in list(self._connections):  # kept-alive connections must drop too
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def fail(self, status: int | None, body: bytes | None = None, content_type: str = "") -> None:
        """Answer every API request with ``status`` (None: back to normal), with InfluxDB's JSON
        error body or ``body`` (say, a proxy's HTML page)."""
        self.failure = status
        self.failure_body = (body, content_type or "text/html")

    def delay(self, seconds: float) -> None:
        self.delay_s = seconds

    def set_retention(self, seconds: float | None, bucket: str = "solar") -> None:
        """Refuse points older than ``seconds`` before now, as a bucket with that retention does."""
        if seconds is None:
            self.retention_s.pop(bucket, None)
        else:
            self.retention_s[bucket] = seconds

    def expire(self, before_ns: int, bucket: str = "solar") -> None:
        """Delete every point older than ``before_ns``."""
        with self._lock:
            for series in self.buckets[bucket].values():
                for values in series.fields.values():
                    for ts in [t for t in values if t < before_ns]:
                        del values[ts]

    def create_bucket(self, name: str) -> None:
        with self._lock:
            self.buckets.setdefault(name, {})

    def __enter__(self) -> FakeInfluxDB:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- storage ---------------------------------------------------------------------------
    def write(self, bucket: str, points: Sequence[LinePoint]) -> list[str]:
        """Store points; returns why each dropped point was dropped."""
        conflicts = []
        retention = self.retention_s.get(bucket)
        oldest_ns = None if retention is None else time.time_ns() - int(retention * 1e9)
        with self._lock:
            store = self.buckets[bucket]
            for p in points:
                if oldest_ns is not None and p.ts_ns < oldest_ns:
                    conflicts.append("points beyond retention policy")
                    continue
                bad = [
                    (name, typ, self._types[(bucket, p.measurement, name)])
                    for name, (typ, _) in p.fields.items()
                    if self._types.get((bucket, p.measurement, name), typ) != typ
                ]
                if bad:
                    name, typ, existing = bad[0]
                    conflicts.append(
                        f'field type conflict: input field "{name}" on measurement '
                        f'"{p.measurement}" is type {TYPE_NAMES[typ]}, already exists as '
                        f"type {TYPE_NAMES[existing]}"
                    )
                    continue
                series = store.setdefault((p.measurement, p.tags), Series(p.measurement, p.tags))
                for name, (typ, value) in p.fields.items():
                    self._types[(bucket, p.measurement, name)] = typ
                    series.fields.setdefault(name, {})[p.ts_ns] = (typ, value)
        return conflicts

    def points(self, bucket: str = "solar", measurement: str | None = None) -> list[dict[str, Any]]:
        """Stored points (one per series and timestamp, fields merged), for assertions."""
        with self._lock:
            out: dict[tuple, dict[str, Any]] = {}
            for s in self.buckets[bucket].values():
                if measurement is not None and s.measurement != measurement:
                    continue
                for name, values in s.fields.items():
                    for ts, (_, v) in values.items():
                        p = out.setdefault(
                            (s.measurement, s.tags, ts),
                            {
                                "measurement": s.measurement,
                                "tags": dict(s.tags),
                                "ts_ns": ts,
                                "fields": {},
                            },
                        )
                        p["fields"][name] = v
            return sorted(
                out.values(),
                key=lambda p: (p["measurement"], p["ts_ns"], sorted(p["tags"].items())),
            )

    def query(self, text: str, extern: Any, dialect: dict[str, Any] | None) -> str:
        name = _QUERY_NAMES.get(text)
        if name is None:
            first_line = text.strip().splitlines()[0] if text.strip() else "<empty>"
            raise QueryError(
                f"fake InfluxDB answers only the project's queries; not one: {first_line!r}"
            )
        written_for, pipeline = PIPELINES.get(name, ("", None))
        if written_for != text or pipeline is None:
            raise QueryError(
                f"fake InfluxDB has no pipeline for this text of query {name!r}: "
                "update tests/fakes/flux_queries.py to match common/store/flux.py",
                status=501,
            )
        options = _extern_options(extern)
        bucket = self._option(options, "bucketName", "StringLiteral")
        start_ns = parse_rfc3339_ns(self._option(options, "rangeStart", "DateTimeLiteral"))
        stop_ns = parse_rfc3339_ns(self._option(options, "rangeStop", "DateTimeLiteral"))
        if bucket not in self.buckets:
            raise QueryError(
                f'failed to initialize execute state: could not find bucket "{bucket}"',
                404,
                "not found",
            )
        if start_ns >= stop_ns:
            raise QueryError("cannot query an empty range")
        with self._lock:
            series = [
                Series(s.measurement, s.tags, {f: dict(v) for f, v in s.fields.items()})
                for s in self.buckets[bucket].values()
            ]
        if name in flux.WINDOWED:
            every_ns = _duration_ns(self._option(options, "windowEvery", "DurationLiteral"))
            tables = pipeline(series, start_ns, stop_ns, every_ns)
        else:
            tables = pipeline(series, start_ns, stop_ns)
        d = dialect or {}
        return encode_csv(
            tables,
            annotations=d.get("annotations") or (),
            header=d.get("header", True),
            delimiter=d.get("delimiter") or ",",
        )

    @staticmethod
    def _option(options: dict[str, tuple[str, Any]], name: str, literal: str) -> Any:
        if name not in options:
            raise QueryError(f"undefined identifier {name}")
        typ, value = options[name]
        if typ != literal:
            raise QueryError(f"option {name}: expected {literal} but found {typ}")
        return value


def _error(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeInfluxDB
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.fake._connections.add(self.connection)

    def finish(self) -> None:
        self.fake._connections.discard(self.connection)
        super().finish()

    def _send(
        self, status: int, body: bytes = b"", content_type: str = "application/json; charset=utf-8"
    ) -> None:
        self.fake.requests.append(
            Request(self.command, self.path, status, getattr(self, "_body", b""))
        )
        self.send_response(status)
        self.send_header("X-Influxdb-Build", "OSS")
        self.send_header("X-Influxdb-Version", VERSION)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self._body = body
        return body

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Token {self.fake.token}"

    def _fault(self) -> bool:
        if self.fake.delay_s:
            time.sleep(self.fake.delay_s)
        status = self.fake.failure
        if status is None:
            return False
        body, content_type = self.fake.failure_body
        if body is not None:
            self._send(status, body, content_type)
            return True
        codes = {503: "unavailable", 500: "internal error", 429: "too many requests"}
        self._send(
            status, _error(codes.get(status, "internal error"), f"fake InfluxDB: injected {status}")
        )
        return True

    def do_GET(self) -> None:
        self._read_body()
        path = urlsplit(self.path).path
        if path == "/ping":
            if not self._fault():
                self._send(204)
        elif path == "/health":
            if self._fault():
                return
            health = {
                "name": "influxdb",
                "message": "ready for queries and writes",
                "status": "pass",
                "checks": [],
                "version": VERSION,
                "commit": "fake",
            }
            self._send(200, json.dumps(health).encode())
        else:
            self._send(404, _error("not found", "path not found"))

    def do_POST(self) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        args = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path not in ("/api/v2/write", "/api/v2/query"):
            self._send(404, _error("not found", "path not found"))
            return
        if self._fault():
            return
        if not self._authorized():
            self._send(401, _error("unauthorized", "unauthorized access"))
            return
        org = args.get("org")
        if org is None:
            self._send(400, _error("invalid", "Please provide either orgID or org"))
            return
        if org != self.fake.org:
            self._send(404, _error("not found", f'organization name "{org}" not found'))
            return
        if url.path == "/api/v2/write":
            self._write(args, body)
        else:
            self._query(body)

    def _write(self, args: dict[str, str], body: bytes) -> None:
        bucket = args.get("bucket")
        if not bucket or bucket not in self.fake.buckets:
            self._send(404, _error("not found", f'bucket "{bucket}" not found'))
            return
        precision = args.get("precision", "ns")
        if precision not in PRECISION_NS:
            self._send(
                400,
                _error("invalid", "invalid precision; valid precision units are ns, us, ms, and s"),
            )
            return
        try:
            points = parse_line_protocol(body.decode("utf-8"), precision)
        except (LineProtocolError, UnicodeDecodeError) as e:
            self._send(400, _error("invalid", str(e)))
            return
        conflicts = self.fake.write(bucket, points)
        if conflicts:
            message = (
                "failure writing points to database: partial write: "
                f"{conflicts[0]} dropped={len(conflicts)}"
            )
            self._send(422, _error("unprocessable entity", message))
            return
        self._send(204)

    def _query(self, body: bytes) -> None:
        if "json" not in (self.headers.get("Content-Type") or ""):
            self._send(400, _error("invalid", "fake InfluxDB takes only JSON query bodies"))
            return
        try:
            request = json.loads(body)
            csv = self.fake.query(
                request.get("query", ""), request.get("extern"), request.get("dialect")
            )
        except QueryError as e:
            self._send(e.status, _error(e.code, str(e)))
            return
        except (ValueError, AttributeError) as e:
            self._send(400, _error("invalid", f"invalid query request: {e}"))
            return
        self._send(200, csv.encode(), "text/csv; charset=utf-8")
