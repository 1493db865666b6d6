"""What a new user types, as a real ``scc`` process: options in either place, errors that name
the culprit (the variable, the default, the store), a pipe closed early, ``scc demo --host``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scc.demo import PageAddress
from sim.meter import MeterServer, SimulatedP1
from tests.fakes.p1_meter import export_4200
from tests.sim.test_demo import Demo, free_port
from toggle_app.address import lan_address

REPO = Path(__file__).resolve().parents[1]


def scc(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdout: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``scc ARGS`` in ``cwd`` with no SCC_ variable but those in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SCC_", "INFLUXDB_V2_"))}
    return subprocess.run(
        [sys.executable, "-m", "scc.cli", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(REPO), "TZ": "UTC", **(env or {})},
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


@pytest.fixture
def meter() -> Iterator[MeterServer]:
    server = MeterServer(SimulatedP1(export_4200)).start()
    yield server
    server.stop()


# -- global options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--config", "mine.yaml", "status", "--json"),
        ("status", "--config", "mine.yaml", "--json"),
        ("status", "--json", "--config", "mine.yaml"),
    ],
)
def test_config_goes_before_or_after_the_command(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "mine.yaml").write_text("store:\n  sqlite_path: elsewhere/my.db\n")
    out = scc(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["store"].startswith(f"SQLite {tmp_path / 'elsewhere/my.db'}")


def test_config_after_the_command_wins_and_a_missing_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("store:\n  sqlite_path: a.db\n")
    (tmp_path / "b.yaml").write_text("store:\n  sqlite_path: b.db\n")
    out = scc("--config", "a.yaml", "status", "--config", "b.yaml", "--json", cwd=tmp_path)
    assert json.loads(out.stdout)["store"].startswith(f"SQLite {tmp_path / 'b.db'}")
    out = scc("--config", "nope.yaml", "status", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("scc: config error: nope.yaml: cannot read config file")
    assert out.stderr.count("\n") == 1


# -- errors that name the culprit ----------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SCC_CHARGING__MIN_CURRENT_A", "x", "must be an integer, got 'x'"),
        ("SCC_CHARGING__MIN_CURRENT_A", "3", "must be at least 6 (the Wallbox minimum)"),
        ("SCC_CHARGING__PHASES", "2", "must be one of 1, 3, got '2'"),
        ("SCC_METER__VERIFY_TLS", "maybe", "must be true or false, got 'maybe'"),
        ("SCC_CHARGING__FOO", "1", "unknown key charging.foo (known: phases, voltage_v,"),
    ],
)
def test_a_bad_environment_variable_is_named_not_the_file(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    (tmp_path / "config.yaml").write_text("charging:\n  max_current_a: 16\n")
    out = scc("status", cwd=tmp_path, env={variable: value})
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"scc: config error: ${variable}: {message}")
    assert "config.yaml" not in out.stderr and out.stderr.count("\n") == 1


def test_a_bad_value_in_the_file_still_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("charging:\n  min_current_a: x\n")
    out = scc("status", cwd=tmp_path, env={"SCC_CHARGING__MAX_CURRENT_A": "20"})
    assert out.stderr == (
        "scc: config error: config.yaml: charging.min_current_a must be an integer, got 'x'\n"
    )
    (tmp_path / "config.yaml").write_text("charging:\n  min_current_a: 4\n")
    out = scc("status", cwd=tmp_path)
    assert out.stderr == (
        "scc: config error: config.yaml: charging.min_current_a must be at least 6 "
        "(the Wallbox minimum)\n"
    )


@pytest.mark.parametrize(
    ("yaml_value", "kind"),
    [("[hunter2, x]", "a list"), ("12.50", "a number"), ("yes", "true or false"),
     ("{pin: 4242}", "a mapping")],
)  # fmt: skip
def test_a_secret_of_the_wrong_type_says_what_it_got(
    tmp_path: Path, yaml_value: str, kind: str
) -> None:
    (tmp_path / "config.yaml").write_text(f"wallbox:\n  password: {yaml_value}\n")
    out = scc("status", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr == (
        f"scc: config error: config.yaml: wallbox.password must be a string, got {kind} "
        "(put it in quotes; it is a secret, so its value is not shown)\n"
    )
    for shown in ("hunter2", "12.5", "4242"):
        assert shown not in out.stderr


def test_collector_once_without_config_says_the_url_is_the_default(tmp_path: Path) -> None:
    out = scc("collector", "--once", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (
        "scc collector: meter: cannot reach http://127.0.0.1:8081/api: connection refused; "
        "http://127.0.0.1:8081 is the default meter.url (where python -m sim.meter listens): "
        "set meter.url to your P1 meter's address (e.g. http://192.168.1.50) in config.yaml "
        "(not found: defaults) or in $SCC_METER__URL\n"
    )


def test_collector_once_with_a_url_set_gives_no_default_hint(tmp_path: Path) -> None:
    port = free_port()
    out = scc("collector", "--once", cwd=tmp_path,
              env={"SCC_METER__URL": f"http://127.0.0.1:{port}"})  # fmt: skip
    assert out.returncode == 1
    assert out.stderr == (
        f"scc collector: meter: cannot reach http://127.0.0.1:{port}/api: connection refused\n"
    )


def test_status_in_an_empty_folder_names_the_store_and_creates_none(tmp_path: Path) -> None:
    out = scc("status", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    db = tmp_path / "scc.db"
    assert out.stdout.splitlines()[0] == (
        f"Store:     SQLite {db} (it does not exist yet: nothing recorded there; scc collector "
        "creates it; set store.sqlite_path for another one)"
    )
    assert "Meter:     no reading yet" in out.stdout
    as_json = json.loads(scc("status", "--json", cwd=tmp_path).stdout)
    assert as_json["store"].startswith(f"SQLite {db} (it does not exist yet")
    assert as_json["latest_reading"] is None and as_json["today"] is None
    assert list(tmp_path.iterdir()) == []  # no scc.db, no folder made just to say so


def test_status_names_an_existing_store_plainly(tmp_path: Path, meter: MeterServer) -> None:
    env = {"SCC_METER__URL": meter.url}
    assert scc("collector", "--once", cwd=tmp_path, env=env).returncode == 0
    out = scc("status", cwd=tmp_path)
    assert out.stdout.splitlines()[0] == f"Store:     SQLite {tmp_path / 'scc.db'}"
    assert "Meter:     -4200 W" in out.stdout


# -- a reader that goes away ---------------------------------------------------------------


def closed_pipe() -> int:
    """The write end of a pipe nobody reads: the first write fails with EPIPE, as after head."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_replay_into_a_closed_pipe_ends_quietly(tmp_path: Path, json_flag: tuple[str, ...]) -> None:
    day = tmp_path / "day.csv"
    day.write_text("ts_s,pv_w,house_w\n36000,5000,300\n37800,5000,300\n")
    fd = closed_pipe()
    try:
        out = scc("replay", str(day), *json_flag, cwd=tmp_path, stdout=fd)
    finally:
        os.close(fd)
    assert (out.returncode, out.stderr) == (141, "")


