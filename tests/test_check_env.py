"""``scc check-env``: every missing or malformed value of ``.env`` in one run, and the meter.

As a user runs it (a real process, in the folder with ``.env``), against the simulated meter, and
held to docker-compose.yml and .env.example so that the three never drift apart.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scc.envcheck import SETTINGS, EnvValue, check_values, parse_env
from sim.meter import MeterServer, SimulatedP1
from tests.fakes.p1_meter import export_4200
from tests.sim.test_demo import free_port
from tests.test_cli_ux import scc

REPO = Path(__file__).resolve().parents[1]
REQUIRED = ["METER_URL", "WALLBOX_USERNAME", "WALLBOX_PASSWORD", "ADMIN_PASSWORD", "INFLUXDB_TOKEN"]
GOOD = {
    "METER_URL": "http://192.168.1.50",
    "WALLBOX_USERNAME": "me@example.com",
    "WALLBOX_PASSWORD": "'p4$$word'",
    "ADMIN_PASSWORD": '"a long passphrase"',
    "INFLUXDB_TOKEN": "0123456789abcdef0123456789abcdef",
}


@pytest.fixture
def meter() -> Iterator[MeterServer]:
    server = MeterServer(SimulatedP1(export_4200)).start()
    yield server
    server.stop()


def write_env(folder: Path, values: dict[str, str], base: str = "") -> Path:
    path = folder / ".env"
    path.write_text(base + "".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def problem_names(stdout: str) -> list[str]:
    return [m[1] for m in re.finditer(r"^  (\S+)\s+(?:missing|line)", stdout, re.M)]


def test_an_unfilled_env_lists_every_missing_value_in_one_run(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((REPO / ".env.example").read_text())
    out = scc("check-env", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert problem_names(out.stdout) == REQUIRED
    assert "  METER_URL                missing: http:// and the P1 meter's address" in out.stdout
    assert "meter: not tried until METER_URL, METER_API and METER_TOKEN are right" in out.stdout
    assert out.stdout.endswith(
        "5 problem(s) in .env: fix them all, then run scc check-env again.\n"
    )


def test_malformed_values_are_each_named_and_secrets_never_shown(tmp_path: Path) -> None:
    bad = {
        "METER_URL": "192.168.1.50/api   # my meter",
        "WALLBOX_USERNAME": "me",
        "WALLBOX_PASSWORD": "'hunter2'",
        "ADMIN_PASSWORD": "pa$word",
        "INFLUXDB_TOKEN": "tok",
        "CHARGING_PHASES": "2",
        "CHARGING_VOLTAGE_V": "-230",
        "CHARGING_MAX_CURRENT_A": "40",
        "METER_API": "v2",
        "TZ": "Europe/Brusels",
        "INFLUXDB_RETENTION": "2 years",
        "TOGGLE_PORT": "3000",
        "GRAFANA_ANONYMOUS": "maybe",
        "METERURL": "typo",
    }
    write_env(tmp_path, bad, base="# my settings\nthis line is a pasted s3cret\n")
    out = scc("check-env", cwd=tmp_path)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    expected = [
        "  line 2                   not NAME=value (nor a # comment)",
        "  METER_URL                line 3, '192.168.1.50/api': give the meter's address only, "
        "without a path",
        "  WALLBOX_USERNAME         line 4, 'me': the myWallbox login is an e-mail address",
        "  ADMIN_PASSWORD           line 6, (value not shown): has a $, which docker compose "
        "replaces with a variable: put it in single quotes",
        "  INFLUXDB_TOKEN           line 7, (value not shown): too short: InfluxDB's first start "
        "also makes it the admin password, which needs 8 characters at least; make one with: "
        "openssl rand -hex 32",
        "  CHARGING_PHASES          line 8, '2': must be one of 1, 3",
        "  CHARGING_VOLTAGE_V       line 9, '-230': must be positive",
        "  CHARGING_MAX_CURRENT_A   line 10, '40': must be at most 32",
        "  METER_API                line 11, 'v2': v2 needs METER_TOKEN (the token the meter "
        "gives after its button is pressed)",
        "  INFLUXDB_RETENTION       line 13, '2 years': not an InfluxDB duration (like 104w, 30d "
        "or 0 for forever)",
        "  TOGGLE_PORT              line 14, '3000': the same port as GRAFANA_PORT: both are "
        "published on this machine",
        "  GRAFANA_ANONYMOUS        line 15, 'maybe': must be true or false",
        "  METERURL                 line 16: not a name docker-compose.yml reads (a typo?)",
    ]
    for line in expected:
        assert line in lines
    tz = "  TZ                       line 12, 'Europe/Brusels': not a time zone name"
    assert any(line.startswith(tz) for line in lines) == bool(available_timezones())
    assert "hunter2" not in out.stdout and "pa$word" not in out.stdout
    assert "s3cret" not in out.stdout and "'tok'" not in out.stdout
    assert out.stdout.endswith(
        f"{12 + bool(available_timezones())} problem(s) in .env: fix them all, then run "
        "scc check-env again.\n"
    )


def available_timezones() -> set[str]:
    return zoneinfo.available_timezones()


def test_a_good_env_and_a_meter_that_answers(tmp_path: Path, meter: MeterServer) -> None:
    write_env(tmp_path, {**GOOD, "METER_URL": meter.url})
    out = scc("check-env", cwd=tmp_path)
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines() == [
        "Checking .env: 18 settings, 5 of them required",
        f"meter: {meter.url} answers: P1: -4200 W (L1 -1420, L2 -1390, L3 -1390) "
        "(meter 5c2fafa1b2c3)",
        ".env is complete: start the stack with docker compose up -d",
    ]


def test_a_meter_that_does_not_answer_is_a_problem(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    write_env(tmp_path, {**GOOD, "METER_URL": url})
    out = scc("check-env", cwd=tmp_path)
    assert out.returncode == 1
    assert (
        f"  METER_URL                the meter does not answer: cannot reach {url}/api: "
        "connection refused"
    ) in out.stdout.splitlines()
    assert scc("check-env", "--no-meter", cwd=tmp_path).returncode == 0


def test_the_env_on_stdin_as_in_the_image(tmp_path: Path, meter: MeterServer) -> None:
    """``docker run --rm -i IMAGE scc check-env --env-file - < .env``: the file never has to be
    readable inside the container."""
    env = write_env(tmp_path, {**GOOD, "METER_URL": meter.url})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "scc.cli", "check-env", "--env-file", "-"],
        stdin=env.open(),
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == "Checking stdin: 18 settings, 5 of them required"


def test_no_env_file_is_one_line_that_says_how_to_make_one(tmp_path: Path) -> None:
    out = scc("check-env", cwd=tmp_path)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == (
        "scc check-env: cannot read .env: No such file or directory "
        "(cp .env.example .env, then fill it in)\n"
    )


# -- reading .env as compose does ---------------------------------------------------------------


def test_env_syntax_as_docker_compose_reads_it() -> None:
    values, problems = parse_env(
        "# comment\n"
        "\n"
        "A=plain # inline comment\n"
        "B=no#comment\n"
        "export C='single $literal' # comment\n"
        'D="double \\"quoted\\" # kept"\n'
        "E =  spaced  \n"
        "A=later wins\n"
        "not a line\n"
    )
    assert {k: v.text for k, v in values.items()} == {
        "A": "later wins",
        "B": "no#comment",
        "C": "single $literal",
        "D": 'double "quoted" # kept',
        "E": "spaced",
    }
    assert values["C"].literal and not values["D"].literal
    assert [(p.where, p.text) for p in problems] == [("line 9", "not NAME=value (nor a # comment)")]


def test_a_dollar_is_fine_only_in_single_quotes() -> None:
    good = {n: EnvValue(v, 1) for n, v in GOOD.items()}
    assert check_values({**good, "WALLBOX_PASSWORD": EnvValue("p$w", 1, literal=True)}) == []
    [problem] = check_values({**good, "WALLBOX_PASSWORD": EnvValue("p$w", 1)})
    assert problem.where == "WALLBOX_PASSWORD" and "single quotes" in problem.text


# -- held to docker-compose.yml and .env.example --------------------------------------------------


def compose_uses() -> dict[str, tuple[bool, set[str]]]:
    """NAME -> (required by ``${NAME:?...}``, the SCC_ variables it is handed to)."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    uses: dict[str, tuple[bool, set[str]]] = {}

    def note(value: object, target: str | None) -> None:
        for m in re.finditer(r"\$\{(\w+)(:\?|:-)", str(value)):
            required, targets = uses.get(m[1], (False, set()))
            if target and target.startswith("SCC_"):
                targets.add(target)
            uses[m[1]] = (required or m[2] == ":?", targets)

    def walk(node: object, key: str | None = None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        else:
            note(node, key)

    walk(compose)
    return uses


def test_settings_match_docker_compose_yml() -> None:
    uses = compose_uses()
    assert {s.name for s in SETTINGS} == set(uses)
    for s in SETTINGS:
        required, targets = uses[s.name]
        assert s.required == required, s.name
        assert targets == ({s.variable} if s.variable else set()), s.name


def test_settings_are_the_names_of_env_example() -> None:
    values, problems = parse_env((REPO / ".env.example").read_text())
    assert problems == []
    assert list(values) == [s.name for s in SETTINGS]


def test_the_readme_shows_what_check_env_says(tmp_path: Path) -> None:
    """The README's sample answer is for .env.example with a too short INFLUXDB_TOKEN and
    CHARGING_MAX_CURRENT_A=40 filled in; it must stay what the command prints."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"\n   ```\n(   Checking \.env:.*?)   ```\n", readme, re.S)
    assert m is not None
    shown = "".join(line[3:] + "\n" for line in m[1].splitlines())
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    example = example.replace("\nINFLUXDB_TOKEN=\n", "\nINFLUXDB_TOKEN=abc123\n")
    example = example.replace("\nCHARGING_MAX_CURRENT_A=16\n", "\nCHARGING_MAX_CURRENT_A=40\n")
    (tmp_path / ".env").write_text(example)
    assert scc("check-env", cwd=tmp_path).stdout == shown
