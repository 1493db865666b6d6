"""The live InfluxDB 2 suite: runs only when INFLUX_URL, INFLUX_TOKEN and INFLUX_ORG are set.

Every test under tests/live is marked ``live``. Fixtures:

- ``live_influx``: the connection settings; skips the test (the one allowed skip) when unset,
  unless SCC_REQUIRE_LIVE=1 (CI sets it, so a lost variable fails instead of going green), and
  fails when set but InfluxDB does not answer /health.
- ``live_bucket``: a bucket for one test. With INFLUX_BUCKET set, that bucket, emptied before
  the test (use a bucket meant for tests, with infinite retention); else a new bucket with a
  unique name, deleted after the test.
- ``backend``: the store contract's backend on that bucket (tests/support/backends.py).
- ``live_sample_day``: writes tests/support/sample_day.py's day (10 s readings, 60 s cycles,
  ending an hour ago) into the live bucket through InfluxStore and returns it, for tests such as
  "every dashboard query returns rows on sample data"; ``live_bucket`` tells which bucket.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.support.backends import Backend, live_influx_backend
from tests.support.sample_day import SampleDay, sample_day

LIVE_DIR = Path(__file__).parent
REQUIRED = ("INFLUX_URL", "INFLUX_TOKEN", "INFLUX_ORG")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if LIVE_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.live)


@dataclass(frozen=True)
class LiveInflux:
    url: str
    token: str
    org: str
    bucket: str | None


@pytest.fixture(scope="session")
def live_influx() -> LiveInflux:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing and os.environ.get("SCC_REQUIRE_LIVE") == "1":
        pytest.fail(f"SCC_REQUIRE_LIVE=1 but {', '.join(missing)} not set")
    if missing:
        pytest.skip(
            f"live InfluxDB suite: {', '.join(missing)} not set (set INFLUX_URL, INFLUX_TOKEN "
            "and INFLUX_ORG, and optionally INFLUX_BUCKET, to run it on a real InfluxDB 2)"
        )
    live = LiveInflux(
        url=os.environ["INFLUX_URL"].rstrip("/"),
        token=os.environ["INFLUX_TOKEN"],
        org=os.environ["INFLUX_ORG"],
        bucket=os.environ.get("INFLUX_BUCKET") or None,
    )
    try:
        health = requests.get(f"{live.url}/health", timeout=10)
    except requests.RequestException as e:
        pytest.fail(f"INFLUX_URL={live.url}: InfluxDB does not answer /health: {e}")
    if health.status_code != 200:
        pytest.fail(f"INFLUX_URL={live.url}: /health answered HTTP {health.status_code}")
    return live


@pytest.fixture
def live_bucket(live_influx: LiveInflux):
    from influxdb_client import InfluxDBClient

    with InfluxDBClient(
        url=live_influx.url, token=live_influx.token, org=live_influx.org, timeout=30_000
    ) as client:
        if live_influx.bucket:
            client.delete_api().delete(
                start=datetime(1970, 1, 1, tzinfo=UTC),
                stop=datetime(2100, 1, 1, tzinfo=UTC),
                predicate="",
                bucket=live_influx.bucket,
                org=live_influx.org,
            )
            yield live_influx.bucket
            return
        name = f"scc-test-{uuid.uuid4().hex[:12]}"
        bucket = client.buckets_api().create_bucket(bucket_name=name, org=live_influx.org)
        try:
            yield name
        finally:
            client.buckets_api().delete_bucket(bucket)


@pytest.fixture
def backend(live_influx: LiveInflux, live_bucket: str):
    b: Backend = live_influx_backend(
        live_influx.url, live_influx.token, live_influx.org, live_bucket
    )
    yield b
    b.close_all()


@pytest.fixture
def live_sample_day(backend: Backend) -> SampleDay:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, hours=1)
    day = sample_day(start)
    store = backend.open_tracked()
    day.write_to(store)
    return day
