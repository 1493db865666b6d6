"""InfluxStore when InfluxDB is down, failing, slow or misconfigured: always StoreError (so the
collector spools and the controller treats the data as stale), never another exception; and the
same store instance works again once InfluxDB is back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from common.models import Action, ChargerState, Decision, Mode, ModeChange, Reading
from common.store import StoreError, StoreRefused, build_status, flux
from common.store.influx import MODE_LOOKBACK, InfluxStore
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


# -- writes InfluxDB refuses for good ---------------------------------------------------------
def test_points_beyond_the_retention_are_refused_for_good_saying_whether_all_were(fake) -> None:
    """InfluxDB's 422 partial write: the others are kept; "dropped=N" tells how many were not."""
    fake.set_retention(7 * 86400)
    store = store_on(fake)
    old = [Reading(ts=T0 - timedelta(days=30, seconds=k), active_power_w=1.0) for k in range(3)]
    new = Reading(ts=T0, active_power_w=2.0)
    with pytest.raises(StoreRefused, match="beyond retention policy dropped=3") as everything:
        store.write_readings(old)
    assert everything.value.all_refused
    with pytest.raises(StoreRefused) as some:
        store.write_readings([*old, new])
    assert not some.value.all_refused
    assert [p["fields"]["active_power_w"] for p in fake.points("solar", "p1")] == [2.0]


@pytest.mark.parametrize(("status", "refused"), [(400, True), (413, True), (422, True),
                                                 (401, False), (404, False), (429, False),
                                                 (500, False), (503, False)])  # fmt: skip
def test_only_statuses_that_mean_never_are_refusals(fake, status: int, refused: bool) -> None:
    fake.fail(status)
    with pytest.raises(StoreError) as e:
        CALLS["write_readings"](store_on(fake))
    assert isinstance(e.value, StoreRefused) is refused


# -- bounded queries ----------------------------------------------------------------------------
def query_ranges(fake: FakeInfluxDB) -> list[tuple[str, datetime, datetime]]:
    """(query name, start, stop) of every query the fake received, in order."""
    names = {text: name for name, text in flux.QUERIES.items()}
    out = []
    for r in fake.requests:
        if not r.path.startswith("/api/v2/query"):
            continue
        body = json.loads(r.body)
        opts = {s["assignment"]["id"]["name"]: s["assignment"]["init"]["value"]
                for s in body["extern"]["body"]}  # fmt: skip
        start, stop = (
            datetime.fromisoformat(opts[k].replace("Z", "+00:00"))
            for k in ("rangeStart", "rangeStop")
        )
        out.append((names[body["query"]], start, stop))
    return out


def test_status_and_healthz_reads_look_back_a_month_at_most(fake) -> None:
    """/api/status, /healthz and every controller cycle read the mode; none may range from 1970."""
    store = store_on(fake)
    store.set_mode(Mode.MANUAL, "phone", T0 - timedelta(days=3))
    store.write_readings([Reading(ts=T0, active_power_w=1.0)])
    fake.requests.clear()
    for _ in range(3):
        build_status(store, datetime.now(UTC), 60, T0 - timedelta(hours=10))
    ranges = query_ranges(fake)
    assert {name for name, _, _ in ranges} >= {"last_mode", "latest_reading", "energy_points"}
    oldest = min(start for _, start, _ in ranges)
    assert oldest >= datetime.now(UTC) - MODE_LOOKBACK - timedelta(minutes=1), ranges


def test_a_mode_from_before_the_lookback_is_searched_for_once_then_kept_within_it(fake) -> None:
    store = store_on(fake)
    store.set_mode(Mode.MANUAL, "phone", T0 - timedelta(days=400))
    fake.requests.clear()
    assert store.get_mode() == ModeChange(T0 - timedelta(days=400), Mode.MANUAL, "phone")
    assert [start.year for _, start, _ in query_ranges(fake)] == [T0.year, 1970], (
        "the month first, then everything once"
    )
    fake.requests.clear()
    other = store_on(fake)  # another process: finds the rewritten mode within the month
    assert other.get_mode() == ModeChange(T0 - timedelta(days=400), Mode.MANUAL, "phone")
    assert len(query_ranges(fake)) == 1


def test_a_mode_is_rewritten_once_a_day_not_on_every_read(fake) -> None:
    fresh = store_on(fake)
    fresh.set_mode(Mode.SOLAR, "phone", T0 - timedelta(hours=20))
    for _ in range(5):
        fresh.get_mode()
    assert len(fake.points("solar", "mode")) == 1, "younger than a day: left alone"
    fake.create_bucket("other")
    store = store_on(fake, bucket="other")
    store.set_mode(Mode.SOLAR, "phone", T0 - timedelta(days=2))
    store.set_mode(Mode.MIN_SOLAR, "phone", T0 - timedelta(hours=30))
    for _ in range(5):
        assert store.get_mode() == ModeChange(T0 - timedelta(hours=30), Mode.MIN_SOLAR, "phone")
    kept = fake.points("other", "mode")
    assert len(kept) == 3, "the two written, one copy of the newest"
    copy = kept[-1]
    assert copy["fields"]["mode"] == "min_solar"
    assert copy["fields"]["set_ms"] == int((T0 - timedelta(hours=30)).timestamp() * 1000)
