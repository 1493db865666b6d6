"""The on-disk spool: order, bound, restart, exact timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.spool import Spool, SpoolError
from common.models import Reading

T0 = datetime(2026, 5, 18, 10, 0, 0, 123456, tzinfo=UTC)


def readings(n: int, start: int = 0) -> list[Reading]:
    return [
        Reading(
            ts=T0 + timedelta(seconds=i),
            meter="5c2fafa1b2c3",
            active_power_w=-1000.0 - i,
            active_current_l1_a=1.5 if i % 2 else None,
        )
        for i in range(start, start + n)
    ]


def test_fifo_order_and_exact_round_trip(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(readings(3))
    spool.append(readings(2, start=3))
    assert len(spool) == 5
    got = spool.peek(10)
    assert [r for _, r in got] == readings(5)  # microseconds, nulls and meter survive
    spool.remove_through(got[2][0])
    assert len(spool) == 2
    assert [r for _, r in spool.peek(10)] == readings(2, start=3)
    spool.close()


def test_survives_a_restart(tmp_path):
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    spool.append(readings(4))
    spool.close()
    again = Spool(path)
    assert len(again) == 4
    assert [r for _, r in again.peek(10)] == readings(4)
    again.close()


def test_full_spool_drops_the_oldest(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite", max_readings=5)
    assert spool.append(readings(4)) == 0
    assert spool.append(readings(3, start=4)) == 2
    assert len(spool) == 5
    assert [r.active_power_w for _, r in spool.peek(10)] == [-1002, -1003, -1004, -1005, -1006]
    # A batch larger than the whole spool keeps its newest part: 5 old + 3 new are lost.
    assert spool.append(readings(8, start=7)) == 8
    assert [r.active_power_w for _, r in spool.peek(10)] == [-1010, -1011, -1012, -1013, -1014]
    assert len(spool) == 5
    spool.close()


def test_sequence_numbers_keep_growing_after_emptying(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(readings(2))
    last = spool.peek(10)[-1][0]
    spool.remove_through(last)
    spool.append(readings(1, start=2))
    assert spool.peek(1)[0][0] > last
    spool.close()


def test_a_directory_gets_a_file_inside(tmp_path):
    spool = Spool(tmp_path)
    assert spool.path == tmp_path / "collector-spool.sqlite"
    spool.close()


def test_unusable_path_is_a_spool_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SpoolError, match="cannot open spool"):
        Spool(blocker / "spool.sqlite")


def damage(path: Path) -> None:
    """Overwrite the middle of every page after the first two: a disk gone bad."""
    data = bytearray(path.read_bytes())
    for page in range(8192, len(data) - 4096, 4096):
        data[page + 100 : page + 400] = b"\xff" * 300
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["not a database", "malformed"])
def test_a_damaged_spool_is_moved_aside_and_a_fresh_one_used(tmp_path, caplog, kind):
    bad = tmp_path / "spool.sqlite"
    if kind == "not a database":
        bad.write_bytes(b"this is not sqlite" * 100)
    else:
        s = Spool(bad)
        s.append(readings(5000))
        s.close()
        damage(bad)
    before = bad.read_bytes()
    spool = Spool(bad)
    assert len(spool) == 0
    spool.append(readings(3))
    assert [r for _, r in spool.peek(10)] == readings(3)
    spool.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("spool.sqlite.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == before, "kept as it was, for a person"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and kind in warnings[0] and str(aside[0]) in warnings[0]
    assert "\n" not in warnings[0]
