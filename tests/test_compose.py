"""Static checks of the docker compose stack, the Dockerfile and .env.example.

No Docker engine runs here, so the stack is checked the way Docker reads it: Debian's
docker-compose 1.29 parses and interpolates the file (it needs no engine), check-jsonschema holds
it against the Compose Specification, and each service's environment goes through the project's
own config loader, so a misspelt SCC_ variable fails here rather than in a crash-looping
container.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from wallbox import Wallbox

from collector.homewizard import HomeWizardClient
from common.config import ChargingConfig, Config, load_config
from scc.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
README = REPO / "README.md"

SERVICES = {"influxdb", "grafana", "collector", "controller", "toggle_app"}
OURS = {"collector", "controller", "toggle_app"}
REQUIRED = {
    "METER_URL",
    "ADMIN_PASSWORD",
    "INFLUXDB_TOKEN",
}
# The example values a user would write into .env, for the checks that need a filled-in file.
FILLED = {
    "METER_URL": "http://192.168.1.50",
    "WALLBOX_USERNAME": "me@example.com",
    "WALLBOX_PASSWORD": "wallbox-pass",
    "ADMIN_PASSWORD": "house-admin-pass",
    "INFLUXDB_TOKEN": "f" * 64,
}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET")
# Optional values left empty in .env.example: empty means unset.
# The Wallbox account is needed on the cloud only (CHARGER_KIND=wallbox_cloud); the controller
# names it when it is missing there.
OPTIONAL_BLANKS = {
    "METER_TOKEN",
    "WALLBOX_CHARGER_ID",
    "WALLBOX_USERNAME",
    "WALLBOX_PASSWORD",
    "OCPP_CHARGE_POINT_ID",
    "OCPP_PASSWORD",
    "TOGGLE_ALLOWED_HOSTS",
    "TOGGLE_TRUSTED_PROXIES",
}

RAW = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise AssertionError(
            f"{name} not found: scripts/test installs it "
            f"({'apt-get install docker-compose' if name == 'docker-compose' else 'pip'})"
        )
    return found


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def _env_file(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / "test.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def _compose(tmp_path: Path, values: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """docker-compose with exactly these .env values (a developer's own .env stays out)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [
            _tool("docker-compose"),
            "--project-directory",
            str(REPO),
            "-f",
            str(COMPOSE),
            "--env-file",
            str(_env_file(tmp_path, values)),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The compose file as Docker sees it after `cp .env.example .env` and filling it in."""
    values = {**_env_example(), **FILLED}
    result = _compose(tmp_path_factory.mktemp("compose"), values, "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


# --- what Docker accepts -------------------------------------------------------------------------


def test_docker_compose_accepts_the_filled_in_example(tmp_path: Path) -> None:
    result = _compose(tmp_path, {**_env_example(), **FILLED}, "config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_docker_compose_refuses_to_start_without_a_required_value(
    tmp_path: Path, name: str
) -> None:
    values = {**_env_example(), **FILLED, name: ""}
    result = _compose(tmp_path, values, "config", "-q")
    assert result.returncode != 0
    assert f"set {name} in .env" in result.stderr


def _spec_check(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the Compose Specification's schema, on ``path``."""
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_file_matches_the_compose_specification() -> None:
    result = _spec_check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_catches_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE.read_text(encoding="utf-8").replace("restart: unless-stopped", "restart: 3", 1),
        encoding="utf-8",
    )
    assert _spec_check(broken).returncode != 0


def test_no_top_level_name_or_version() -> None:
    # docker-compose 1.29 rejects `name:`; `version:` is obsolete in the Compose Specification.
    assert "name" not in RAW and "version" not in RAW


# --- the stack ------------------------------------------------------------------------------------


def test_services_are_the_stack() -> None:
    assert set(RAW["services"]) == SERVICES


def test_only_grafana_the_toggle_app_and_the_ocpp_port_are_published(
    resolved: dict[str, Any],
) -> None:
    published = {n for n, s in resolved["services"].items() if s.get("ports")}
    assert published == {"grafana", "toggle_app", "controller"}
    for service in resolved["services"].values():
        assert service.get("network_mode") != "host"
    ports = {
        n: [(str(p["published"]), int(p["target"])) for p in s["ports"]]
        if isinstance(s["ports"][0], dict)
        else [(p.split(":")[0], int(p.split(":")[1])) for p in s["ports"]]
        for n, s in resolved["services"].items()
        if s.get("ports")
    }
    assert ports == {
        "grafana": [("3000", 3000)],
        "toggle_app": [("8080", 8080)],
        "controller": [("8887", 8887)],  # OCPP, where the charger connects (local control)
    }


