"""Ask a running Grafana every query of every provisioned dashboard, as its dashboard page does.

The GitHub compose job (.github/workflows/compose.yml) runs it against the demo stack::

    python tools/grafana_check.py --grafana-url http://127.0.0.1:3000 --password PASSWORD \\
        --toggle-url http://127.0.0.1:8080 --wait-s 300

For each panel and annotation of each dashboard in grafana/dashboards it sends Grafana's own
``POST /api/ds/query`` what the browser would send: the targets with their datasource uid, the
dashboard variables replaced by their current values (``${timezone}``), the panel's time range
(its own relative time such as ``now/d``, else the dashboard's) as epoch milliseconds, and
``intervalMs``/``maxDataPoints``. Grafana's InfluxDB backend then fills in ``v.timeRangeStart``
and the other macros and runs the Flux. A query fails on an HTTP error, on an ``error`` in its
result, on no answer within ``--timeout-s``, and on no rows in any frame (a misspelt field name
gives no error, only an empty panel). ``--toggle-url`` adds the phone page, ``/healthz`` and the
JSON status, which must report a live meter and controller.

Only "no rows yet" and a stale phone status are waited out (``--wait-s``): data arrives with
time, errors do not heal. Exit status: 0 every check passed, 1 one failed, 2 bad usage.
Standard library only, so it runs on a bare CI runner.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "grafana" / "dashboards"
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([smhdwMy]))?$")
_FIXED_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class UsageError(Exception):
    """A dashboard or an option this checker cannot turn into a request (exit status 2)."""


@dataclass(frozen=True)
class PanelRequest:
    """One panel's (or annotation's) queries: Grafana sends them in one request."""

    name: str  # "dashboard uid / panel title"
    panel_id: str
    dashboard_uid: str
    time_from: str
    time_to: str
    targets: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    detail: str
    retryable: bool = False  # only missing data: it may still arrive

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


# --- what the dashboard page would send ------------------------------------------------------


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each template variable's current value, as Grafana substitutes it on first load."""
    values: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        current = var.get("current", {}).get("value", var.get("query", ""))
        values[var["name"]] = current if isinstance(current, str) else ",".join(current)
    return values


