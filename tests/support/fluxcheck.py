"""Offline type check of Flux with the Flux language server (npm ``@influxdata/flux-lsp-node``).

Use from any test::

    from tests.support.fluxcheck import check_flux, grafana_prelude, with_prelude

    problems = check_flux({"power panel": with_prelude(grafana_prelude(), query_text)})
    assert problems == {"power panel": []}

``check_flux`` runs ``tools/fluxcheck/check.mjs`` once for all sources and returns, per name, the
language server's diagnostics as ``"line:col: message"`` (warnings and hints prefixed with their
level); an empty list means clean. Line numbers count the prelude lines too. A source must define
what the server does not know: bind parameters (``params_prelude``) or Grafana's ``v`` record
(``grafana_prelude``). When node or the npm package is missing this raises RuntimeError: the check
is never skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common.store import flux

ROOT = Path(__file__).resolve().parents[2]
TOOL_DIR = ROOT / "tools" / "fluxcheck"
PACKAGE_DIR = TOOL_DIR / "node_modules" / "@influxdata" / "flux-lsp-node"
INSTALL_HINT = "run scripts/test, or: cd tools/fluxcheck && npm ci"
TIMEOUT_S = 120.0

#: The server warns when a source defines a name that "in some InfluxDB contexts may be provided at
#: runtime". Our preludes define exactly those names on purpose (Grafana provides ``v``), so that
#: warning, and only that one, is dropped.
_RUNTIME_NAME_WARNING = re.compile(
    r"^\d+:\d+: warning: Avoid using `v` as an identifier name\. "
    r"In some InfluxDB contexts, it may be provided at runtime\.$"
)

#: Grafana's Flux macros with example values of the types Grafana substitutes.
GRAFANA_V = {
    "timeRangeStart": "2026-05-18T00:00:00Z",
    "timeRangeStop": "2026-05-19T00:00:00Z",
    "windowPeriod": "1m",
    "defaultBucket": '"solar"',
    "organization": '"solar"',
}


def params_prelude(query: str | None = None) -> str:
    """The option statements influxdb-client sends with the store's queries (example values);
    with the name of a WINDOWED query, its ``windowEvery`` too."""
    if query in flux.WINDOWED:
        return f"{flux.PARAMS_OPTION}\n{flux.WINDOW_OPTION}"
    return flux.PARAMS_OPTION


def grafana_prelude() -> str:
    """A stub of the ``v`` record Grafana provides to dashboard queries."""
    fields = ", ".join(f"{k}: {v}" for k, v in GRAFANA_V.items())
    return f"option v = {{{fields}}}"


def with_prelude(prelude: str, source: str) -> str:
    """``source`` with ``prelude`` after its import lines (Flux wants imports first)."""
    lines = source.splitlines()
    imports = [i for i, line in enumerate(lines) if line.strip().startswith("import ")]
    n = imports[-1] + 1 if imports else 0
    return "\n".join([*lines[:n], prelude, *lines[n:]])


def client_extern_source(params: Mapping[str, object]) -> str:
    """The ``extern`` influxdb-client builds for ``query(..., params=params)``, as Flux text.

    Uses the client's own AST builder, so the check sees what the server will be sent.
    """
    from influxdb_client.client._base import _BaseQueryApi

    ast = _BaseQueryApi._build_flux_ast(dict(params))
    return "\n".join(_render(stmt) for stmt in ast.body)


def _render(node: Any) -> str:
    kind = getattr(node, "type", None)
    if kind == "OptionStatement":
        a = node.assignment
        return f"option {a.id.name} = {_render(a.init)}"
    if kind == "StringLiteral":
        escaped = node.value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
        return f'"{escaped}"'
    if kind in ("DateTimeLiteral", "IntegerLiteral"):
        return str(node.value)
    if kind == "FloatLiteral":
        text = repr(float(node.value))
        return text if "." in text or "e" in text else text + ".0"
    if kind == "BooleanLiteral":
        return "true" if node.value else "false"
    if kind == "DurationLiteral":
        return "".join(f"{d.magnitude}{d.unit}" for d in node.values)
    if kind == "UnaryExpression":
        return f"{node.operator}{_render(node.argument)}"
    if kind == "ArrayExpression":
        return "[" + ", ".join(_render(e) for e in node.elements) + "]"
    raise ValueError(f"cannot render extern node {kind!r}")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(f"Flux check: node is not installed ({INSTALL_HINT})")
    if not PACKAGE_DIR.is_dir():
        raise RuntimeError(
            "Flux check: npm package @influxdata/flux-lsp-node is not installed in "
            f"{TOOL_DIR} ({INSTALL_HINT})"
        )
    return node


def check_flux(sources: Mapping[str, str]) -> dict[str, list[str]]:
    """Diagnostics of each named Flux source, from one language-server process for all."""
    node = _node()
    payload = json.dumps([{"name": k, "source": v} for k, v in sources.items()])
    try:
        proc = subprocess.run(
            [node, str(TOOL_DIR / "check.mjs")],
            input=payload,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(
            f"Flux check: no answer from the language server in {TIMEOUT_S:.0f} s"
        ) from e
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[:400]
        raise RuntimeError(f"Flux check failed (exit {proc.returncode}): {detail}")
    result = json.loads(proc.stdout)
    return {
        name: [m for m in result[name] if not _RUNTIME_NAME_WARNING.match(m)] for name in sources
    }