def test_every_service_restarts_has_a_healthcheck_and_waits_for_influxdb(
    resolved: dict[str, Any],
) -> None:
    for name, s in resolved["services"].items():
        assert s["restart"] == "unless-stopped", name
        assert s["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        if name != "influxdb":
            assert s["depends_on"] == {"influxdb": {"condition": "service_healthy"}}, name


def test_images_are_pinned(resolved: dict[str, Any]) -> None:
    s = resolved["services"]
    assert re.fullmatch(r"influxdb:2\.7\.\d+", s["influxdb"]["image"])
    assert re.fullmatch(r"grafana/grafana(-oss)?:11\.\d+\.\d+", s["grafana"]["image"])
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    for name in OURS:
        assert s[name]["image"] == f"solar-car-charge:{version}", name
        assert Path(s[name]["build"]["context"]) == REPO
    assert "latest" not in COMPOSE.read_text(encoding="utf-8")


def test_named_volumes_hold_the_state(resolved: dict[str, Any]) -> None:
    s = resolved["services"]
    declared = set(resolved["volumes"])

    def mounts(name: str) -> dict[str, str]:
        out = {}
        for v in s[name].get("volumes", []):
            source, target = (v["source"], v["target"]) if isinstance(v, dict) else v.split(":")[:2]
            out[target] = source
        return out

    assert mounts("influxdb")["/var/lib/influxdb2"] in declared
    assert mounts("influxdb")["/etc/influxdb2"] in declared
    assert mounts("grafana")["/var/lib/grafana"] in declared
    spool = s["collector"]["environment"]["SCC_METER__SPOOL_PATH"]
    spool_mounts = [t for t, src in mounts("collector").items() if src in declared]
    assert any(spool.startswith(t.rstrip("/") + "/") for t in spool_mounts), spool


def test_influxdb_first_run_setup_matches_what_the_services_use(resolved: dict[str, Any]) -> None:
    influx = resolved["services"]["influxdb"]["environment"]
    scc = resolved["services"]["collector"]["environment"]
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert influx["DOCKER_INFLUXDB_INIT_ORG"] == scc["SCC_INFLUXDB__ORG"]
    assert influx["DOCKER_INFLUXDB_INIT_BUCKET"] == scc["SCC_INFLUXDB__BUCKET"] == "solar"
    assert influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == scc["SCC_INFLUXDB__TOKEN"]
    assert influx["DOCKER_INFLUXDB_INIT_RETENTION"] == "104w"
    # InfluxDB refuses an admin password under 8 characters: the token is 64.
    assert len(influx["DOCKER_INFLUXDB_INIT_PASSWORD"]) >= 8
    assert scc["SCC_INFLUXDB__URL"] == "http://influxdb:8086"


# --- secrets and .env.example --------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def _references() -> list[tuple[str, str, str]]:
    return _REFERENCE.findall(COMPOSE.read_text(encoding="utf-8"))


def test_no_secret_has_a_default_value() -> None:
    refs = _references()
    secrets = {name for name, _, _ in refs if SECRET_NAME.search(name)}
    assert secrets >= {"ADMIN_PASSWORD", "INFLUXDB_TOKEN", "WALLBOX_PASSWORD", "OCPP_PASSWORD"}
    for name, op, rest in refs:
        if name in OPTIONAL_BLANKS:
            assert (op, rest) == (":-", ""), f"${{{name}}} may only default to empty"
        elif SECRET_NAME.search(name):
            assert op == ":?" and rest.strip(), f"${{{name}}} must be ${{{name}:?message}}"


def test_no_secret_is_written_into_the_compose_file() -> None:
    for name, service in RAW["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert isinstance(value, str) and _REFERENCE.fullmatch(value), (name, key)


def test_required_values_are_exactly_the_blank_lines_of_env_example() -> None:
    required = {name for name, op, _ in _references() if op == ":?"}
    assert required == REQUIRED
    example = _env_example()
    blanks = {k for k, v in example.items() if v == ""}
    assert blanks == REQUIRED | OPTIONAL_BLANKS


def test_env_example_documents_every_variable_with_the_compose_default() -> None:
    example = _env_example()
    for name, op, default in _references():
        assert name in example, f"{name} is used in docker-compose.yml but not in .env.example"
        if op == ":-":
            assert example[name] == default, f"{name}: .env.example and compose defaults differ"
    assert set(example) == {name for name, _, _ in _references()}


def test_secrets_stay_out_of_git_and_the_image() -> None:
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".git" in (REPO / ".dockerignore").read_text(encoding="utf-8").split()


# --- our services: commands and configuration -------------------------------------------------


def _service_config(resolved: dict[str, Any], name: str, tmp_path: Path) -> Config:
    empty = tmp_path / f"{name}.yaml"
    empty.write_text("", encoding="utf-8")
    env = {k: str(v) for k, v in resolved["services"][name]["environment"].items()}
    return load_config(empty, env=env)


def test_each_service_config_loads_and_points_at_the_stack(
    resolved: dict[str, Any], tmp_path: Path
) -> None:
    configs = {name: _service_config(resolved, name, tmp_path) for name in OURS}
    for name, cfg in configs.items():
        assert cfg.store.backend == "influxdb", name
        assert cfg.influxdb.url == "http://influxdb:8086"
        assert (cfg.influxdb.org, cfg.influxdb.bucket) == ("solar", "solar")
        assert cfg.influxdb.token is not None and cfg.influxdb.token.get() == "f" * 64
    c = configs["collector"]
    assert c.meter.url == FILLED["METER_URL"] and c.meter.api == "v1" and c.meter.token is None
    w = configs["controller"].wallbox
    assert (w.username, w.charger_id) == (FILLED["WALLBOX_USERNAME"], None)  # first charger
    assert w.password is not None and w.password.get() == FILLED["WALLBOX_PASSWORD"]
    assert configs["controller"].charger.kind == "wallbox_cloud"
    t = configs["toggle_app"].toggle_app
    assert (t.host, t.port) == ("0.0.0.0", 8080)
    assert t.password is not None and t.password.get() == FILLED["ADMIN_PASSWORD"]


def test_compose_charging_defaults_are_the_config_defaults(
    resolved: dict[str, Any], tmp_path: Path
) -> None:
    charging = _service_config(resolved, "controller", tmp_path).charging
    assert charging == ChargingConfig()  # the example's values change nothing by themselves


def test_commands_are_scc_subcommands(resolved: dict[str, Any]) -> None:
    expected = {"collector": "collector", "controller": "controller", "toggle_app": "toggle"}
    for name in OURS:
        command = resolved["services"][name]["command"]
        assert command[0] == "scc"
        assert build_parser().parse_args(command[1:]).command == expected[name]


def test_heartbeat_healthchecks_read_the_file_the_service_writes(resolved: dict[str, Any]) -> None:
    # Minimum age limits: several loop periods, so one slow call does not flag a healthy loop.
    minimum_age_s = {"collector": 10 * 1.0, "controller": 2 * ChargingConfig().interval_s}
    for name, min_age in minimum_age_s.items():
        s = resolved["services"][name]
        path = s["environment"]["SCC_HEALTH__HEARTBEAT_FILE"]
        test = s["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "-m", "common.heartbeat"], name
        assert test[4] == path, name
        assert float(test[5]) >= min_age, name
        # The file lives in memory (a tmpfs), so a beat a second does not wear an SD card.
        assert any(path.startswith(t.rstrip("/") + "/") for t in s["tmpfs"]), name


def test_toggle_app_healthcheck_asks_healthz_on_its_own_port(resolved: dict[str, Any]) -> None:
    s = resolved["services"]["toggle_app"]
    port = s["environment"]["SCC_TOGGLE_APP__PORT"]
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(s["healthcheck"]["test"])
    assert s["environment"]["SCC_TOGGLE_APP__HOST"] == "0.0.0.0"


# --- Dockerfile ---------------------------------------------------------------------------------


def _stages() -> list[list[str]]:
    """Dockerfile instructions (continuations joined) split into build stages."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("ARG "):
            continue
        if line.startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_on_python_312_slim() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.12-slim", text, re.M)
    stages = _stages()
    assert len(stages) == 2
    assert stages[0][0] == "FROM ${PYTHON_IMAGE} AS build"
    assert stages[1][0] == "FROM ${PYTHON_IMAGE} AS runtime"


def test_runtime_stage_has_no_build_tools_and_runs_unprivileged() -> None:
    runtime = _stages()[-1]
    joined = "\n".join(runtime)
    assert "apt-get install" not in joined and "gcc" not in joined and "pip install" not in joined
    assert any(i.startswith("COPY --from=build /opt/scc /opt/scc") for i in runtime)
    users = [i.split()[1] for i in runtime if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    # The build stage drops pip from the virtualenv that the runtime copies.
    assert "pip uninstall -y" in "\n".join(_stages()[0])


def test_dockerfile_copies_every_package_of_the_project() -> None:
    build = "\n".join(_stages()[0])
    includes = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]["include"]
    for pattern in includes:
        package = pattern.rstrip("*")
        assert f"COPY {package} ./{package}" in build, package


def test_dockerfile_healthcheck_and_writable_dirs() -> None:
    runtime = "\n".join(_stages()[-1])
    health = [i for i in _stages()[-1] if i.startswith("HEALTHCHECK ")]
    assert len(health) == 1
    assert 'CMD ["python", "-m", "common.heartbeat", "/run/scc/heartbeat"' in health[0]
    # The heartbeat directory and the spool volume's mount point belong to the service user, so
    # a fresh named volume inherits that owner.
    assert "mkdir -p /var/lib/scc/spool /run/scc" in runtime
    assert "chown -R scc:scc /var/lib/scc /run/scc" in runtime


# --- README ---------------------------------------------------------------------------------------


def _compose_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Running it for real: docker compose")
    end = text.find("\n## ", start + 3)
    return text[start : end if end != -1 else len(text)]


def test_readme_walks_through_the_compose_path() -> None:
    section = _compose_section()
    assert "cp .env.example .env" in section
    assert "docker compose up -d" in section
    for name in REQUIRED:
        assert f"`{name}`" in section, name
    assert "http://HOST:3000" in section and "http://HOST:8080" in section
    assert "influx backup" in section and "influx restore" in section


def test_every_service_the_readme_names_exists() -> None:
    section = _compose_section()
    named: set[str] = set()
    # The services table: first column is a service name in backticks.
    named |= set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))
    # Commands: docker compose VERB [--flags] SERVICE... (shell comments cut off).
    for m in re.finditer(r"docker compose (\w+)([^\n`]*)", section):
        verb, words = m.group(1), m.group(2).split("#")[0].split()
        args = [w for w in words if not w.startswith("-")]
        if verb in ("logs", "restart", "stop", "start", "ps", "up", "down"):
            named |= set(args)
        elif verb in ("exec", "run") and args:
            named.add(args[0])
        elif verb == "cp":
            named |= {w.split(":")[0] for w in args if re.match(r"[a-z_]+:/", w)}
    assert named, "the README names no services"
    assert named <= SERVICES, named - SERVICES
    assert set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M)) == SERVICES


def test_local_control_is_one_line_in_env(tmp_path: Path) -> None:
    """CHARGER_KIND=ocpp without a Wallbox account: compose accepts it, and the controller's
    config listens for the charger on the published port, with the id and password from .env."""
    values = {
        **_env_example(),
        **FILLED,
        "WALLBOX_USERNAME": "",
        "WALLBOX_PASSWORD": "",
        "CHARGER_KIND": "ocpp",
        "OCPP_CHARGE_POINT_ID": "PLP1-123456",
        "OCPP_PASSWORD": "ocpp-pass",
    }
    result = _compose(tmp_path, values, "config")
    assert result.returncode == 0, result.stderr
    controller = yaml.safe_load(result.stdout)["services"]["controller"]
    cfg = _service_config({"services": {"controller": controller}}, "controller", tmp_path)
    assert cfg.charger.kind == "ocpp" and cfg.charging.interval_s == 10.0
    o = cfg.ocpp
    assert (o.host, o.port, o.charge_point_id) == ("0.0.0.0", 8887, "PLP1-123456")
    assert cfg.ocpp.password is not None and cfg.ocpp.password.get() == "ocpp-pass"
    assert cfg.wallbox.username is None


# --- the demo stack (docker-compose.demo.yml with .env.demo) -----------------------------------

DEMO = REPO / "docker-compose.demo.yml"
ENV_DEMO = REPO / ".env.demo"
SIMS = {"sim_meter": "sim.meter", "sim_wallbox": "sim.wallbox_cloud"}
DEMO_PROJECT = "scc-demo"


def _env_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path.name}: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def _demo_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    """docker-compose with both files and exactly this env file (a developer's .env stays out)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [
            _tool("docker-compose"),
            "--project-directory",
            str(REPO),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE),
            "-f",
            str(DEMO),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    """The demo stack as Docker sees it: both files merged, .env.demo filled in."""
    result = _demo_compose(ENV_DEMO, "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_docker_compose_accepts_the_demo_stack() -> None:
    result = _demo_compose(ENV_DEMO, "config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("which", ["merged", "override alone"])
def test_demo_stack_matches_the_compose_specification(which: str, tmp_path: Path) -> None:
    target = DEMO
    if which == "merged":
        result = _demo_compose(ENV_DEMO, "config")
        assert result.returncode == 0, result.stderr
        target = tmp_path / "docker-compose.yml"
        target.write_text(result.stdout, encoding="utf-8")
    result = _spec_check(target)
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_stack_needs_its_env_file(tmp_path: Path) -> None:
    # Compose fills in docker-compose.yml's required ${...} before it merges the override, so the
    # override cannot answer them: without .env.demo the demo is refused, naming the variable.
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = _demo_compose(empty, "config", "-q")
    assert result.returncode != 0
    assert re.search(r"set (METER_URL|WALLBOX_\w+|ADMIN_PASSWORD|INFLUXDB_TOKEN)", result.stderr)


def test_demo_values_live_only_in_env_demo() -> None:
    values = _env_values(ENV_DEMO)
    # The simulated cloud's account: the base file takes it as optional (local control needs
    # none), docker-compose.demo.yml requires it.
    assert set(values) == REQUIRED | {
        "COMPOSE_PROJECT_NAME",
        "WALLBOX_USERNAME",
        "WALLBOX_PASSWORD",
    }
    assert values["COMPOSE_PROJECT_NAME"] == DEMO_PROJECT  # its own volumes, never a home's
    assert len(values["INFLUXDB_TOKEN"]) >= 8  # InfluxDB's minimum for the admin password
    for path in (COMPOSE, ENV_EXAMPLE, DEMO):
        text = path.read_text(encoding="utf-8")
        for name, value in values.items():
            if name != "COMPOSE_PROJECT_NAME":
                assert value not in text, f"{path.name} holds the demo value of {name}"
    # The override names its secrets only by reference, like docker-compose.yml.
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for name, service in raw["services"].items():
        for key in service.get("environment") or {}:
            assert not SECRET_NAME.search(key), (name, key)
        command = service.get("command") or []
        for flag, value in itertools.pairwise(command):
            if flag in ("--password", "--token"):
                assert _REFERENCE.fullmatch(value), (name, flag)


def test_demo_adds_the_simulators_built_from_the_same_image(demo: dict[str, Any]) -> None:
    services = demo["services"]
    assert set(services) == SERVICES | set(SIMS)
    for name, module in SIMS.items():
        s = services[name]
        assert s["image"] == services["collector"]["image"]
        assert Path(s["build"]["context"]) == REPO
        assert s["command"][:3] == ["python", "-m", module]
        assert _flag(s["command"], "--host") == "0.0.0.0"  # reachable from the other containers
        assert s["init"] is True and s["restart"] == "unless-stopped"
        assert "ports" not in s  # only inside the stack, as InfluxDB
    for name, s in services.items():
        assert s["healthcheck"]["test"][0] == "CMD", name  # `up --wait` waits for every one
    assert services["collector"]["depends_on"]["sim_meter"] == {"condition": "service_healthy"}
    assert services["controller"]["depends_on"]["sim_wallbox"] == {"condition": "service_healthy"}
    published = {n for n, s in services.items() if s.get("ports")}
    assert published == {"grafana", "toggle_app", "controller"}  # controller: OCPP's 8887


def test_demo_services_point_at_the_simulators(demo: dict[str, Any], tmp_path: Path) -> None:
    meter_cmd = demo["services"]["sim_meter"]["command"]
    cloud_cmd = demo["services"]["sim_wallbox"]["command"]
    cloud = f"http://sim_wallbox:{_flag(cloud_cmd, '--port')}"
    assert _flag(meter_cmd, "--car-draw-url") == f"{cloud}/sim/draw"  # the closed loop
    collector = _service_config(demo, "collector", tmp_path)
    assert collector.meter.url == f"http://sim_meter:{_flag(meter_cmd, '--port')}"
    controller = _service_config(demo, "controller", tmp_path)
    w = controller.wallbox
    cloud = f"http://sim_wallbox:{_flag(cloud_cmd, '--port')}"
    assert (w.api_url, w.auth_url) == (f"{cloud}/api/", f"{cloud}/auth/")
    assert w.username == _flag(cloud_cmd, "--username")
    assert w.password is not None and w.password.get() == _flag(cloud_cmd, "--password")
    # The car charges within two minutes at the shipped defaults: the start delay and a cycle.
    c = controller.charging
    assert c.start_delay_s + c.interval_s <= 120
    assert c == ChargingConfig()  # the demo shows the defaults a user gets
    toggle = _service_config(demo, "toggle_app", tmp_path).toggle_app
    assert toggle.password is not None
    assert toggle.password.get() == _env_values(ENV_DEMO)["ADMIN_PASSWORD"]


class _Sim:
    """A simulator started from its demo command, on 127.0.0.1 and a free port instead."""

    def __init__(self, service: dict[str, Any], hosts: dict[str, str] | None = None) -> None:
        command = list(service["command"])
        for name, local in (hosts or {}).items():  # another service's address, here
            command = [arg.replace(name, local) for arg in command]
        command[command.index("--host") + 1] = "127.0.0.1"
        command[command.index("--port") + 1] = "0"
        assert command[0] == "python"
        self.proc = subprocess.Popen(
            [sys.executable, *command[1:]],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        m = re.search(r" on \S*?:(\d+)", first)
        assert m, f"{command}: {first!r}"
        self.port = int(m.group(1))
        self.service = service

    def healthcheck(self) -> int:
        """The service's own healthcheck command, aimed at this port; its exit status."""
        test = self.service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"]
        code = re.sub(r"\b(8081|8090)\b", str(self.port), test[3])
        return subprocess.run([sys.executable, "-c", code], timeout=30, check=False).returncode

    def stop(self) -> str:
        """Its output after the first line (read through the same buffer that line came from:
        ``communicate`` would read the pipe beneath it and miss what is buffered)."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        assert self.proc.returncode == 0, out
        return out


def test_demo_simulators_serve_what_the_services_expect(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    """The simulators run from their demo commands: the healthchecks pass while they listen and
    fail after; the collector's client reads a sunny export big enough to start the car; the
    real ``wallbox`` package signs in with the controller's account and finds a car plugged in."""
    cloud = _Sim(demo["services"]["sim_wallbox"])
    meter = _Sim(demo["services"]["sim_meter"], {"sim_wallbox:8090": f"127.0.0.1:{cloud.port}"})
    try:
        assert meter.healthcheck() == cloud.healthcheck() == 0
        collector = _service_config(demo, "collector", tmp_path).meter
        reading = HomeWizardClient(f"http://127.0.0.1:{meter.port}", collector.api).read()
        charging = _service_config(demo, "controller", tmp_path).charging
        min_power_w = charging.min_current_a * charging.effective_watts_per_amp
        assert reading.active_power_w is not None and -reading.active_power_w > min_power_w
        w = _service_config(demo, "controller", tmp_path).wallbox
        assert w.username is not None and w.password is not None
        account = Wallbox(w.username, w.password.get(), requestGetTimeout=5)
        account.baseUrl = w.api_url.replace("sim_wallbox:8090", f"127.0.0.1:{cloud.port}")
        account.authUrl = w.auth_url.replace("sim_wallbox:8090", f"127.0.0.1:{cloud.port}")
        account.authenticate()
        (charger_id,) = account.getChargersList()
        assert account.getChargerStatus(charger_id)["status_id"] == 182  # car in, paused
        time.sleep(1.5)  # the meter's thread reads the car's draw every second
    finally:
        meter_out = meter.stop()
        cloud.stop()
    # The meter reads the car's draw from the cloud (the closed loop) and never failed to.
    assert f"plus the car's draw from http://127.0.0.1:{cloud.port}/sim/draw" in meter_out
    assert "car draw from" not in meter_out
    assert meter.healthcheck() != 0 and cloud.healthcheck() != 0


DEMO_UP = (
    "docker compose --env-file .env.demo -f docker-compose.yml -f docker-compose.demo.yml up -d"
)


def test_readme_gives_the_demo_stack_next_to_scripts_demo() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Try it in two commands")
    section = text[start : text.index("\n## ", start + 3)]
    assert "scripts/demo" in section and DEMO_UP in section
    values = _env_values(ENV_DEMO)
    assert f"password `{values['ADMIN_PASSWORD']}`" in section
    assert f"`{values['COMPOSE_PROJECT_NAME']}`" in section
    assert "http://127.0.0.1:3000" in section and "http://127.0.0.1:8080" in section
    # The same command where a reader of the files finds it.
    assert DEMO_UP in DEMO.read_text(encoding="utf-8")
    assert DEMO_UP in ENV_DEMO.read_text(encoding="utf-8")
