"""The simulated P1 meter itself: the real device's bodies, counters, v2 rules, standalone use."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from sim.charger import SimCharger
from sim.clock import ManualClock
from sim.meter import CarDraw, SimulatedP1, belgian_house, power_text, steady, with_car
from sim.wallbox_cloud import WallboxCloud
from tests.fakes.p1_meter import TOKEN

ROOT = Path(__file__).resolve().parents[2]

# Key order of the real device's bodies (HomeWizard docs and fixtures; a Belgian L+G E360).
V1_KEYS = [
    "wifi_ssid", "wifi_strength", "smr_version", "meter_model", "unique_id", "active_tariff",
    "total_power_import_kwh", "total_power_import_t1_kwh", "total_power_import_t2_kwh",
    "total_power_export_kwh", "total_power_export_t1_kwh", "total_power_export_t2_kwh",
    "active_power_w", "active_power_l1_w", "active_power_l2_w", "active_power_l3_w",
    "active_voltage_l1_v", "active_voltage_l2_v", "active_voltage_l3_v", "active_current_a",
    "active_current_l1_a", "active_current_l2_a", "active_current_l3_a",
    "active_power_average_w", "montly_power_peak_w", "montly_power_peak_timestamp",
    "total_gas_m3", "gas_timestamp", "gas_unique_id", "external",
]  # fmt: skip
V2_KEYS = [
    "protocol_version", "meter_model", "unique_id", "timestamp", "tariff", "energy_import_kwh",
    "energy_import_t1_kwh", "energy_import_t2_kwh", "energy_export_kwh", "energy_export_t1_kwh",
    "energy_export_t2_kwh", "power_w", "power_l1_w", "power_l2_w", "power_l3_w", "voltage_l1_v",
    "voltage_l2_v", "voltage_l3_v", "current_a", "current_l1_a", "current_l2_a", "current_l3_a",
    "average_power_15m_w", "monthly_power_peak_w", "monthly_power_peak_timestamp", "external",
]  # fmt: skip

# Monday 18 May 2026, 12:31:07 in Brussels (CEST): day tariff.
NOON = datetime(2026, 5, 18, 10, 31, 7, tzinfo=UTC)


def test_v1_body_has_the_devices_keys_types_and_values(sim_meter):
    server = sim_meter()
    body = requests.get(server.url + "/api/v1/data", timeout=5).json()
    assert list(body) == V1_KEYS
    assert body["active_power_w"] == -4200.0 and isinstance(body["active_power_w"], float)
    assert [body[f"active_power_l{i}_w"] for i in (1, 2, 3)] == [-1420.0, -1390.0, -1390.0]
    assert body["active_current_l1_a"] == 5.96  # unsigned, as real Belgian meters send them
    assert body["active_current_a"] == pytest.approx(5.96 + 5.84 + 5.84)
    assert isinstance(body["montly_power_peak_timestamp"], int)
    device = requests.get(server.url + "/api", timeout=5).json()
    assert device == {
        "product_type": "HWE-P1",
        "product_name": "P1 meter",
        "serial": "5c2fafa1b2c3",
        "firmware_version": "6.0305",
        "api_version": "v1",
    }


def test_v1_api_disabled_body(sim_meter):
    from sim.meter import Fault

    server = sim_meter()
    server.inject(Fault.API_DISABLED)
    resp = requests.get(server.url + "/api/v1/data", timeout=5)
    assert resp.status_code == 403
    assert resp.json() == {"error": {"id": 202, "description": "API not enabled"}}


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_v2_body_token_and_version_rules(v2_meter):
    url = v2_meter.url
    auth = {"Authorization": f"Bearer {TOKEN}"}
    no_token = requests.get(url + "/api", timeout=5, verify=False)
    assert no_token.status_code == 401
    assert no_token.json() == {"error": "user:unauthorized"}
    old = requests.get(
        url + "/api/measurement", headers={**auth, "X-Api-Version": "1"}, timeout=5, verify=False
    )
    assert old.status_code == 400
    assert old.json() == {"error": "request:api-version-not-supported"}
    resp = requests.get(url + "/api/measurement", headers=auth, timeout=5, verify=False)
    assert resp.headers["X-Api-Version"].startswith("2.")
    body = resp.json()
    assert list(body) == V2_KEYS
    assert body["power_w"] == -4200 and isinstance(body["power_w"], int)
    assert body["current_l1_a"] == -5.96  # the v2 docs' signed currents
    assert "T" in body["timestamp"] and "+" not in body["timestamp"]  # local, no zone


def test_counters_integrate_power_over_the_injected_clock():
    now = [NOON]
    meter = SimulatedP1(lambda t: 3600.0 if t < NOON + timedelta(hours=1) else -1800.0,
                        clock=lambda: now[0])  # fmt: skip
    first = meter.data_v1()
    now[0] = NOON + timedelta(hours=1)  # an hour importing 3600 W: +3.6 kWh on day tariff
    second = meter.data_v1()
    now[0] = NOON + timedelta(hours=2)  # an hour exporting 1800 W: +1.8 kWh export
    third = meter.data_v1()
    assert second["total_power_import_t1_kwh"] - first["total_power_import_t1_kwh"] == (
        pytest.approx(3.6)
    )
    assert third["total_power_export_kwh"] - second["total_power_export_kwh"] == (
        pytest.approx(1.8)
    )
    assert third["total_power_import_kwh"] == second["total_power_import_kwh"]
    assert second["active_tariff"] == 1


def test_quarter_hour_average_and_monthly_peak():
    now = [NOON.replace(minute=30, second=0)]
    meter = SimulatedP1(lambda t: 6000.0, clock=lambda: now[0])
    for s in range(0, 901, 60):  # one whole quarter at 6000 W import
        now[0] = NOON.replace(minute=30, second=0) + timedelta(seconds=s)
        body = meter.data_v1()
    assert body["montly_power_peak_w"] == 6000.0  # the quarter closed above the old 3560 W peak
    now[0] += timedelta(seconds=300)
    assert meter.data_v1()["active_power_average_w"] == 6000.0


def test_night_tariff_and_weekend():
    assert SimulatedP1.tariff(datetime(2026, 5, 18, 21, 0, tzinfo=UTC)) == 2  # 23:00 local
    assert SimulatedP1.tariff(datetime(2026, 5, 16, 10, 0, tzinfo=UTC)) == 2  # Saturday
    assert SimulatedP1.tariff(NOON) == 1


def test_providers_are_plausible():
    assert -4300 < steady(-4200.0)(NOON) < -4100
    house = belgian_house()
    assert house(NOON) < -1000  # a May noon exports
    assert 200 < house(datetime(2026, 5, 18, 1, 0, tzinfo=UTC)) < 3000  # night imports


def test_standalone_command_serves_a_meter_and_stops_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.meter", "--port", "0", "--export-w", "4200"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert "Simulated HomeWizard P1 (API v1) on http://127.0.0.1:" in first, first
        url = first.rsplit(" ", 1)[1].strip()
        second = proc.stdout.readline()
        assert second.startswith("  grid power: steady -4") and "(negative: export)" in second
        with urllib.request.urlopen(url + "/api/v1/data", timeout=5) as resp:
            body = json.load(resp)
        assert -4300 < body["active_power_w"] < -4100
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_without_a_steady_power_it_says_the_day_follows_the_clock():
    args = argparse.Namespace(export_w=None, import_w=None, car_draw_url=None)
    text = power_text(args, 320.4)
    assert text.startswith("a house under a 4.5 kWp roof at this time of day, now +320 W")
    assert "around midday only" in text and "--export-w 4200" in text


def test_the_meter_sees_the_car_the_simulated_cloud_reports(caplog):
    """The demo compose stack's closed loop: the meter and the cloud are two processes, and the
    meter adds the draw the cloud serves at /sim/draw (10 A x 692.8 W/A here)."""
    clock = ManualClock(NOON)
    charger = SimCharger(clock, watts_per_amp=692.8, setpoint_a=10, paused=False, latency_s=0)
    with WallboxCloud(clock, charger=charger) as cloud:
        url = f"http://127.0.0.1:{cloud.port}/sim/draw"
        with urllib.request.urlopen(url, timeout=5) as r:
            assert json.load(r) == {"power_w": 6928.0}
        draw = CarDraw(url)
        draw.read()
        grid = with_car(steady(-5000.0, noise_w=0.0), draw)
        assert grid(NOON) == pytest.approx(-5000.0 + 6928.0)
        assert [r.path for r in cloud.requests] == ["/sim/draw", "/sim/draw"]
    # The cloud gone: the last draw stays, one warning says so.
    draw.read()
    draw.read()
    assert draw() == 6928.0 and draw.failures == 2
    assert sum("car draw from" in r.getMessage() for r in caplog.records) == 1