def substitute(text: str, values: dict[str, str]) -> str:
    """``${name}``, ``${name:format}`` and ``$name`` of dashboard variables; others stay, as in
    Grafana (``$__interval`` and friends are the datasource backend's)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))

    return _VARIABLE.sub(repl, text)


def _targets(
    items: list[dict[str, Any]], default_ds: Any, values: dict[str, str]
) -> tuple[dict[str, Any], ...]:
    out = []
    for t in items:
        if t.get("hide"):
            continue  # Grafana does not send a hidden query
        query = dict(t, query=substitute(t.get("query", ""), values))
        query["datasource"] = t.get("datasource") or default_ds
        out.append(query)
    return tuple(out)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row keeps its panels inside


def panel_requests(dashboard: dict[str, Any]) -> list[PanelRequest]:
    uid, values = dashboard["uid"], variable_values(dashboard)
    time_range = dashboard.get("time", {"from": "now-6h", "to": "now"})
    out = []
    for p in _panels(dashboard.get("panels", [])):
        targets = _targets(p.get("targets", []), p.get("datasource"), values)
        if not targets:
            continue
        if p.get("timeShift"):
            raise UsageError(f"{uid} / {p['title']}: timeShift is not supported by this checker")
        start, stop = time_range["from"], time_range["to"]
        if p.get("timeFrom"):
            relative = substitute(p["timeFrom"], values)
            start, stop = (relative if relative.startswith("now") else f"now-{relative}"), "now"
        out.append(PanelRequest(f"{uid} / {p['title']}", str(p["id"]), uid, start, stop, targets))
    for anno in dashboard.get("annotations", {}).get("list", []):
        if anno.get("enable", True) and "target" in anno:
            targets = _targets([anno["target"]], anno.get("datasource"), values)
            name = f"{uid} / annotation: {anno['name']}"
            out.append(PanelRequest(name, "", uid, time_range["from"], time_range["to"], targets))
    return out


def load_requests(directory: Path) -> list[PanelRequest]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise UsageError(f"no dashboards (*.json) in {directory}")
    return [r for f in files for r in panel_requests(json.loads(f.read_text(encoding="utf-8")))]


# --- Grafana's relative times ("now-24h", "now/d", "now-30d") --------------------------------


def _minus_months(t: datetime, months: int) -> datetime:
    year, month = divmod(t.year * 12 + t.month - 1 - months, 12)
    day = min(t.day, calendar.monthrange(year, month + 1)[1])
    return t.replace(year=year, month=month + 1, day=day)


def _start_of(t: datetime, unit: str) -> datetime:
    """Rounded down to the unit (Grafana's ``/d``), on the wall clock of t's time zone."""
    level = "smhdwMy".index(unit)
    t = t.replace(microsecond=0)
    t = t.replace(second=0) if level >= 1 else t
    t = t.replace(minute=0) if level >= 2 else t
    t = t.replace(hour=0) if level >= 3 else t
    if unit == "w":  # Grafana's weeks start on Monday unless the dashboard says otherwise
        return t - timedelta(days=t.weekday())
    if unit in "My":
        t = t.replace(day=1) if unit == "M" else t.replace(month=1, day=1)
    return t


def resolve(expr: str, now: datetime, tz: tzinfo) -> datetime:
    """``now[-N unit][/unit]``: minus N units, then rounded down to the unit, in ``tz``."""
    m = _RELATIVE.match(expr.strip())
    if m is None:
        raise UsageError(f"unsupported time expression {expr!r}")
    amount, unit, round_to = m.groups()
    t = now.astimezone(tz)
    if unit in ("s", "m", "h"):  # a fixed length: the same instant minus it, across DST too
        t = (t.astimezone(UTC) - timedelta(seconds=int(amount) * _FIXED_S[unit])).astimezone(tz)
    elif unit in ("d", "w"):  # calendar days, as Grafana's date math counts them
        t = t - timedelta(seconds=int(amount) * _FIXED_S[unit])
    elif unit is not None:
        t = _minus_months(t, int(amount) * (12 if unit == "y" else 1))
    return _start_of(t, round_to) if round_to else t


def epoch_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def body(request: PanelRequest, now: datetime, tz: tzinfo, max_points: int, min_ms: int) -> dict:
    start, stop = resolve(request.time_from, now, tz), resolve(request.time_to, now, tz)
    interval_ms = max(min_ms, (epoch_ms(stop) - epoch_ms(start)) // max_points)
    queries = [dict(t, intervalMs=interval_ms, maxDataPoints=max_points) for t in request.targets]
    return {"queries": queries, "from": str(epoch_ms(start)), "to": str(epoch_ms(stop))}


# --- asking and judging ----------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    base_url: str
    user: str
    password: str
    timeout_s: float

    def call(
        self, path: str, data: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str]:
        """(HTTP status, body text) of a request; status 0 and the reason when none came."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        req = urllib.request.Request(
            self.base_url.rstrip("/") + path,
            data=None if data is None else json.dumps(data).encode(),
            headers={"Authorization": f"Basic {token}", "Accept": "application/json"},
        )
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")
        except TimeoutError:
            return 0, f"no answer within {self.timeout_s:g} s"
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError):
                return 0, f"no answer within {self.timeout_s:g} s"
            return 0, f"cannot connect: {reason}"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def rows(result: dict[str, Any]) -> int:
    """Rows over all frames: the length of each frame's first column."""
    count = 0
    for frame in result.get("frames") or []:
        values = (frame.get("data") or {}).get("values") or []
        count += len(values[0]) if values else 0
    return count


def judge_result(name: str, result: Any) -> Outcome:
    if not isinstance(result, dict):
        return Outcome(name, False, "no result for this query in Grafana's answer")
    if result.get("error"):
        status = result.get("status", "?")
        source = result.get("errorSource") or "unknown"
        return Outcome(name, False, f"Grafana: {result['error']} (status {status}, {source})")
    n = rows(result)
    if n == 0:
        return Outcome(name, False, "no rows (the panel would be empty)", retryable=True)
    return Outcome(name, True, f"{n} row{'s' if n != 1 else ''}")


