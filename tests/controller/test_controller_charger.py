"""WallboxCharger: the real ``wallbox`` package against the simulated cloud over real HTTP."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
from dataclasses import replace
from datetime import timedelta

import pytest

from common.config import Config, Secret, StoreConfig
from common.ports import (
    ChargerAuthError,
    ChargerRateLimited,
    ChargerStarting,
    ChargerUnavailable,
)
from common.snapshot import Phase
from controller.session import SESSION_FILE, SessionFile, session_path
from controller.wallbox import WallboxCharger
from sim.wallbox_cloud import DEFAULT_PASSWORD
from tests.controller.ctl_helpers import WPA, ManualClock, sim_cloud, wallbox_config


@pytest.fixture
def clock():
    return ManualClock()


def make(cloud, clock, **cfg):
    return WallboxCharger(wallbox_config(cloud, **cfg), WPA, clock=clock, sleep=clock.advance)


def test_a_cold_start_signs_in_and_finds_the_charger_then_reads_next_cycle(clock):
    """Three GETs within milliseconds were the cloud's whole announced minute: spread them."""
    with sim_cloud(clock, setpoint_a=16, paused=True) as cloud:
        ch = make(cloud, clock)
        with pytest.raises(ChargerStarting):
            ch.snapshot(clock())
        assert [(r.method, r.path) for r in cloud.requests] == [
            ("GET", "/auth/users/signin"),
            ("GET", "/api/v3/chargers/groups"),
        ]
        clock.advance(60)
        snap = ch.snapshot(clock())
        assert [(r.method, r.path) for r in cloud.requests][2:] == [
            ("GET", "/api/chargers/status/9988552"),
        ]
        assert snap.charger_id == "9988552"
        assert (snap.status_id, snap.phase, snap.setpoint_a, snap.power_w) == (
            182,
            Phase.PAUSED,
            16,
            0.0,
        )
        assert snap.car_connected and not snap.enabled and snap.estimated == frozenset()
        assert snap.data_age_s == 0


def test_configured_charger_id_skips_the_lookup(clock):
    with sim_cloud(clock) as cloud:
        make(cloud, clock, charger_id="9988552").snapshot(clock())
        assert cloud.count(path_contains="groups") == 0


def test_token_is_reused_across_cycles_and_refreshed_before_expiry(clock):
    with sim_cloud(clock) as cloud:
        cloud.token_ttl_s = 900
        ch = make(cloud, clock, charger_id="9988552")
        for _ in range(30):  # half an hour of cycles
            ch.snapshot(clock())
            clock.advance(60)
        assert cloud.count(path_contains="signin") == 1
        # Refreshed 60 s before each 15-minute expiry, never by a 401.
        assert cloud.count(path_contains="refresh-token", status=200) == 2
        assert cloud.count(status=401) == 0
        assert cloud.count(path_contains="status/", status=200) == 30


