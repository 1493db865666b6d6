"""The real controller process against a Wallbox cloud that never finishes an answer (issue 11,
item 9): every request has a total deadline, and SIGTERM stops the process within seconds even
while a request hangs. A real ``python -m controller`` and a real loopback server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.controller.ctl_helpers import trickling_server

ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path: Path, url: str, timeout_s: float, *extra: str) -> subprocess.Popen[str]:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"store:\n  sqlite_path: {tmp_path / 'scc.db'}\n"
        f"wallbox:\n  username: u@example.com\n  password: pw\n  charger_id: '9988552'\n"
        f"  api_url: {url}\n  auth_url: {url}\n  timeout_s: {timeout_s}\n"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "controller", "--config", str(cfg), *extra],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )


def test_sigterm_stops_the_controller_during_a_hung_sign_in(tmp_path):
    srv, done, asked = trickling_server()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}/"
    proc = start(tmp_path, url, 30)  # a 31 s deadline: only SIGTERM can end it this soon
    try:
        assert asked.wait(20), "the controller never asked"
        time.sleep(1.0)  # well inside the trickling sign-in
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=15)
        took_s = time.monotonic() - sent
    finally:
        done.set()
        srv.close()
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read() if proc.stderr else ""
    assert rc == 0, err
    assert took_s < 3.0, err
    assert "abandoned: stopping" in err and "Controller stopped" in err
    assert "Traceback" not in err


def test_once_against_a_trickling_sign_in_ends_at_the_deadline(tmp_path):
    srv, done, _ = trickling_server()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}/"
    started = time.monotonic()
    proc = start(tmp_path, url, 3, "--once")
    try:
        rc = proc.wait(timeout=30)
        took_s = time.monotonic() - started
    finally:
        done.set()
        srv.close()
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read() if proc.stderr else ""
    assert rc == 1, err  # the cycle failed: the charger was not reached
    assert took_s < 10.0, err  # 4 s of deadline and the start-up; it was more than 50 s
    assert "no whole answer within 4 s" in err and "Traceback" not in err
