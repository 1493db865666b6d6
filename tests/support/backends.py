"""Store backends for the one contract suite (tests/test_store_contract.py).

A Backend opens fresh Store instances on the same data (to test what survives a reopen) and
counts stored points behind the store's back (to test that a point written twice is stored once).
The contract module builds SQLite and fake-InfluxDB backends; tests/live builds a real-InfluxDB one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common.store import Store
from common.store.influx import InfluxStore
from common.store.sqlite import SqliteStore
from tests.fakes.influxdb import FakeInfluxDB


@dataclass
class Backend:
    name: str
    open: Callable[[], Store]
    #: Stored points of a measurement: one per series and timestamp, whatever was written.
    count: Callable[[str], int]
    _opened: list[Store] = field(default_factory=list)

    def open_tracked(self) -> Store:
        store = self.open()
        self._opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self._opened:
            store.close()


def sqlite_backend(path: Path) -> Backend:
    def count(measurement: str) -> int:
        with sqlite3.connect(path) as db:
            return db.execute(f"SELECT COUNT(*) FROM {measurement}").fetchone()[0]

    return Backend("sqlite", lambda: SqliteStore(path), count)


def fake_influx_backend(fake: FakeInfluxDB, bucket: str = "solar") -> Backend:
    fake.create_bucket(bucket)
    return Backend(
        "influx-fake",
        lambda: InfluxStore(
            url=fake.url, token=fake.token, org=fake.org, bucket=bucket, timeout_s=5
        ),
        lambda measurement: len(fake.points(bucket, measurement)),
    )


def live_influx_backend(url: str, token: str, org: str, bucket: str) -> Backend:
    """A real InfluxDB 2; counting uses a test-only Flux query, outside the store's code."""
    from influxdb_client import InfluxDBClient

    def count(measurement: str) -> int:
        with InfluxDBClient(url=url, token=token, org=org, timeout=30_000) as client:
            tables = client.query_api().query(
                "from(bucket: b) |> range(start: 0) |> filter(fn: (r) => r._measurement == m)",
                params={"b": bucket, "m": measurement},
            )
        seen = set()
        for table in tables:
            for rec in table.records:
                tags = tuple(
                    sorted(
                        (k, v)
                        for k, v in rec.values.items()
                        if not k.startswith("_") and k not in ("result", "table")
                    )
                )
                seen.add((tags, rec.get_time()))
        return len(seen)

    return Backend(
        "influx-live",
        lambda: InfluxStore(url=url, token=token, org=org, bucket=bucket, timeout_s=30),
        count,
    )
