"""Peers that hang: a meter that trickles, never answers or never stops answering, and an InfluxDB
that does the same. Every request ends by its total deadline, a reply is capped in size, and
SIGTERM ends ``scc collector`` within seconds whatever it waits on (docs/design.md, "Fail-safe").

The process tests run ``scc collector`` for real against tests/fakes/bad_http.py, and time it from
the outside: from the misbehaving server (how long it was held), from /proc (memory) and from the
signal to the exit.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from collector.errors import MeterInvalidResponse, MeterTimeout
from collector.homewizard import MAX_REPLY_BYTES, HomeWizardClient
from collector.spool import Spool
from common.heartbeat import check
from common.models import Reading
from common.store.base import StoreError
from common.store.influx import InfluxStore
from tests.collector.collector_proc import CollectorProcess
from tests.fakes.bad_http import BadHttpServer, wait_for


# -- the client, in-process: each misbehaviour and what it becomes --------------------------------
@pytest.mark.parametrize(
    ("behaviour", "error", "within_s"),
    [
        ("trickle", MeterTimeout, 1.0),  # headers, then a byte every 0.2 s: past any socket timeout
        ("slow_headers", MeterTimeout, 1.0),  # the same, in the headers
        ("silent", MeterTimeout, 1.0),
        ("endless", MeterInvalidResponse, 0.5),  # refused at the size cap, long before the deadline
    ],
)
def test_the_meter_client_gives_up_by_its_deadline(behaviour, error, within_s):
    with (
        BadHttpServer(behaviour, interval_s=0.2) as peer,
        HomeWizardClient(peer.url, timeout_s=1.0) as client,
    ):
        started = time.monotonic()
        with pytest.raises(error) as e:
            client.read()
        took = time.monotonic() - started
    assert took < within_s + 0.5, f"{behaviour}: gave up after {took:.1f} s"
    if error is MeterTimeout:
        assert took > 0.9, "the deadline, not some earlier error, ended it"
        assert str(e.value) == f"no complete answer from {peer.url}/api within 1 s"
    else:
        assert "reply too large" in str(e.value)
        assert peer.sent < 50 * MAX_REPLY_BYTES  # it stopped reading, not the server sending


def test_a_reply_announcing_more_than_the_cap_is_refused_before_reading_it():
    body = b'{"active_power_w": 1}' + b" " * MAX_REPLY_BYTES
    with (
        BadHttpServer("reply", body=body) as peer,
        HomeWizardClient(peer.url) as client,
        pytest.raises(MeterInvalidResponse, match=r"announced \d+ bytes"),
    ):
        client.read()


def test_abort_ends_a_request_in_progress_at_once():
    with (
        BadHttpServer("trickle", interval_s=0.2) as peer,
        HomeWizardClient(peer.url, timeout_s=30) as client,
    ):
        threading.Timer(0.5, client.abort).start()
        started = time.monotonic()
        with pytest.raises(Exception, match="abandoned"):
            client.read()
        assert time.monotonic() - started < 1.5


# -- InfluxDB: the same deadline on every write and query ---------------------------------------
@pytest.mark.parametrize("behaviour", ["trickle", "slow_headers", "silent"])
def test_every_influxdb_request_has_a_total_deadline(behaviour):
    now = datetime.now(UTC)
    with BadHttpServer(behaviour, interval_s=0.2) as peer:
        store = InfluxStore(peer.url, "token", "solar", "solar", timeout_s=1.0)
        try:
            for call in (
                lambda: store.write_readings([Reading(ts=now, active_power_w=1.0)]),
                lambda: store.latest_reading(now),
                lambda: store.grid_power_mean(60, now),
                lambda: store.energy_summary(now - timedelta(hours=1), now),
            ):
                started = time.monotonic()
                with pytest.raises(StoreError, match="no complete answer within 1 s"):
                    call()
                assert time.monotonic() - started < 1.6
        finally:
            store.close()


# -- scc collector as a process ----------------------------------------------------------------
def test_collector_against_a_trickling_meter_gives_up_each_poll_by_the_deadline(tmp_path):
    """The reported case: headers, then a byte every few seconds, a 5 s timeout: stuck for over
    ten minutes, no heartbeat. Here the same at 0.3 s a byte and a 1 s timeout."""
    beat = tmp_path / "heartbeat"
    with BadHttpServer("trickle", interval_s=0.3) as meter:
        proc = CollectorProcess(
            tmp_path,
            meter={"url": meter.url, "timeout_s": 1.0, "poll_interval_s": 0.5},
            health={"heartbeat_file": str(beat)},
        )
        try:
            proc.wait_for(r"P1 meter: no complete answer from .* within 1 s", timeout_s=20)
            # It goes on polling (backing off) and its loop keeps beating.
            assert wait_for(lambda: len(meter.held_s) >= 3, 15), proc.output()
            assert all(0.8 < held < 2.0 for held in meter.held_s), meter.held_s
            healthy, line = check(str(beat), 5.0, time.time())
            assert healthy, line
            assert proc.count("no complete answer") == 1, "one warning per episode"
            code, took = proc.stop(signal.SIGTERM)
        finally:
            proc.kill()
    assert code == 0 and took < 3.0, (code, took, proc.output())
    assert "Traceback" not in proc.output()


def test_sigterm_ends_the_collector_at_once_while_it_waits_on_the_meter(tmp_path):
    """With the longest deadline a config allows (60 s), SIGTERM must not wait for it."""
    with BadHttpServer("trickle", interval_s=0.3) as meter:
        proc = CollectorProcess(tmp_path, meter={"url": meter.url, "timeout_s": 60})
        try:
            assert wait_for(lambda: meter.sent >= 3, 20), "the collector never asked"
            code, took = proc.stop(signal.SIGTERM)
        finally:
            proc.kill()
    assert code == 0 and took < 3.0, (code, took, proc.output())
    assert meter.held_s and meter.held_s[0] < 10
    assert "P1 meter" not in proc.output(), "a request cut short by the stop is no meter fault"


def test_a_reply_that_never_ends_does_not_grow_the_collector(tmp_path):
    """It grew from 288 MB to 2.4 GB in 12 s; now every reply stops at the cap."""
    with BadHttpServer("endless") as meter:
        proc = CollectorProcess(tmp_path, meter={"url": meter.url, "poll_interval_s": 0.5})
        try:
            proc.wait_for(r"scc collector|polling", timeout_s=20)
            peak, ends = 0.0, time.monotonic() + 4
            while time.monotonic() < ends and proc.proc.poll() is None:
                peak = max(peak, proc.rss_mb())
                if peak > 500:
                    break  # unbounded: stop before it takes the machine down
                time.sleep(0.05)
            assert peak < 150, f"peak resident memory {peak:.0f} MB"
            proc.wait_for(r"reply too large", timeout_s=10)
            code, took = proc.stop(signal.SIGTERM)
        finally:
            proc.kill()
    assert code == 0 and took < 3.0, (code, took)


def test_sigterm_while_the_store_hangs_keeps_the_readings_in_the_spool_and_exits(
    tmp_path, sim_meter
):
    """InfluxDB accepts the write and never answers: the stop cannot flush, so after 8 s what is
    pending goes to the spool (nothing lost) and the process exits 1, before Docker's SIGKILL."""
    meter = sim_meter()
    with BadHttpServer("silent") as influx:
        proc = CollectorProcess(
            tmp_path,
            meter={"url": meter.url, "poll_interval_s": 0.5},
            store={"backend": "influxdb"},
            influxdb={"url": influx.url, "token": "t", "org": "solar", "bucket": "solar"},
        )
        try:
            assert wait_for(lambda: influx.connections >= 1, 20), proc.output()  # writing now
            code, took = proc.stop(signal.SIGTERM)
        finally:
            proc.kill()
    assert code == 1 and 7.5 < took < 9.5, (code, took, proc.output())
    assert "still stopping after 8 s" in proc.output()
    polled = meter.requests["/api/v1/data"]
    spooled = Spool(tmp_path / "spool.sqlite")
    assert len(spooled) == polled > 0, "every reading the meter gave is in the spool"
    spooled.close()
