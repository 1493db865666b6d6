"""``scc collector`` as a user runs it: --once, a clean stop on SIGTERM/SIGINT, bad config."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from collector.service import run_cli
from scc.cli import main
from sim.meter import Fault
from tests.fakes.p1_meter import SERIAL, TOKEN

ROOT = Path(__file__).resolve().parents[2]


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT ts_ms, meter, active_power_w FROM p1 ORDER BY ts_ms").fetchall()


def once() -> argparse.Namespace:
    return argparse.Namespace(once=True)


def test_once_polls_writes_and_prints(sim_meter, make_config, tmp_path, capsys):
    server = sim_meter()
    config = make_config(meter={"url": server.url})
    assert run_cli(config, once()) == 0
    out = capsys.readouterr().out
    assert out.startswith("P1: -4200 W (L1 -1420, L2 -1390, L3 -1390) at ")
    assert "montly_power_peak_w = 3560.0" in out
    assert [(m, p) for _, m, p in rows(tmp_path / "scc.db")] == [(SERIAL, -4200.0)]


def test_once_with_the_meter_down_fails_with_one_line(make_config, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = make_config(meter={"url": f"http://127.0.0.1:{port}"})
    assert run_cli(config, once()) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err == f"scc collector: meter: cannot reach http://127.0.0.1:{port}/api: connection refused"
    )


def test_once_with_api_disabled_says_how_to_fix_it(sim_meter, make_config, capsys):
    server = sim_meter()
    server.inject(Fault.API_DISABLED)
    assert run_cli(make_config(meter={"url": server.url}), once()) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and '"Local API"' in err


def test_once_with_the_store_down_spools_and_the_next_run_writes_both(
    sim_meter, make_config, tmp_path, capsys
):
    server = sim_meter()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the database directory should be")
    down = make_config(
        meter={"url": server.url},
        store={"backend": "sqlite", "sqlite_path": str(blocked / "scc.db")},
    )
    assert run_cli(down, once()) == 1
    err = capsys.readouterr().err
    assert "store unavailable" in err and "spool" in err
    time.sleep(0.01)  # two readings, two timestamps
    assert run_cli(make_config(meter={"url": server.url}), once()) == 0
    stored = rows(tmp_path / "scc.db")
    assert len(stored) == 2 and stored[0][0] < stored[1][0]


def test_once_v2_without_tls_verification_warns(sim_meter, pki, make_config, capsys, caplog):
    server = sim_meter(api="v2", tls=pki, token=TOKEN)
    config = make_config(
        meter={"url": server.url, "api": "v2", "token": TOKEN, "verify_tls": False}
    )
    assert run_cli(config, once()) == 0
    assert "-4200 W" in capsys.readouterr().out
    assert any("verify_tls is false" in r.getMessage() for r in caplog.records)


def test_v2_without_a_token_is_a_config_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"meter": {"api": "v2", "url": "https://192.0.2.1"}}))
    assert main(["collector", "--config", str(cfg), "--once"]) == 2
    assert "meter.token is required" in capsys.readouterr().err


def test_poll_interval_below_half_a_second_is_refused(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"meter": {"poll_interval_s": 0.2}}))
    assert main(["collector", "--config", str(cfg)]) == 2
    assert "meter.poll_interval_s must be at least 0.5" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_flushes_and_exits_0(sim_meter, tmp_path, sig):
    server = sim_meter()
    db = tmp_path / "scc.db"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "meter": {
                    "url": server.url,
                    "poll_interval_s": 0.5,
                    "spool_path": str(tmp_path / "spool.sqlite"),
                },
                "store": {"sqlite_path": str(db)},
                "logging": {"level": "DEBUG"},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCC_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", "--config", str(cfg)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while server.requests["/api/v1/data"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.requests["/api/v1/data"] >= 3, "the collector did not poll"
        # The writer flushes every 2 s: most readings are still pending when the signal comes.
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
    assert proc.returncode == 0, stderr
    served = server.requests["/api/v1/data"]
    assert len(rows(db)) == served, stderr
    assert f"stopped: {served} readings written" in stderr
    assert "P1: -4200 W (L1 -1420, L2 -1390, L3 -1390)" in stderr  # debug lines
    assert "Traceback" not in stderr


def test_a_damaged_spool_is_moved_aside_and_the_collector_starts(sim_meter, tmp_path, capsys):
    """Under restart: unless-stopped, exit 2 on a damaged spool would be a crash loop for ever."""
    server = sim_meter()
    spool = tmp_path / "spool.sqlite"
    spool.write_bytes(b"\x00garbage, not a database" * 200)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "meter": {"url": server.url, "spool_path": str(spool)},
                "store": {"sqlite_path": str(tmp_path / "scc.db")},
            }
        )
    )
    assert main(["collector", "--config", str(cfg), "--once"]) == 0
    err = capsys.readouterr().err
    assert "is damaged (file is not a database): moved aside to" in err
    assert len(rows(tmp_path / "scc.db")) == 1
    assert [p.name.split("-")[0] for p in tmp_path.glob("spool.sqlite.damaged-*")] == [
        "spool.sqlite.damaged"
    ]
