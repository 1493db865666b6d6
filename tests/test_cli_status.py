"""``scc status`` reads what the other processes wrote, as text and as JSON."""

from __future__ import annotations

import json
import os
import re
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


def test_status_shows_the_store_size_and_the_span_it_holds(tmp_path):
    """Ten days at one reading a minute: after the retention ran, the first three are minute
    means and the last seven 1 s readings; status says so, with the file's size."""
    db = tmp_path / "scc.db"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(days=10)
    s = SqliteStore(db)
    s.write_readings(
        [Reading(ts=start + timedelta(minutes=m), active_power_w=100.0) for m in range(14400)]
    )
    assert s.prune(now, budget_s=60) is False
    s.close()
    out = run_scc("status", db=db)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"Store:     SQLite {db.resolve()}"
    store_line, span_line = lines[-2:]
    m = re.fullmatch(
        r"Size:      ([\d.]+) MB; "
        "1 s readings for 7 days, then 1-minute means for 730 days",
        store_line,
    )
    assert m, store_line
    # The file, and the write-ahead log it had while status read it (gone once it closed).
    assert db.stat().st_size / 1e6 - 0.1 <= float(m[1]) <= db.stat().st_size / 1e6 + 5

    def utc(ts: datetime) -> str:
        return ts.strftime("%Y-%m-%d %H:%M UTC")

    raw_since = now - timedelta(days=7)
    assert span_line == (
        f"Readings:  {utc(start)} to {utc(now - timedelta(minutes=1))} "
        f"(1-minute means before {utc(raw_since)}, 1 s after)"
    )
    st = json.loads(run_scc("status", "--json", db=db).stdout)["store_info"]
    assert st["size_bytes"] > 0 and st["raw_since"] == raw_since.isoformat().replace("+00:00", "Z")


def test_status_of_an_empty_store_says_it_holds_no_readings(tmp_path):
    SqliteStore(tmp_path / "empty.db").close()
    out = run_scc("status", db=tmp_path / "empty.db")
    assert out.stdout.splitlines()[-1] == "Readings:  none"
    assert out.stdout.splitlines()[-2].endswith(
        "MB; 1 s readings for 7 days, then 1-minute means for 730 days"
    )


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
