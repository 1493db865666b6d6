"""Fixtures for the toggle app tests: a settable clock and a seeded SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.store.sqlite import SqliteStore
from tests.toggle.helpers import FakeClock, seed


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "scc.db")
    seed(s, clock.now)
    yield s
    s.close()
