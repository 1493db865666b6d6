"""Every Flux query the provisioned Grafana dashboards run, as Grafana would send it.

Shared by the offline checks (tests/test_grafana.py) and the live InfluxDB suite, which runs each
one against a real server. Dashboard template variables (``${timezone}``) are replaced by their
current values, as Grafana does; the ``v.*`` macros stay, for the caller's stub or real values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "grafana" / "dashboards"

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class DashboardQuery:
    dashboard: str  # dashboard uid
    panel: str  # panel title, or "annotation: NAME"
    ref_id: str
    query: str  # template variables substituted; v.* macros left in place
    time_from: str | None  # the panel's own range ("now/d", "30d"), None = the dashboard's

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> dict[Path, dict[str, Any]]:
    return {p: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))}


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each template variable's current value (what Grafana substitutes on first load)."""
    values: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        current = var.get("current", {}).get("value", var.get("query", ""))
        values[var["name"]] = current if isinstance(current, str) else ",".join(current)
    return values


def substitute(query: str, values: dict[str, str]) -> str:
    """``${name}`` and ``$name`` replaced; an unknown variable is an error, as in a panel."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"unknown dashboard variable ${name}")
        return values[name]

    return _VARIABLE.sub(repl, query)


def interpolate_macros(
    query: str,
    start: datetime,
    stop: datetime,
    window_period: timedelta,
    bucket: str = "solar",
    org: str = "solar",
) -> str:
    """The query text Grafana's InfluxDB datasource sends: ``v.*`` replaced textually.

    Grafana does not define a ``v`` record; its Flux backend substitutes the macros in the text
    (times as RFC 3339 UTC, the window as milliseconds, bucket and org as string literals), so a
    live test can run exactly what a panel runs.
    """

    def rfc3339(ts: datetime) -> str:
        if ts.tzinfo is None:
            raise ValueError("naive datetime: pass timezone-aware UTC times")
        return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")

    macros = {
        "v.timeRangeStart": rfc3339(start),
        "v.timeRangeStop": rfc3339(stop),
        "v.windowPeriod": f"{max(int(window_period / timedelta(milliseconds=1)), 1)}ms",
        "v.defaultBucket": json.dumps(bucket),
        "v.organization": json.dumps(org),
    }
    return re.sub(
        r"v\.(timeRangeStart|timeRangeStop|windowPeriod|defaultBucket|organization)\b",
        lambda m: macros[m.group(0)],
        query,
    )


def _all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _all_panels(panel.get("panels", []))  # rows keep collapsed panels inside


def dashboard_queries(directory: Path = DASHBOARDS_DIR) -> list[DashboardQuery]:
    out: list[DashboardQuery] = []
    for dashboard in load_dashboards(directory).values():
        uid = dashboard["uid"]
        values = variable_values(dashboard)
        for panel in _all_panels(dashboard.get("panels", [])):
            for t in panel.get("targets", []):
                out.append(
                    DashboardQuery(
                        uid,
                        panel["title"],
                        t["refId"],
                        substitute(t["query"], values),
                        panel.get("timeFrom"),
                    )
                )
        for anno in dashboard.get("annotations", {}).get("list", []):
            query = anno.get("target", {}).get("query")
            if query is not None:
                out.append(
                    DashboardQuery(
                        uid,
                        f"annotation: {anno['name']}",
                        anno["target"]["refId"],
                        substitute(query, values),
                        None,
                    )
                )
    return out
