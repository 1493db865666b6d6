"""Replies that parse but do not hold what a reading needs: no power at all (a P1 meter that lost
its smart meter's telegrams still answers 200), and numbers beyond a float. Each is a meter fault
that says so once per episode, never a traceback nor a reading dropped in silence."""

from __future__ import annotations

import json
import logging

import pytest

from collector import parse
from collector.errors import MeterInvalidResponse
from collector.homewizard import HomeWizardClient
from collector.parse import parse_reading
from collector.service import Collector
from collector.spool import Spool
from collector.writer import ReadingWriter
from common.store.sqlite import SqliteStore
from tests.fakes.bad_http import BadHttpServer
from tests.fakes.p1_meter import FakeTime

TS = FakeTime().wall()
WIFI_ONLY = json.dumps({"wifi_ssid": "home", "wifi_strength": 84, "smr_version": 50}).encode()
GOOD = json.dumps({"active_power_w": -543, "total_power_import_kwh": 6843.2}).encode()


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(parse, "_bad_fields_warned", set())


@pytest.mark.parametrize(
    "text",
    [
        "1" + "0" * 400,  # an integer JSON allows and a float cannot hold
        "-" + "9" * 309,
        "1e400",  # a float literal beyond the range: Python reads it as inf
    ],
)
def test_a_number_too_large_for_a_float_is_a_bad_field_not_a_traceback(text, caplog):
    body = json.loads(f'{{"active_power_w": {text}, "active_power_l1_w": -181}}')
    with caplog.at_level(logging.WARNING):
        r = parse_reading(body, TS)
        parse_reading(body, TS)
    assert r.active_power_w is None and r.active_power_l1_w == -181.0
    warnings = [rec.getMessage() for rec in caplog.records]
    assert len(warnings) == 1, "once per field"
    assert warnings[0].startswith("P1 meter sent active_power_w=") and "not a finite" in warnings[0]
    assert len(warnings[0]) < 120


def test_tariff_counters_that_overflow_when_summed_are_no_total():
    body = {
        "active_power_w": 1,
        "total_power_import_t1_kwh": 1.5e308,
        "total_power_import_t2_kwh": 1.5e308,
    }
    assert parse_reading(body, TS).total_power_import_kwh is None


def test_a_huge_integer_over_http_is_one_warning_and_the_rest_of_the_reading(caplog):
    body = b'{"active_power_w": -543, "active_power_l1_w": 1' + b"0" * 400 + b"}"
    with BadHttpServer("reply", body=body) as meter, HomeWizardClient(meter.url) as client:
        r = client.read()
    assert r.active_power_w == -543.0 and r.active_power_l1_w is None
    assert sum("active_power_l1_w" in rec.getMessage() for rec in caplog.records) == 1


def test_a_reply_without_any_power_field_is_a_meter_fault():
    with (
        BadHttpServer("reply", body=WIFI_ONLY) as meter,
        HomeWizardClient(meter.url) as client,
        pytest.raises(MeterInvalidResponse, match=r"no power field.*check the P1 cable"),
    ):
        client.read()


def test_replies_without_power_warn_once_per_episode_and_the_recovery_is_logged(
    tmp_path, fake_time, caplog
):
    store = SqliteStore(tmp_path / "scc.db")
    writer = ReadingWriter(
        lambda: store, Spool(tmp_path / "spool.sqlite"), clock=fake_time.monotonic
    )
    with BadHttpServer("reply", body=GOOD) as meter, HomeWizardClient(meter.url) as client:
        c = Collector(client, writer, 1.0, clock=fake_time.monotonic)

        def sleep(s: float) -> None:
            fake_time.sleep(s)
            meter.body = WIFI_ONLY if 2 <= c.polls < 7 else GOOD  # the cable out for 5 polls

        c._sleep = sleep
        with caplog.at_level(logging.INFO, logger="poll"):
            c.run(max_polls=10, writer_thread=False)
    poll = [r for r in caplog.records if r.name == "poll"]
    warnings = [r.getMessage() for r in poll if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no power field" in warnings[0]
    assert any(r.getMessage().startswith("P1 meter back:") and "5 failed polls" in r.getMessage()
               for r in poll)  # fmt: skip
    assert c.readings == 5
    assert len(store._run("SELECT * FROM p1")) == 5, "no empty rows stored"
    store.close()
