"""``scc demo`` as a user runs it: a real process, fast simulated time, the phone page on a port."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.lines import Lines

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """The demo process with its merged output collected line by line."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        cfg = tmp_path / "empty.yaml"
        cfg.write_text("{}\n")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scc.cli", "demo", "--config", str(cfg), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log = Lines(self.proc, self.proc.stdout)

    def wait_for(self, pattern: str, timeout_s: float = 20.0) -> re.Match[str]:
        return self.log.wait_for(pattern, timeout_s)

    def output(self) -> str:
        return self.log.output()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def measured_status(url: str, timeout_s: float) -> dict:
    """The status once its charger point carries the currents the charger measured."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = get_json(url)
        if status["charger"].get("current_l1_a") is not None or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def post_mode(base: str, mode: str) -> dict:
    req = urllib.request.Request(
        base + "/api/mode",
        data=json.dumps({"mode": mode}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def test_demo_runs_the_system_serves_the_phone_page_obeys_the_switch_and_stops_on_sigterm(
    tmp_path,
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = Demo(tmp_path, "--speed", "150", "--port", str(port), "--duration", "60")
    try:
        db = demo.wait_for(r"store:\s+(\S+scc\.db)").group(1)
        demo.wait_for(rf"phone page:\s+http://127\.0\.0\.1:{port}/")
        # The controller starts the car from the simulated sun, through the simulated cloud.
        demo.wait_for(r"Sufficient power: -\d+ W\. Start charging at \d+ A")
        demo.wait_for(r"Wallbox: \d+ A - P1 .* mode: solar -> (hold|adjust)")

        status = get_json(base + "/api/status")
        assert status["mode"] is None or status["mode"]["mode"] == "solar"
        assert status["latest_reading"]["active_power_w"] is not None
        assert status["charger"]["status"] == "Charging" and status["charger"]["power_w"] > 4000
        assert status["last_decision"]["reason"] in {
            "hold", "surplus-adjust", "dip-hold-min", "settling", "stop-delay", "surplus-start"
        }  # fmt: skip
        with urllib.request.urlopen(base + "/", timeout=5) as r:
            page = r.read().decode()
        assert r.status == 200 and "Solar charging" in page

        # Switching the phone to Off (manual) hands the charger back at the next cycle.
        assert post_mode(base, "manual")["mode"]["mode"] == "manual"
        demo.wait_for(r"Manual mode: handing the charger back")
        demo.wait_for(r"mode: manual -> none \d+ A \(manual\)")

        # The decisions are in the store the page reads (a SQLite file in a temporary folder).
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT action, reason FROM decision").fetchall()
            readings, span_ms = con.execute(
                "SELECT COUNT(*), MAX(ts_ms) - MIN(ts_ms) FROM p1"
            ).fetchone()
        finally:
            con.close()
        assert ("start", "surplus-start") in rows and ("release", "manual-release") in rows
        # Polled over HTTP all along: readings span the simulated minutes the demo ran. At 150 x
        # real time a poll is due every 7 ms, so a busy machine skips some (the collector keeps
        # its cadence by skipping, never by bunching), hence a floor below one per second.
        assert span_ms > 180_000 and readings > span_ms / 1000 / 4

        demo.proc.send_signal(signal.SIGTERM)
        assert demo.proc.wait(20) == 0
        demo.wait_for(r"Demo stopped at \d\d:\d\d \(simulated\): the car took \d+\.\d\d kWh")
        assert "Traceback" not in demo.output()
        assert not Path(db).exists()  # the temporary folder is gone
    finally:
        demo.stop()


def test_demo_duration_ends_it_and_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        demo = Demo(tmp_path, "--port", str(port), "--duration", "5")
        try:
            assert demo.proc.wait(20) == 2
            demo.wait_for(rf"scc demo: cannot listen on 127\.0\.0\.1:{port}: .* \(try --port\)")
        finally:
            demo.stop()
    demo = Demo(tmp_path, "--speed", "50", "--port", str(free_port()), "--duration", "3")
    try:
        assert demo.proc.wait(20) == 0
        demo.wait_for(r"Demo stopped at")
        demo.wait_for(r"controller: Wallbox: paused - P1")  # cycles ran in those 3 s
    finally:
        demo.stop()


def test_demo_with_local_control_starts_the_car_over_ocpp(tmp_path):
    """``--charger ocpp``: the simulated Pulsar connects to the controller's central system,
    the controller cycles every 10 s and starts the car with a remote start."""
    port = free_port()
    demo = Demo(tmp_path, "--charger", "ocpp", "--speed", "40", "--port", str(port))
    try:
        demo.wait_for(r"simulated charger:\s+Pulsar on OCPP at ws://127\.0\.0\.1:\d+/sim-pulsar")
        demo.wait_for(r"a controller cycle of 10 s every 0\.2 s")
        demo.wait_for(r"Charge point sim-pulsar booted: Wall Box Chargers")
        demo.wait_for(r"Sufficient power: -\d+ W\. Start charging at \d+ A", timeout_s=40)
        demo.wait_for(r"Wallbox: \d+ A - P1 \(20 s mean\)", timeout_s=20)
        # A point written in the seconds after a new limit, before a sample shows it, carries no
        # measured currents (an estimate); the next sample's point does.
        status = measured_status(f"http://127.0.0.1:{port}/api/status", timeout_s=20)
        assert status["charger"]["link"] == "ocpp" and status["charger"]["firmware"] == "6.7.38"
        assert status["charger"]["status"] == "Charging"
        assert status["charger"]["current_l1_a"] > 5
        demo.proc.send_signal(signal.SIGTERM)
        assert demo.proc.wait(20) == 0
        demo.wait_for(r"Demo stopped at .* \d+ OCPP calls")
        assert "Traceback" not in demo.output()
    finally:
        demo.stop()


def test_a_speed_of_zero_is_refused_not_replaced_by_the_default(tmp_path):
    demo = Demo(tmp_path, "--speed", "0", "--duration", "3")
    try:
        assert demo.proc.wait(20) == 2
        demo.wait_for(r"scc demo: --speed must be above 0 and at most 1000")
    finally:
        demo.stop()