def judge(request: PanelRequest, status: int, text: str) -> list[Outcome]:
    """Per refId when Grafana answered with results (200, or 400/207 naming the failed ones)."""
    payload = _json(text)
    results = payload.get("results") if isinstance(payload, dict) else None
    if status == 0 or not isinstance(results, dict):
        message = payload.get("message") if isinstance(payload, dict) else None
        reason = text.strip()[:200] if status == 0 else f"HTTP {status}: {message or text[:200]}"
        return [Outcome(request.name, False, reason)]
    return [
        judge_result(f"{request.name} / {t['refId']}", results.get(t["refId"]))
        for t in request.targets
    ]


def check_dashboards(
    client: Client, requests: list[PanelRequest], tz: tzinfo, max_points: int, min_ms: int
) -> list[Outcome]:
    out: list[Outcome] = []
    for r in requests:
        data = body(r, datetime.now(UTC), tz, max_points, min_ms)
        headers = {"X-Dashboard-Uid": r.dashboard_uid, "X-Panel-Id": r.panel_id}
        status, text = client.call("/api/ds/query", data, headers)
        out.extend(judge(r, status, text))
    return out


def check_toggle(client: Client) -> list[Outcome]:
    """The phone page, its health check and the JSON status, through the published port."""
    status, text = client.call("/")
    page = Outcome("phone page /", status == 200 and "Solar Car Charge" in text, f"HTTP {status}")
    status, text = client.call("/healthz")
    health = _json(text) if status == 200 else None
    healthz = Outcome("phone /healthz", bool(health and health.get("ok")), f"HTTP {status} {text}")
    status, text = client.call("/api/status")
    live = _json(text) if status == 200 else None
    if not isinstance(live, dict):
        return [page, healthz, Outcome("phone /api/status", False, f"HTTP {status} {text[:200]}")]
    stale = [k for k in ("meter_stale", "controller_stale") if live.get(k) is not False]
    detail = "meter and controller live" if not stale else "stale: " + ", ".join(stale)
    return [page, healthz, Outcome("phone /api/status", not stale, detail, retryable=True)]


# --- the command -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="grafana_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--grafana-url", required=True, help="e.g. http://127.0.0.1:3000")
    p.add_argument("--user", default="admin", help="Grafana user (basic auth)")
    p.add_argument(
        "--password",
        default=os.environ.get("ADMIN_PASSWORD"),
        help="Grafana's and the phone page's (default: $ADMIN_PASSWORD, as in .env.demo)",
    )
    p.add_argument("--toggle-url", help="the phone page, e.g. http://127.0.0.1:8080")
    p.add_argument("--dashboards", type=Path, default=DASHBOARDS_DIR)
    p.add_argument("--tz", default="UTC", help="the browser's time zone, for now/d (IANA name)")
    p.add_argument("--timeout-s", type=float, default=30.0, help="deadline of each request")
    p.add_argument("--wait-s", type=float, default=0.0, help="wait this long for missing rows")
    p.add_argument("--poll-s", type=float, default=15.0, help="pause between passes")
    p.add_argument("--max-data-points", type=int, default=1000)
    p.add_argument("--min-interval-ms", type=int, default=1000, help="the datasource's 1s")
    return p.parse_args(argv)


def one_pass(args: argparse.Namespace, requests: list[PanelRequest], tz: tzinfo) -> list[Outcome]:
    grafana = Client(args.grafana_url, args.user, args.password, args.timeout_s)
    out = check_dashboards(grafana, requests, tz, args.max_data_points, args.min_interval_ms)
    if args.toggle_url:
        out += check_toggle(Client(args.toggle_url, "scc", args.password, args.timeout_s))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.password:
        print("grafana_check: no password: --password or ADMIN_PASSWORD", file=sys.stderr)
        return 2
    try:
        tz = ZoneInfo(args.tz)
        requests = load_requests(args.dashboards)
    except (UsageError, ValueError, KeyError, OSError) as e:
        print(f"grafana_check: {e}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.wait_s
    while True:
        outcomes = one_pass(args, requests, tz)
        failed = [o for o in outcomes if not o.ok]
        waiting = failed and all(o.retryable for o in failed)
        left_s = deadline - time.monotonic()
        if not waiting or left_s <= 0:
            break
        # The last pass comes at the deadline, not a poll before it: the wait is --wait-s in full.
        pause_s = min(args.poll_s, left_s)
        print(f"waiting for data: {len(failed)} check(s) empty or stale; again in {pause_s:.3g} s")
        time.sleep(pause_s)
    for o in outcomes:
        print(o.line())
    print(f"grafana_check: {len(outcomes)} checks, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
