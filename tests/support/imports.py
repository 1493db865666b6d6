"""The project's import graph between its top-level packages, read from the source with ``ast``.

``python -m tests.support.imports`` prints it as a tree: each package and the packages it imports.
Function-level imports count too: a lazy import is still a dependency.

The test process parses in a child process (``package_imports``): CPython 3.11 before 3.11.8 keeps
the AST builder's recursion counter per interpreter, so a parse racing another thread's compile
(a server thread a previous test left running) fails with "AST constructor recursion depth
mismatch" (python/cpython#106905).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "sim", "collector", "controller", "toggle_app", "scc", "grafana", "bench")


def _imported_modules(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def package_imports(package: str) -> dict[str, set[str]]:
    """For each module file of ``package``: the project packages it imports (other than itself)."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.imports", "--json", str(REPO), package],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {module: set(deps) for module, deps in json.loads(child.stdout).items()}


def _scan(package: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        deps = {m.split(".")[0] for m in _imported_modules(path)}
        out[str(path.relative_to(REPO))] = (deps & set(PACKAGES)) - {package}
    return out


def graph() -> dict[str, set[str]]:
    """Package -> the project packages any of its modules imports."""
    result: dict[str, set[str]] = {}
    for package in PACKAGES:
        deps: set[str] = set()
        for module_deps in package_imports(package).values():
            deps |= module_deps
        result[package] = deps
    return result


def format_graph(g: dict[str, set[str]]) -> str:
    return "\n".join(
        f"{package:<11} -> {', '.join(sorted(deps)) or '(nothing of ours)'}"
        for package, deps in g.items()
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--json"]:
        REPO = Path(sys.argv[2])
        print(json.dumps({m: sorted(d) for m, d in _scan(sys.argv[3]).items()}))
    else:
        print(format_graph(graph()))
    sys.exit(0)