def test_401_signs_in_once_and_retries(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        ch.snapshot(clock())
        clock.advance(60)
        cloud.revoke_tokens()
        snap = ch.snapshot(clock())
        assert snap.read_error is None and snap.read_at == clock()
        tail = [(r.path.split("/")[-1], r.status) for r in cloud.requests[1:]]
        assert tail == [("9988552", 200), ("9988552", 401), ("signin", 200), ("9988552", 200)]


def test_persistent_401_is_an_auth_error_not_a_loop(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        ch.snapshot(clock())
        clock.advance(60)
        cloud.inject(401, times=5, path_contains="/api/")
        before = len(cloud.requests)
        with pytest.raises(ChargerAuthError):
            ch.set_current(10, clock())
        assert len(cloud.requests) - before == 3  # call, one sign-in, one retry


def test_wrong_password_backs_off_before_trying_again(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, password=Secret("wrong"))
        with pytest.raises(ChargerAuthError, match="sign-in refused"):
            ch.snapshot(clock())
        for _ in range(4):  # four more cycles within the 5 min auth back-off: no requests
            clock.advance(60)
            with pytest.raises(ChargerRateLimited):
                ch.snapshot(clock())
        assert cloud.count() == 1
        clock.advance(60)
        with pytest.raises(ChargerAuthError):
            ch.snapshot(clock())
        assert cloud.count(path_contains="signin") == 2


@pytest.mark.parametrize("status", [429, 403])
def test_429_or_403_means_no_request_at_all_for_60_s(clock, status):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        ch.snapshot(clock())
        clock.advance(60)
        cloud.inject(status, path_contains="status/")
        snap = ch.snapshot(clock())  # falls back to the last read
        assert snap.read_error and str(status) in snap.read_error
        assert snap.data_age_s == 60 and snap.status_id == 182
        n = cloud.count()
        for dt in (1, 20, 54):  # (within backoff_grace_s of the end it would wait instead)
            clock.advance(dt - (clock() - snap.ts).total_seconds())
            ch.snapshot(clock())
            with pytest.raises(ChargerRateLimited) as e:
                ch.set_current(10, clock())
            assert e.value.until >= snap.ts + timedelta(seconds=60)
        assert cloud.count() == n  # nothing at all while backing off
        clock.advance(60)
        ch.set_current(10, clock())
        assert ch.snapshot(clock()).read_error is None
        assert cloud.count() == n + 2


def test_repeated_429_doubles_the_back_off(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        ch.snapshot(clock())
        cloud.inject(429, times=2, path_contains="status/")
        clock.advance(60)
        ch.snapshot(clock())
        assert ch.limiter.blocked_until == clock() + timedelta(seconds=60)
        clock.advance(60)
        ch.snapshot(clock())
        assert ch.limiter.blocked_until == clock() + timedelta(seconds=120)
        clock.advance(120)
        assert ch.snapshot(clock()).read_error is None
        clock.advance(60)
        cloud.inject(429, path_contains="status/")
        ch.snapshot(clock())
        assert ch.limiter.blocked_until == clock() + timedelta(seconds=60)  # reset by success


def test_500_and_timeouts_cost_one_cycle(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552", timeout_s=0.3)
        ch.snapshot(clock())
        for fault, text in ((500, "HTTP 500"), ("timeout", "timed out")):
            clock.advance(60)
            cloud.inject(fault, path_contains="status/")
            snap = ch.snapshot(clock())
            assert text in snap.read_error and snap.status_id == 182
            clock.advance(60)
            assert ch.snapshot(clock()).read_error is None
        cloud.inject(500, method="POST")
        with pytest.raises(ChargerUnavailable, match="HTTP 500"):
            ch.resume(clock())
        ch.resume(clock())  # no back-off after a 500


def test_a_wrong_charger_id_is_named_with_where_to_look(clock):
    """A new user's typo in wallbox.charger_id was "HTTP 404" and nothing else."""
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="1234567")
        with pytest.raises(ChargerUnavailable) as e:
            ch.snapshot(clock())
    assert str(e.value) == (
        "Wallbox cloud knows no charger 1234567 on this account (HTTP 404): check "
        "wallbox.charger_id (the serial number in the Wallbox app), or leave it out to use the "
        "account's charger"
    )


def test_an_unreachable_cloud_names_the_address_it_tried(clock):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with sim_cloud(clock) as cloud:
        config = replace(
            wallbox_config(cloud, charger_id="9988552"), api_url=f"http://127.0.0.1:{port}/"
        )
        ch = WallboxCharger(config, WPA, clock=clock, sleep=clock.advance)
        with pytest.raises(ChargerUnavailable) as e:
            ch.snapshot(clock())
    assert f"unreachable at http://127.0.0.1:{port}/" in str(e.value)


def test_first_read_failing_raises(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        cloud.inject(500, path_contains="status/")
        with pytest.raises(ChargerUnavailable):
            ch.snapshot(clock())


def test_between_reads_it_reports_what_it_sent(clock):
    with sim_cloud(clock, setpoint_a=16, paused=True) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        ch.snapshot(clock())
        ch.set_current(10, clock())
        ch.resume(clock())
        clock.advance(5)
        snap = ch.snapshot(clock())  # a read is not due: no request
        assert cloud.count(path_contains="status/") == 1
        assert snap.estimated == {"status", "setpoint_a", "power_w"}
        assert (snap.status_id, snap.setpoint_a) == (194, 10)
        assert snap.power_w == pytest.approx(10 * WPA) and snap.drawing
        clock.advance(55)
        snap = ch.snapshot(clock())  # read: the cloud reports kW, we hold W
        assert snap.estimated == frozenset() and snap.status_id == 194
        assert snap.power_w == pytest.approx(6930.0)  # 10 A x 692.8 W = 6.93 kW
        ch.pause(clock())
        snap = ch.snapshot(clock(), allow_read=False)
        assert (snap.status_id, snap.power_w, snap.enabled) == (182, 0.0, False)


def test_a_read_that_cannot_reflect_a_command_yet_does_not_override_it(clock):
    """A read within settle_s of a command may still show the old state."""
    with sim_cloud(clock, paused=True, latency_s=15) as cloud:
        ch = WallboxCharger(
            wallbox_config(cloud, charger_id="9988552"), WPA, clock=clock, settle_s=30
        )
        ch.limiter.limits = type(ch.limiter.limits)(status_interval_s=5)
        ch.snapshot(clock())
        ch.resume(clock())
        clock.advance(10)
        snap = ch.snapshot(clock())  # read at +10 s: the cloud still says paused
        assert cloud.charger.status_id(clock()) == 182
        assert snap.status_id == 194 and "status" in snap.estimated
        clock.advance(51)
        snap = ch.snapshot(clock())  # +61 s (own GET budget: 3 a minute): the read is the truth
        assert snap.status_id == 194 and snap.estimated == frozenset()


def test_car_waiting_for_demand_draws_nothing(clock):
    with sim_cloud(clock, paused=False, car_full=True, setpoint_a=16) as cloud:
        snap = make(cloud, clock, charger_id="9988552").snapshot(clock())
        assert snap.status_id == 181 and snap.phase is Phase.CAR_DEMAND
        assert snap.power_w == 0.0 and not snap.drawing and snap.enabled


def test_status_reads_at_most_once_a_minute(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        for _ in range(12):  # every 10 s for two minutes
            ch.snapshot(clock())
            clock.advance(10)
        assert cloud.count(path_contains="status/") == 2


def test_own_write_budget_stays_under_the_cloud_limit(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        ch.snapshot(clock())
        for a in range(6, 11):
            ch.set_current(a, clock())
            clock.advance(1)
        with pytest.raises(ChargerRateLimited, match="own budget") as e:
            ch.set_current(11, clock())
        assert e.value.until == clock() - timedelta(seconds=5) + timedelta(seconds=60)
        assert cloud.count(method="PUT") == 5 and cloud.count(status=429) == 0
        clock.advance(55)
        ch.set_current(11, clock())
        assert cloud.count(status=429) == 0


def test_timeout_is_always_passed_to_the_package(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, timeout_s=7.5)
        assert ch._w.requestGetTimeout == 7.5
        assert ch._w.baseUrl == cloud.api_url and ch._w.authUrl == cloud.auth_url


def test_budget_counts_a_request_from_when_its_answer_came():
    # The cloud counts a request on arrival, between our acquire and the answer. Stamped with
    # the answer's time, our rolling minute never ends before the cloud's (the demo, at 20x
    # speed, turned 0.3 s of simulated HTTP time into a 429 before this).
    from controller.ratelimit import RateLimiter, RateLimits

    clock = ManualClock()
    t0 = clock()
    limiter = RateLimiter(RateLimits(), clock)
    for _ in range(3):
        limiter.acquire("get")  # at t0, t0 + 0.3, t0 + 0.6
        clock.advance(0.3)  # the cloud saw it somewhere in these 0.3 s
        limiter.answered("get")
    # A minute after the first acquire, the cloud may still hold all three in its minute.
    clock.set(t0 + timedelta(seconds=60.2))
    with pytest.raises(ChargerRateLimited):
        limiter.acquire("get")
    clock.set(t0 + timedelta(seconds=60.3))  # a minute after the first answer
    limiter.acquire("get")


# -- a 429 costs one cycle --------------------------------------------------------------------


def slow_requests(cloud, clock, arrive_s=0.002, answer_s=0.004):
    """Every request takes a few ms of the shared clock: it arrives after ``arrive_s`` and its
    answer comes ``answer_s`` later, as over a real network."""
    handle = cloud.handle

    def timed(*args, **kw):
        clock.advance(arrive_s)
        try:
            return handle(*args, **kw)
        finally:
            clock.advance(answer_s)

    cloud.handle = timed


@pytest.mark.parametrize("status", [429, 403])
def test_a_429_costs_exactly_one_cycle_on_a_fixed_60_s_grid(clock, status):
    """The loop starts each cycle on a fixed grid; the refused request took 6 ms. The next
    cycle's read must go out (after at least 60 s of silence), not be refused for another minute."""
    t0 = clock()
    with sim_cloud(clock) as cloud:
        slow_requests(cloud, clock)
        ch = make(cloud, clock, charger_id="9988552")
        errors = []
        for k in range(5):
            clock.set(t0 + timedelta(seconds=60 * k))  # the loop's grid
            if k == 2:
                cloud.inject(status, path_contains="status/")
            errors.append(ch.snapshot(clock()).read_error)
        assert [e is None for e in errors] == [True, True, False, True, True]
        reads = cloud.select(path_contains="status/")
        assert [r.status for r in reads] == [200, 200, status, 200, 200]
        refused, after = reads[2], reads[3]
        gap_s = (after.ts - refused.ts).total_seconds()
        assert 60.0 <= gap_s < 60.1  # a minute of silence, and not a cycle more
        assert cloud.count() == 6  # sign-in and five reads: nothing else, nothing twice


def test_a_read_our_limiter_refused_does_not_push_the_next_read_back(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, charger_id="9988552")
        ch.snapshot(clock())
        clock.advance(60)
        ch.limiter.back_off(30)  # e.g. a 403 from a write: no request for 30 s
        assert "backing off" in ch.snapshot(clock()).read_error
        assert cloud.count(path_contains="status/") == 1
        clock.advance(30)
        snap = ch.snapshot(clock())  # the back-off is over and a read is due since 30 s
        assert snap.read_error is None and snap.read_at == clock()
        assert cloud.count(path_contains="status/") == 2


# -- the session file: a restart makes one GET, not three --------------------------------------


def make_kept(cloud, clock, path, **cfg):
    return WallboxCharger(
        wallbox_config(cloud, **cfg),
        WPA,
        clock=clock,
        sleep=clock.advance,
        session_file=SessionFile(path),
    )


def test_a_restart_reuses_the_kept_token_and_charger_id(clock, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / SESSION_FILE
    with sim_cloud(clock) as cloud:
        first = make_kept(cloud, clock, path)
        with pytest.raises(ChargerStarting):
            first.snapshot(clock())
        clock.advance(60)
        first.snapshot(clock())
        assert cloud.count() == 3
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        token = json.loads(path.read_text())["token"]
        assert token and DEFAULT_PASSWORD not in path.read_text()
        clock.advance(5)  # a quick restart
        again = make_kept(cloud, clock, path)
        clock.advance(55)
        snap = again.snapshot(clock())
        assert snap.read_error is None and snap.charger_id == "9988552"
        assert [r.path for r in cloud.requests[3:]] == ["/api/chargers/status/9988552"]
        assert cloud.count(status=429) == 0
    assert token not in caplog.text


def test_an_expired_kept_token_is_refreshed_and_the_status_read_in_the_same_cycle(clock, tmp_path):
    path = tmp_path / SESSION_FILE
    with sim_cloud(clock) as cloud:
        cloud.token_ttl_s = 900
        ch = make_kept(cloud, clock, path, charger_id="9988552")
        ch.snapshot(clock())
        clock.advance(3600)  # the controller was down for an hour
        again = make_kept(cloud, clock, path, charger_id="9988552")
        assert again.snapshot(clock()).read_error is None
        assert [r.path.split("/")[-1] for r in cloud.requests[2:]] == [
            "refresh-token",
            "9988552",
        ]


@pytest.mark.parametrize(
    "content",
    ["not json", '{"token": "x"}', '["a"]', '{"account": "someone-else", "token": "abc"}'],
)
def test_a_damaged_or_foreign_session_file_means_signing_in(clock, tmp_path, content):
    path = tmp_path / SESSION_FILE
    path.write_text(content)
    with sim_cloud(clock) as cloud:
        ch = make_kept(cloud, clock, path, charger_id="9988552")
        assert ch.snapshot(clock()).read_error is None
        assert [r.path.split("/")[-1] for r in cloud.requests] == ["signin", "9988552"]
    assert json.loads(path.read_text())["token"]  # replaced by a good one


def test_another_account_does_not_get_the_kept_session(clock, tmp_path):
    path = tmp_path / SESSION_FILE
    with sim_cloud(clock) as cloud:
        make_kept(cloud, clock, path, charger_id="9988552").snapshot(clock())
        other = make_kept(cloud, clock, path, username="other@example.com")
        assert other._w.jwtToken == "" and other.charger_id is None


def test_a_session_file_that_cannot_be_written_costs_nothing_but_the_next_sign_in(clock, tmp_path):
    path = tmp_path / "missing-folder" / SESSION_FILE
    with sim_cloud(clock) as cloud:
        ch = make_kept(cloud, clock, path, charger_id="9988552")
        assert ch.snapshot(clock()).read_error is None
    assert not path.exists()


def test_the_session_file_lives_beside_the_sqlite_store(tmp_path):
    cfg = Config(store=StoreConfig(sqlite_path=str(tmp_path / "data" / "scc.db")))
    assert session_path(cfg) is None  # no such folder
    (tmp_path / "data").mkdir()
    assert session_path(cfg) == tmp_path / "data" / SESSION_FILE
    assert session_path(Config(store=StoreConfig(sqlite_path=":memory:"))) is None
    (tmp_path / "file").write_text("")  # a file where the folder should be
    assert (
        session_path(Config(store=StoreConfig(sqlite_path=str(tmp_path / "file" / "x.db")))) is None
    )


def test_the_installation_limit_is_read_from_max_available_power(clock):
    with sim_cloud(clock, max_available_a=10) as cloud:
        snap = make(cloud, clock, charger_id="9988552").snapshot(clock())
        assert snap.max_available_a == 10
