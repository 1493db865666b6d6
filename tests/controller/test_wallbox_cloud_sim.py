"""The simulated Wallbox cloud itself: limits, tokens, bodies and the charger model behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from wallbox import Wallbox

from sim.wallbox_cloud import DEFAULT_PASSWORD, DEFAULT_USERNAME
from tests.controller.ctl_helpers import WPA, ManualClock, sim_cloud

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "wallbox"


def recorded(name: str) -> dict:
    """A reply of the Wallbox cloud as a public source published it (tests/fixtures/wallbox)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def key_paths(body: dict, prefix: str = "") -> set[str]:
    """Every key, nested ones as ``config_data.plan.features``."""
    out = set()
    for key, value in body.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= key_paths(value, f"{prefix}{key}.")
    return out


#: The newest full status body on record (2023): the simulated one has exactly its keys.
NEWEST_STATUS = recorded("status_skb_2023.json")


def signed_in(cloud):
    w = Wallbox(DEFAULT_USERNAME, DEFAULT_PASSWORD, requestGetTimeout=2)
    w.baseUrl, w.authUrl = cloud.api_url, cloud.auth_url
    w.authenticate()
    return w


def test_the_real_package_signs_in_and_reads_the_full_status_body():
    clock = ManualClock()
    with sim_cloud(clock, paused=False, setpoint_a=10) as cloud:
        w = signed_in(cloud)
        assert w.jwtTokenTtl == round((clock() + timedelta(hours=1)).timestamp() * 1000)
        assert w.getChargersList() == [9988552]
        clock.advance(60)
        body = w.getChargerStatus(9988552)
        assert set(body) == set(NEWEST_STATUS)
        assert set(body["config_data"]) == set(NEWEST_STATUS["config_data"])
        assert key_paths(body) == key_paths(NEWEST_STATUS)
        assert body["status_id"] == 194
        assert body["charging_power"] == 6.93  # kW: 10 A x 692.8 W/A
        assert body["config_data"]["max_charging_current"] == 10
        assert body["added_energy"] == pytest.approx(6.928 / 60, abs=1e-3)  # kWh in one minute


def test_put_and_remote_actions_answer_like_the_real_cloud_and_take_effect_late():
    clock = ManualClock()
    with sim_cloud(clock, paused=True, setpoint_a=16, latency_s=15) as cloud:
        cloud.token_ttl_s = 86400
        w = signed_in(cloud)
        put = w.setMaxChargingCurrent(9988552, 8)
        assert put["data"]["chargerData"]["maxChargingCurrent"] == 8
        assert put["data"]["chargerData"]["locked"] == 0 and put["data"]["users"]
        assert cloud.requests[-1].body == '{ "maxChargingCurrent":8}'  # the package's raw body
        w.resumeChargingSession(9988552)
        assert cloud.requests[-1].body == '{"action":1}'
        ch = cloud.charger
        clock.advance(14)
        assert (ch.status_id(clock()), ch.setpoint_a, ch.power_w(clock())) == (182, 16, 0.0)
        clock.advance(1)
        assert (ch.status_id(clock()), ch.setpoint_a) == (194, 8)
        assert ch.power_w(clock()) == pytest.approx(8 * WPA)
        clock.advance(3600)
        assert ch.added_energy(clock()) == pytest.approx(8 * WPA / 1000, rel=1e-6)
        w.pauseChargingSession(9988552)
        clock.advance(15)
        assert ch.status_id(clock()) == 182 and ch.power_w(clock()) == 0
        assert cloud.commands() == ["current(8)", "resume", "pause"]


def test_put_answer_has_every_key_of_the_recorded_one():
    clock = ManualClock()
    with sim_cloud(clock) as cloud:
        put = signed_in(cloud).lockCharger(9988552)
        assert key_paths(recorded("put_v2_charger_wdz_2022.json")) <= key_paths(put)
        assert put["data"]["chargerData"]["locked"] == 1


