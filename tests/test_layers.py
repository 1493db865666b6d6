"""Layers point one way: ``common`` is the base, ``sim`` sits on it, the components on ``common``
only, and ``scc`` (the CLI, demo and replay) is the one place that wires them all."""

from __future__ import annotations

import pytest

from tests.support.imports import PACKAGES, format_graph, graph, package_imports

#: What each package may import of ours. bench/ measures the components, like the composition root.
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "sim": {"common"},
    "collector": {"common"},
    "controller": {"common"},
    "toggle_app": {"common"},
    "grafana": set(),
    "scc": {"common", "sim", "collector", "controller", "toggle_app"},
    "bench": {"common", "sim", "collector", "controller", "toggle_app", "scc"},
}


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_the_layers_below(package: str) -> None:
    wrong = {
        module: sorted(deps - ALLOWED[package])
        for module, deps in package_imports(package).items()
        if deps - ALLOWED[package]
    }
    assert wrong == {}, f"{package} imports what it may not:\n{format_graph(graph())}"


def test_the_checker_sees_a_forbidden_import(tmp_path, monkeypatch) -> None:
    """The check reads real source: a component imported from common/ is found, lazily or not."""
    import tests.support.imports as imports

    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "bad.py").write_text(
        "def f():\n    from controller.service import Controller\n    return Controller\n"
    )
    monkeypatch.setattr(imports, "REPO", tmp_path)
    assert imports.package_imports("common") == {"common/bad.py": {"controller"}}
