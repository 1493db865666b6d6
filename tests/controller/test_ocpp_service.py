"""``scc controller`` with ``charger.kind: ocpp``: the process is the central system, the simulated
Pulsar (``python -m sim.ocpp_cp``) connects to it, and no Wallbox account is needed."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def charger_rows(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as c:
        try:
            return c.execute(
                "SELECT charger_id, status, link, firmware FROM charger ORDER BY ts_ms"
            ).fetchall()
        except sqlite3.OperationalError:  # the table is not there yet
            return []


@pytest.fixture
def env(tmp_path):
    port = free_port()
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SCC_")},
        "PYTHONPATH": str(ROOT),
        "SCC_CONFIG": "",
        "SCC_STORE__SQLITE_PATH": str(tmp_path / "scc.db"),
        "SCC_CHARGER__KIND": "ocpp",
        "SCC_OCPP__HOST": "127.0.0.1",
        "SCC_OCPP__PORT": str(port),
        "SCC_OCPP__CHARGE_POINT_ID": "PLP1-123456",
        "SCC_CHARGING__INTERVAL_S": "1",
    }


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args], stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True,
        env=env, cwd=cwd,
    )  # fmt: skip


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out


def test_the_controller_is_the_central_system_and_needs_no_wallbox_account(tmp_path, env):
    url = f"ws://127.0.0.1:{env['SCC_OCPP__PORT']}/PLP1-123456"
    controller = start(["-m", "scc.cli", "controller"], env, tmp_path)
    pulsar = start(["-m", "sim.ocpp_cp", "--url", url, "--latency-s", "0.2"], env, tmp_path)
    try:
        deadline = time.monotonic() + 30
        rows: list[tuple] = []
        while time.monotonic() < deadline:
            rows = charger_rows(tmp_path / "scc.db")
            if rows:
                break
            time.sleep(0.2)
        assert rows and rows[-1] == ("PLP1-123456", "Waiting for a start", "ocpp", "6.7.38")
    finally:
        rc_pulsar, _ = stop(pulsar)
        rc, out = stop(controller)
    assert rc == 0 and rc_pulsar == 0, out
    assert "Controller (local OCPP): every 1 s" in out
    assert "OCPP without a password" in out
    assert "Charge point PLP1-123456 booted: Wall Box Chargers" in out
    assert "Controller stopped" in out and "Traceback" not in out
    assert "wallbox.username" not in out


def test_once_waits_for_the_charger_to_connect(tmp_path, env):
    url = f"ws://127.0.0.1:{env['SCC_OCPP__PORT']}/PLP1-123456"
    controller = start(["-m", "scc.cli", "controller", "--once"], env, tmp_path)
    time.sleep(0.5)
    pulsar = start(["-m", "sim.ocpp_cp", "--url", url], env, tmp_path)
    try:
        controller.wait(timeout=60)
    finally:
        stop(pulsar)
        rc, out = stop(controller)
    assert "Waiting up to 60 s for the charger to connect" in out
    # The meter has never been read here: a stale decision, but the charger was read and recorded.
    assert charger_rows(tmp_path / "scc.db")[-1][1:3] == ("Waiting for a start", "ocpp"), out
    assert rc == 0, out


def test_a_port_in_use_is_one_clear_line(tmp_path, env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(env["SCC_OCPP__PORT"])))
        busy.listen()
        proc = start(["-m", "scc.cli", "controller", "--once"], env, tmp_path)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"cannot listen for the charger on 127.0.0.1:{env['SCC_OCPP__PORT']}" in out
    assert "Traceback" not in out


def test_sigterm_stops_the_controller_within_seconds_with_a_charger_gone_silent(tmp_path, env):
    """The charger's process is frozen (SIGSTOP): its socket stays open and answers nothing, not
    even the close frame. SIGTERM still ends the controller, its central system and the loop
    thread within seconds (the websockets library alone would wait 10 s for the close frame)."""
    url = f"ws://127.0.0.1:{env['SCC_OCPP__PORT']}/PLP1-123456"
    controller = start(["-m", "scc.cli", "controller"], env, tmp_path)
    pulsar = start(["-m", "sim.ocpp_cp", "--url", url], env, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not charger_rows(tmp_path / "scc.db") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert charger_rows(tmp_path / "scc.db"), "the charger never connected"
        pulsar.send_signal(signal.SIGSTOP)
        time.sleep(1.5)  # a cycle or two against the frozen charger
        sent = time.monotonic()
        controller.send_signal(signal.SIGTERM)
        rc, out = stop(controller)
        took_s = time.monotonic() - sent
    finally:
        pulsar.send_signal(signal.SIGCONT)
        rc_pulsar, _ = stop(pulsar)
    assert rc == 0 and took_s < 5.0, (took_s, out)
    assert "Signal 15: stopping" in out and "Controller stopped" in out
    assert "Traceback" not in out
    assert rc_pulsar == 0