def test_sign_in_answer_has_the_keys_of_the_published_one():
    clock = ManualClock()
    with sim_cloud(clock) as cloud:
        r = requests.get(
            cloud.auth_url + "users/signin",
            auth=(DEFAULT_USERNAME, DEFAULT_PASSWORD),
            headers={"Partner": "wallbox"},
            timeout=2,
        )
    assert r.status_code == 200
    assert key_paths(r.json()) == key_paths(recorded("signin_ha_tests.json"))
    # ttl: when the token expires, in epoch milliseconds (an hour by default)
    assert r.json()["data"]["attributes"]["ttl"] == round(clock().timestamp() * 1000) + 3_600_000


def test_rate_limits_per_rolling_minute():
    clock = ManualClock()
    with sim_cloud(clock) as cloud:
        w = signed_in(cloud)  # GET 1
        w.getChargerStatus(9988552)  # GET 2
        w.getChargerStatus(9988552)  # GET 3
        with pytest.raises(requests.HTTPError) as e:
            w.getChargerStatus(9988552)
        assert e.value.response.status_code == 429
        for a in range(6, 11):
            w.setMaxChargingCurrent(9988552, a)
        with pytest.raises(requests.HTTPError) as e:
            w.pauseChargingSession(9988552)
        assert e.value.response.status_code == 429
        clock.advance(60)
        w.getChargerStatus(9988552)
        w.pauseChargingSession(9988552)
        assert cloud.count(status=429) == 2


def test_expired_token_gets_401_and_refresh_gets_a_new_one():
    clock = ManualClock()
    with sim_cloud(clock) as cloud:
        cloud.token_ttl_s = 120
        w = signed_in(cloud)
        clock.advance(121)
        with pytest.raises(requests.HTTPError) as e:
            w.getChargerStatus(9988552)
        assert e.value.response.status_code == 401
        w.jwtTokenTtl = 0  # what the adapter does to make the package refresh
        w.authenticate()
        assert cloud.requests[-1].path == "/auth/users/refresh-token"
        assert w.getChargerStatus(9988552)["status_id"] == 182


def test_wrong_password_and_missing_partner_header():
    clock = ManualClock()
    with sim_cloud(clock) as cloud:
        w = Wallbox(DEFAULT_USERNAME, "nope", requestGetTimeout=2)
        w.authUrl = cloud.auth_url
        with pytest.raises(requests.HTTPError) as e:
            w.authenticate()
        assert e.value.response.status_code == 401
        r = requests.get(cloud.auth_url + "users/signin", auth=(DEFAULT_USERNAME, "x"), timeout=2)
        assert r.status_code == 400


def test_car_becomes_full_and_reports_181():
    clock = ManualClock()
    with sim_cloud(clock, paused=False, setpoint_a=16, kwh_to_full=1.0) as cloud:
        ch = cloud.charger
        clock.advance(300)  # 16 A x 692.8 W = 11.1 kW: 1 kWh after ~325 s
        assert ch.status_id(clock()) == 194
        clock.advance(60)
        assert ch.status_id(clock()) == 181 and ch.power_w(clock()) == 0
        ch.unplug(clock())
        assert ch.status_id(clock()) == 161


def test_injected_faults_hit_only_what_they_match():
    clock = ManualClock()
    with sim_cloud(clock) as cloud:
        w = signed_in(cloud)
        cloud.inject(500, path_contains="remote-action")
        assert w.getChargerStatus(9988552)["status_id"] == 182
        with pytest.raises(requests.HTTPError) as e:
            w.resumeChargingSession(9988552)
        assert e.value.response.status_code == 500
        w.resumeChargingSession(9988552)
        assert [r.status for r in cloud.requests] == [200, 200, 500, 200]


def test_standalone_server_serves_the_real_package():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.wallbox_cloud", "--port", "0", "--latency-s", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        first = proc.stdout.readline()
        lines = [first] + [proc.stdout.readline() for _ in range(5)]
        urls = dict(
            line.strip().split(": ", 1) for line in lines if line.strip().startswith("wallbox.")
        )
        w = Wallbox(DEFAULT_USERNAME, DEFAULT_PASSWORD, requestGetTimeout=2)
        w.baseUrl, w.authUrl = urls["wallbox.api_url"], urls["wallbox.auth_url"]
        w.authenticate()
        status = w.getChargerStatus(w.getChargersList()[0])
        assert status["status_id"] == 182
        assert json.dumps(status)  # a plain JSON body
    finally:
        proc.terminate()
        proc.wait(timeout=10)
