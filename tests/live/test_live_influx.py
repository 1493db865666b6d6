"""The store contract against a real InfluxDB 2 (see conftest.py for the settings).

The contract's test functions are reused, not copied: importing them here collects them again
under this module, where the ``backend`` fixture of tests/live/conftest.py gives them a real
InfluxDB bucket instead of SQLite and the fake.
"""

from __future__ import annotations

import pytest

from common.store import flux
from tests import test_store_contract as contract
from tests.live.conftest import LiveInflux
from tests.support.backends import Backend
from tests.support.sample_day import SampleDay
from tests.test_store_contract import store, t0  # noqa: F401  (fixtures the contract tests use)

globals().update({name: f for name, f in vars(contract).items() if name.startswith("test_")})


def test_the_sample_day_fixture_writes_a_day_that_the_store_reads_back(
    live_sample_day: SampleDay, backend: Backend
) -> None:
    day = live_sample_day
    assert backend.count("p1") == len(day.readings)
    assert backend.count("charger") == len(day.charger_states)
    assert backend.count("decision") == len(day.decisions)
    influx = backend.open_tracked()
    summary = influx.energy_summary(day.start, day.stop)
    ev_kwh, solar_kwh = day.ev_kwh_and_solar_kwh
    assert summary.ev_kwh == pytest.approx(ev_kwh)
    assert summary.ev_solar_kwh == pytest.approx(solar_kwh)
    assert summary.starts == day.starts
    assert influx.latest_reading(day.stop) == day.readings[-1]


def test_every_store_query_runs_on_the_real_server(
    live_sample_day: SampleDay, live_influx: LiveInflux, live_bucket: str
) -> None:
    """Each of the store's queries, with the store's bind parameters, answers rows."""
    from influxdb_client import InfluxDBClient

    day = live_sample_day
    params = flux.bind_params(live_bucket, day.start, day.stop)
    with InfluxDBClient(url=live_influx.url, token=live_influx.token, org=live_influx.org) as c:
        for name, query in flux.QUERIES.items():
            tables = c.query_api().query(query, params=params)
            assert sum(len(t.records) for t in tables) > 0, name
