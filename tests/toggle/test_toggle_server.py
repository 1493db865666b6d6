"""``scc toggle`` as a user starts it: a real process serving with waitress on a loopback port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from toggle_app.address import listening_text
from toggle_app.server import CHANNEL_TIMEOUT_S, CLEANUP_INTERVAL_S, CONNECTION_LIMIT

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scc.cli", "toggle", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout_s: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"scc toggle exited early: {proc.communicate()[1]}"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                assert r.headers["Server"] == "scc"
                return json.load(r)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url}/healthz within {timeout_s} s")


def test_scc_toggle_serves_with_waitress_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"store:\n  sqlite_path: {tmp_path / 'scc.db'}\n"
        f"toggle_app:\n  host: 127.0.0.1\n  port: {port}\n  password: s3cret-phone\n"
    )
    proc = start(config)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_healthy(base, proc) == {"ok": True, "store": "sqlite"}
        req = urllib.request.Request(
            base + "/api/mode",
            data=b'{"mode": "manual"}',
            headers={"Content-Type": "application/json", "Authorization": "Bearer s3cret-phone"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.load(r)["effective_mode"] == "manual"
        # A second server on the same port fails with one clear line and exit code 2.
        second = start(config)
        _, err = second.communicate(timeout=20)
        assert second.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "s3cret-phone" not in err
    assert f"serving the phone page on http://127.0.0.1:{port}/\n" in err
    # The mode lives in the store: a fresh process reads it back.
    out = subprocess.run(
        [sys.executable, "-m", "scc.cli", "status", "--json", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert json.loads(out.stdout)["mode"]["mode"] == "manual"
    assert json.loads(out.stdout)["mode"]["source"] == "api:127.0.0.1"


def test_idle_connections_are_closed_so_the_health_check_gets_through(tmp_path):
    """A hundred connections opened and left idle (half-open, or a request line never finished)
    fill waitress's connection limit; with waitress's defaults /healthz then hangs for 2-2.5 min.
    The server closes idle connections after CHANNEL_TIMEOUT_S, so it answers within seconds."""
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"store:\n  sqlite_path: {tmp_path / 'scc.db'}\n"
        f"toggle_app:\n  host: 127.0.0.1\n  port: {port}\n"
    )
    proc = start(config)
    idle: list[socket.socket] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)
        for i in range(CONNECTION_LIMIT + 5):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            idle.append(s)
        time.sleep(1)  # let the server accept them
        started = time.monotonic()
        limit_s = CHANNEL_TIMEOUT_S + CLEANUP_INTERVAL_S + 5
        with urllib.request.urlopen(base + "/healthz", timeout=limit_s) as r:
            assert json.load(r) == {"ok": True, "store": "sqlite"}
        took_s = time.monotonic() - started
        assert took_s < limit_s
        # The idle ones were closed by the server: reading gives end-of-file, not a timeout.
        closed = 0
        for s in idle[: CONNECTION_LIMIT - 10]:
            s.settimeout(limit_s)
            try:
                closed += s.recv(1024) == b""
            except ConnectionResetError:
                closed += 1
        assert closed == CONNECTION_LIMIT - 10
    finally:
        for s in idle:
            s.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    ("host", "lan", "text"),
    [
        ("127.0.0.1", "192.168.1.20", "http://127.0.0.1:8080/"),
        ("192.168.1.20", None, "http://192.168.1.20:8080/"),
        ("::1", None, "http://[::1]:8080/"),
        (
            "0.0.0.0",
            "192.168.1.20",
            "http://192.168.1.20:8080/ (listening on 0.0.0.0; "
            "`hostname -I` shows this machine's addresses)",
        ),
        (
            "::",
            None,
            "http://<this machine's address>:8080/ (listening on ::; "
            "`hostname -I` shows this machine's addresses)",
        ),
    ],
)
def test_the_start_up_line_names_an_address_a_phone_can_open(host, lan, text):
    assert listening_text(host, 8080, lan) == text
