"""The project's import graph between its top-level packages, read from the source with ``ast``.

``python -m tests.support.imports`` prints it as a tree: each package and the packages it imports.
Function-level imports count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
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
    print(format_graph(graph()))
    sys.exit(0)
