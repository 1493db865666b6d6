"""The heartbeat file and its check, as Docker's HEALTHCHECK runs it (a separate process)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.heartbeat import check, heartbeat_age_s, write_heartbeat

T0 = datetime(2026, 5, 18, 12, 0, 0, tzinfo=UTC)


def run_check(path: Path | str, max_age: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "common.heartbeat", str(path), max_age],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_write_then_age_with_an_injected_clock(tmp_path: Path) -> None:
    path = tmp_path / "run" / "heartbeat"  # the parent is created
    assert write_heartbeat(path, T0) is True
    assert heartbeat_age_s(path, T0.timestamp() + 12.5) == pytest.approx(12.5)
    write_heartbeat(path, T0 + timedelta(seconds=60))  # a newer beat replaces the old one
    assert heartbeat_age_s(path, T0.timestamp() + 61) == pytest.approx(1.0)
    assert [p.name for p in path.parent.iterdir()] == ["heartbeat"]  # no temp file left


def test_fresh_and_stale_against_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    write_heartbeat(path, T0)
    now = T0.timestamp()
    assert check(str(path), 30, now + 30) == (True, "ok: last heartbeat 30 s ago")
    healthy, line = check(str(path), 30, now + 30.5)
    assert not healthy and line == "unhealthy: last heartbeat 30 s ago (limit 30 s)"
    assert check(str(path), 300, now + 299)[0]
    # A writer clock slightly ahead of the checker's is still a fresh beat.
    assert check(str(path), 30, now - 2) == (True, "ok: last heartbeat 0 s ago")


def test_no_path_writes_nothing_and_a_failed_write_does_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert write_heartbeat(None, T0) is False
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a directory should be", encoding="ascii")
    with caplog.at_level("WARNING", logger="common.heartbeat"):
        assert write_heartbeat(blocked / "heartbeat", T0) is False
        assert write_heartbeat(blocked / "heartbeat", T0) is False  # logged once, not per beat
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(f"cannot write heartbeat {blocked}")
    assert write_heartbeat(tmp_path / "heartbeat", T0) is True


def test_naive_timestamps_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="naive"):
        write_heartbeat(tmp_path / "heartbeat", datetime(2026, 5, 18, 12, 0))


def test_docker_healthcheck_command_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    missing = run_check(path, "30")
    assert (missing.returncode, missing.stdout.strip()) == (
        1,
        f"unhealthy: {path}: no heartbeat yet",
    )

    write_heartbeat(path, datetime.now(UTC))
    fresh = run_check(path, "30")
    assert fresh.returncode == 0 and fresh.stdout.startswith("ok: last heartbeat")

    write_heartbeat(path, datetime.fromtimestamp(time.time() - 100, UTC))
    stale = run_check(path, "30")
    assert stale.returncode == 1
    assert re.fullmatch(
        r"unhealthy: last heartbeat 10\d s ago \(limit 30 s\)", stale.stdout.strip()
    )


@pytest.mark.parametrize("content", ["", "garbage", "12:00"])
def test_an_unreadable_heartbeat_is_unhealthy(tmp_path: Path, content: str) -> None:
    path = tmp_path / "heartbeat"
    path.write_text(content, encoding="ascii")
    result = run_check(path, "30")
    assert result.returncode == 1
    assert result.stdout.startswith(f"unhealthy: {path}: not a heartbeat")


@pytest.mark.parametrize(
    "args", [[], ["/tmp/x"], ["/tmp/x", "soon"], ["/tmp/x", "nan"], ["/tmp/x", "-5"]]
)
def test_a_broken_healthcheck_line_never_reports_healthy(args: list[str]) -> None:
    # Exit 1, not 2: Docker reserves 2, and a misconfigured check must not pass.
    result = subprocess.run(
        [sys.executable, "-m", "common.heartbeat", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "usage: python -m common.heartbeat PATH MAX_AGE_S" in result.stderr
