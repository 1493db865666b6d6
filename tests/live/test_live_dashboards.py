"""Every dashboard query, as Grafana would send it, returns rows on a real InfluxDB 2.

Runs only in the live suite (INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG): the offline checks prove the
queries type-check, this proves they find the data the collector and controller write.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from influxdb_client import InfluxDBClient

from tests.support.dashboard_queries import DashboardQuery, dashboard_queries, interpolate_macros

QUERIES = dashboard_queries()


@pytest.mark.parametrize("q", QUERIES, ids=[q.name for q in QUERIES])
def test_every_dashboard_query_returns_rows_on_a_sample_day(
    q: DashboardQuery, live_influx, live_bucket, live_sample_day
) -> None:
    # The whole sample day, whatever the panel's own range ("today" would be empty just after
    # midnight): the point is that the query finds the measurements and fields it names.
    text = interpolate_macros(
        q.query,
        start=live_sample_day.start,
        stop=live_sample_day.stop,
        window_period=timedelta(minutes=1),
        bucket=live_bucket,
        org=live_influx.org,
    )
    with InfluxDBClient(
        url=live_influx.url, token=live_influx.token, org=live_influx.org, timeout=60_000
    ) as client:
        tables = client.query_api().query(text, org=live_influx.org)
    rows = [record for table in tables for record in table.records]
    assert rows, f"{q.name}: no rows on the sample day\n{text}"
