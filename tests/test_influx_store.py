"""InfluxStore when InfluxDB is down, failing, slow or misconfigured: always StoreError (so the
collector spools and the controller treats the data as stale), never another exception; and the
same store instance works again once InfluxDB is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from common.models import Action, ChargerState, Decision, Mode, Reading
from common.store import StoreError
from common.store.influx import InfluxStore
from tests.fakes.influxdb import FakeInfluxDB

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

CALLS: dict[str, Callable[[InfluxStore], object]] = {
    "write_readings": lambda s: s.write_readings([Reading(ts=T0, active_power_w=1.0)]),
    "grid_power_mean": lambda s: s.grid_power_mean(120, T0),
    "latest_reading": lambda s: s.latest_reading(T0),
    "write_charger_state": lambda s: s.write_charger_state(
        ChargerState(
            ts=T0, charger_id="c", status_id=194, status="Charging", current_a=6.0, power_w=4140.0
        )
    ),
    "write_decision": lambda s: s.write_decision(
        Decision(ts=T0, mode=Mode.SOLAR, action=Action.HOLD, reason="hold", target_a=6)
    ),
    "set_mode": lambda s: s.set_mode(Mode.MANUAL, "phone", T0),
    "get_mode": lambda s: s.get_mode(),
    "last_decision": lambda s: s.last_decision(),
    "last_charger_state": lambda s: s.last_charger_state(),
    "energy_summary": lambda s: s.energy_summary(T0 - timedelta(hours=1), T0),
    "power_series": lambda s: s.power_series(T0 - timedelta(hours=1), T0, 60),
}


@pytest.fixture
def fake():
    with FakeInfluxDB() as f:
        yield f


def store_on(fake: FakeInfluxDB, **kw) -> InfluxStore:
    args = {"url": fake.url, "token": fake.token, "org": fake.org, "bucket": "solar"} | kw
    return InfluxStore(timeout_s=args.pop("timeout_s", 5), **args)


@pytest.mark.parametrize("call", CALLS)
def test_influxdb_down_is_a_store_error(fake, call: str) -> None:
    store = store_on(fake)
    CALLS[call](store)  # works while up (and opens a kept-alive connection)
    fake.stop()
    with pytest.raises(StoreError, match=rf"InfluxDB {fake.url} .*failed"):
        CALLS[call](store)


@pytest.mark.parametrize("status", [503, 500])
@pytest.mark.parametrize("call", CALLS)
def test_influxdb_failing_is_a_store_error_naming_the_status(fake, call: str, status: int) -> None:
    store = store_on(fake)
    fake.fail(status)
    with pytest.raises(StoreError, match=rf"HTTP {status}"):
        CALLS[call](store)
    assert fake.points() == []


@pytest.mark.parametrize("call", CALLS)
def test_a_garbage_answer_is_a_store_error(fake, call: str) -> None:
    store = store_on(fake)
    fake.fail(200, b"<html><body>Captive portal: please log in</body></html>")
    try:
        CALLS[call](store)
    except StoreError:
        pass
    else:  # writes only need a 2xx; every query must notice it got no tables
        assert call.startswith(("write_", "set_")), f"{call} accepted a garbage answer"


def test_an_error_streamed_in_the_csv_answer_is_a_store_error(fake) -> None:
    error_table = (
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n"
        ",error,reference\r\n,runtime error @3:6-3:61: filter: out of memory,\r\n\r\n"
    )
    fake.fail(200, error_table.encode(), "text/csv; charset=utf-8")
    with pytest.raises(StoreError, match="out of memory"):
        store_on(fake).grid_power_mean(120, T0)


def test_a_wrong_token_or_bucket_is_a_store_error_naming_it(fake) -> None:
    with pytest.raises(StoreError, match=r"HTTP 401 .*unauthorized access"):
        CALLS["write_readings"](store_on(fake, token="wrong"))
    with pytest.raises(StoreError, match=r'HTTP 404 .*bucket \\"nope\\" not found'):
        CALLS["write_readings"](store_on(fake, bucket="nope"))
    with pytest.raises(StoreError, match=r"HTTP 404 .*could not find bucket"):
        CALLS["grid_power_mean"](store_on(fake, bucket="nope"))


def test_a_hung_influxdb_is_a_store_error_within_the_timeout(fake) -> None:
    store = store_on(fake, timeout_s=0.3)
    fake.delay(2.0)
    for call in ("write_readings", "grid_power_mean"):
        started = time.monotonic()
        with pytest.raises(StoreError):
            CALLS[call](store)
        assert time.monotonic() - started < 1.5


def test_the_same_store_works_again_after_an_outage(fake) -> None:
    store = store_on(fake)
    store.write_readings([Reading(ts=T0 - timedelta(seconds=10), active_power_w=100.0)])
    fake.stop()
    with pytest.raises(StoreError):
        store.write_readings([Reading(ts=T0 - timedelta(seconds=5), active_power_w=300.0)])
    fake.start()
    store.write_readings([Reading(ts=T0 - timedelta(seconds=5), active_power_w=300.0)])
    assert store.grid_power_mean(60, T0) == 200.0
    fake.fail(503)
    with pytest.raises(StoreError):
        store.grid_power_mean(60, T0)
    fake.fail(None)
    assert store.grid_power_mean(60, T0) == 200.0


def test_queries_send_values_as_bind_parameters_not_in_the_text(fake) -> None:
    import json

    store = store_on(fake, bucket='so"lar')
    fake.create_bucket('so"lar')
    store.grid_power_mean(120, T0)
    [request] = [r for r in fake.requests if r.path.startswith("/api/v2/query")]
    body = json.loads(request.body)
    assert 'so"lar' not in body["query"]
    options = {
        s["assignment"]["id"]["name"]: s["assignment"]["init"] for s in body["extern"]["body"]
    }
    assert options["bucketName"] == {"type": "StringLiteral", "value": 'so"lar'}
    assert options["rangeStop"]["type"] == "DateTimeLiteral"
