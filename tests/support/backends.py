"""Store backends for the one contract suite (tests/test_store_contract.py).

A Backend opens fresh Store instances on the same data (to test what survives a reopen), counts
stored points behind the store's back (to test that a point written twice is stored once), opens
a store on a clock of the test's (``open_at``) and applies retention at a given time as the
backend would (``expire``: InfluxDB deletes what is older than its bucket keeps, SQLite prunes).
The contract module builds SQLite and fake-InfluxDB backends; tests/live builds a real-InfluxDB one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    #: A store whose "now" is the given clock.
    open_at: Callable[[Callable[[], datetime]], Store]
    #: Retention as the backend applies it, at ``now``, for data older than ``before``.
    expire: Callable[[datetime, datetime], None]
    _opened: list[Store] = field(default_factory=list)

    def open_tracked(self, clock: Callable[[], datetime] | None = None) -> Store:
        store = self.open() if clock is None else self.open_at(clock)
        self._opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self._opened:
            store.close()


def sqlite_backend(path: Path) -> Backend:
    def count(measurement: str) -> int:
        with sqlite3.connect(path) as db:
            return db.execute(f"SELECT COUNT(*) FROM {measurement}").fetchone()[0]

    def expire(now: datetime, before: datetime) -> None:
        store = SqliteStore(path)
        try:
            while store.prune(now, budget_s=10):
                pass
        finally:
            store.close()

    return Backend(
        "sqlite", lambda: SqliteStore(path), count, lambda clock: SqliteStore(path), expire
    )


def fake_influx_backend(fake: FakeInfluxDB, bucket: str = "solar") -> Backend:
    fake.create_bucket(bucket)

    def open_at(clock: Callable[[], datetime]) -> Store:
        return InfluxStore(
            url=fake.url, token=fake.token, org=fake.org, bucket=bucket, timeout_s=5, clock=clock
        )

    return Backend(
        "influx-fake",
        lambda: open_at(lambda: datetime.now(UTC)),
        lambda measurement: len(fake.points(bucket, measurement)),
        open_at,
        lambda now, before: fake.expire(_ns(before), bucket),
    )


def _ns(ts: datetime) -> int:
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


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

    def open_at(clock: Callable[[], datetime]) -> Store:
        return InfluxStore(url=url, token=token, org=org, bucket=bucket, timeout_s=30, clock=clock)

    def expire(now: datetime, before: datetime) -> None:
        with InfluxDBClient(url=url, token=token, org=org, timeout=30_000) as client:
            client.delete_api().delete(
                datetime(1970, 1, 1, tzinfo=UTC), before, "", bucket=bucket, org=org
            )

    return Backend(
        "influx-live",
        lambda: open_at(lambda: datetime.now(UTC)),
        count,
        open_at,
        expire,
    )
