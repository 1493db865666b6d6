"""``scc status`` reads what the other processes wrote, as text and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common.models import Action, ChargerState, Decision, Mode, Reading
from common.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[1]


def run_scc(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCC_STORE__SQLITE_PATH": str(db), "SCC_CONFIG": "", "TZ": "UTC"}
    return subprocess.run(
        [sys.executable, "-m", "scc.cli", *args],
        capture_output=True,
        text=True,
        cwd=db.parent,
        env={**env, "PYTHONPATH": str(REPO)},
        timeout=60,
    )


def seed(db: Path, now: datetime) -> None:
    """A minute of history; the decision lies in today's UTC day even just after midnight."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    decided = max(now - timedelta(seconds=30), midnight + timedelta(seconds=1))
    s = SqliteStore(db)
    s.write_readings(
        [Reading(ts=now - timedelta(seconds=i), active_power_w=-3000.0) for i in range(1, 100)]
    )
    s.set_mode(Mode.MIN_SOLAR, "phone", now - timedelta(minutes=5))
    s.write_decision(
        Decision(
            ts=decided,
            mode=Mode.MIN_SOLAR,
            action=Action.START,
            reason="surplus-start",
            target_a=6,
            grid_power_mean_w=-3000.0,
            surplus_w=3000.0,
        )
    )
    s.write_charger_state(
        ChargerState(
            ts=decided,
            charger_id="9988552",
            status_id=194,
            status="charging",
            current_a=6,
            power_w=4150.0,
        )
    )
    s.close()


def test_status_json_shows_what_was_written(tmp_path):
    db = tmp_path / "scc.db"
    seed(db, datetime.now(UTC))
    out = run_scc("status", "--json", db=db)
    assert out.returncode == 0, out.stderr
    st = json.loads(out.stdout)
    assert st["latest_reading"]["active_power_w"] == -3000.0
    assert st["grid_power_mean_w"] == -3000.0
    assert st["mode"]["mode"] == "min_solar" and st["mode"]["source"] == "phone"
    assert st["last_decision"]["action"] == "start"
    assert st["charger"]["status_id"] == 194
    assert st["today"]["starts"] == 1
    assert st["today"]["ev_kwh"] > 0


def test_status_text_on_an_empty_store(tmp_path):
    out = run_scc("status", db=tmp_path / "empty.db")
    assert out.returncode == 0, out.stderr
    assert "no reading yet" in out.stdout
    assert "solar (default, never set)" in out.stdout


def test_status_text_shows_the_cars_watts_per_amp_the_state_in_words_and_ocpp_mode():
    from common.models import ChargerState, Status
    from scc.cli import format_status

    now = datetime.now(UTC)
    charger = ChargerState(
        ts=now, charger_id="1", status_id=179, status="Scheduled", current_a=16.0, power_w=0.0,
        watts_per_amp=230.9, operation_mode="ocpp", refused="pause,resume",
    )  # fmt: skip
    st = Status(now=now, latest_reading=None, grid_power_mean_w=None, window_s=60.0, mode=None,
                last_decision=None, charger=charger, today=None)  # fmt: skip
    text = format_status(st)
    assert "Charger:   Scheduled (179), 16 A, 0 W, car 230.9 W/A" in text
    assert "Scheduled: a schedule set in the Wallbox app holds the car" in text
    assert "Problem:   The charger is in OCPP mode" in text
