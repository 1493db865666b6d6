"""Rules the code keeps so it stays readable: small modules, explained type ignores, and a
repository that explains itself (no pointer to a document a clone does not have)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400


def tracked(*patterns: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [p for p in out.stdout.splitlines() if (REPO / p).exists()]


def source_modules() -> list[str]:
    return [p for p in tracked("*.py") if not p.startswith("tests/")]


def test_no_module_over_400_lines() -> None:
    sizes = {p: len((REPO / p).read_text(encoding="utf-8").splitlines()) for p in source_modules()}
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_every_type_ignore_names_its_code_and_why() -> None:
    bad = []
    for p in tracked("*.py"):
        for n, line in enumerate((REPO / p).read_text(encoding="utf-8").splitlines(), 1):
            m = re.search(r"#\s*type:\s*ignore(\[[^\]]+\])?(.*)", line)
            if m and (not m.group(1) or not m.group(2).strip(" #")):
                bad.append(f"{p}:{n}: {line.strip()}")
    assert bad == [], "a type: ignore needs [code] and a comment saying why"


#: One way to import: the project is installed (editable for development), tests import helpers
#: as ``tests.<folder>.<module>`` and benchmarks run as ``python -m bench.<name>`` from the root.
PATH_TRICK = re.compile(
    r"sys\.path\.(insert|append)\(|^\s*(from|import) (conftest|ctl_helpers|test_\w+)\b"
)


def test_one_import_style_without_sys_path_tricks() -> None:
    bad = [
        f"{p}:{n}: {line.strip()}"
        for p in tracked("*.py")
        for n, line in enumerate((REPO / p).read_text(encoding="utf-8").splitlines(), 1)
        if PATH_TRICK.search(line)
    ]
    assert bad == []


def test_every_test_folder_is_a_package() -> None:
    """Without ``__init__.py`` pytest puts the folder on ``sys.path`` and a helper's bare name
    (``conftest``, ``helpers``) can import from the wrong folder."""
    folders = {str(Path(p).parent) for p in tracked("tests/*.py", "tests/**/*.py")}
    assert sorted(f for f in folders if not (REPO / f / "__init__.py").exists()) == []


def test_no_function_is_excused_from_the_complexity_cap() -> None:
    """ruff caps complexity at 10 (C90); a noqa would let a function grow back past it."""
    excused = [
        f"{p}:{n}"
        for p in tracked("*.py")
        for n, line in enumerate((REPO / p).read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"noqa:[^#]*C9", line)
    ]
    assert excused == []


#: Documents that exist only beside a workplace's clone, and build-machine paths.
OUTSIDE = re.compile(r"DESIGN\.md|api[-]facts|ocpp[-]facts|\.\./shared|shared/reference|/work/")


@pytest.mark.parametrize("kind", ["code", "docs"])
def test_nothing_points_outside_the_repository(kind: str) -> None:
    files = (
        source_modules() + tracked("tests/*.py")
        if kind == "code"
        else tracked("*.md", "*.yml", "*.yaml", "*.toml", "Dockerfile", "scripts/*")
    )
    hits = {
        p: f"{n}: {line.strip()}"
        for p in files
        if p != "tests/test_hygiene.py"
        for n, line in enumerate((REPO / p).read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    }
    assert hits == {}


def test_the_virtual_environment_is_never_tracked() -> None:
    """``.venv/`` in .gitignore matches a folder only: a .venv symlink (a worktree sharing
    another's environment) was committed once."""
    assert tracked(".venv", ".venv/*") == []
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", ".venv"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, ".venv (file, folder or symlink) must be ignored"