def test_collector_once_into_a_closed_pipe_ends_quietly(tmp_path: Path, meter: MeterServer) -> None:
    fd = closed_pipe()
    try:
        out = scc("collector", "--once", cwd=tmp_path, env={"SCC_METER__URL": meter.url},
                  stdout=fd)  # fmt: skip
    finally:
        os.close(fd)
    assert (out.returncode, out.stderr) == (141, "")
    # The reading was written before the output went nowhere.
    status = json.loads(scc("status", "--json", cwd=tmp_path).stdout)
    assert status["latest_reading"]["active_power_w"] == -4200.0


def test_head_reads_the_first_line_and_nothing_breaks(tmp_path: Path, meter: MeterServer) -> None:
    cmd = f"{sys.executable} -m scc.cli collector --once | head -1"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SCC_METER__URL": meter.url, "SCC_CONFIG": ""}
    out = subprocess.run(["sh", "-c", cmd], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.stdout.startswith("P1: -4200 W (L1 -1420, L2 -1390, L3 -1390) at ")
    assert out.stdout.count("\n") == 1 and "Traceback" not in out.stderr


# -- scc demo --host -------------------------------------------------------------------------


def wait_ok(url: str, timeout_s: float = 20.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return int(r.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_demo_host_listens_on_the_network_and_says_there_is_no_password(tmp_path: Path) -> None:
    port = free_port()
    demo = Demo(tmp_path, "--host", "0.0.0.0", "--port", str(port), "--speed", "50",
                "--duration", "30")  # fmt: skip
    try:
        address = lan_address() or "<this machine's address>"
        demo.wait_for(rf"phone page:\s+http://{address}:{port}/\s+\(listening on 0\.0\.0\.0;")
        demo.wait_for(r"no password:\s+anyone on this network can open the page and flip the "
                      r"switch; it steers only the simulated charger")  # fmt: skip
        assert wait_ok(f"http://127.0.0.1:{port}/healthz") == 200
        if lan_address() is not None:  # a machine with a network: the phone's way in
            assert wait_ok(f"http://{lan_address()}:{port}/healthz") == 200
    finally:
        demo.stop()


def test_the_page_address_says_who_else_can_reach_it() -> None:
    assert PageAddress("127.0.0.1", 8080).banner() == (
        "  phone page:          http://127.0.0.1:8080/  (switch the mode there)"
    )
    assert PageAddress("::1", 8080).local_only and PageAddress("localhost", 1).local_only
    lan = PageAddress("192.168.1.20", 8081)
    assert not lan.local_only
    assert lan.banner().startswith(
        "  phone page:          http://192.168.1.20:8081/  (listening on 192.168.1.20;"
    )
    assert "no password" in lan.banner()
    assert PageAddress("::", 8080).url("fd00::5") == "http://[fd00::5]:8080/"


def test_version_names_the_installed_package(tmp_path: Path) -> None:
    out = scc("--version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "scc 0.1.0"
