"""WallboxCharger: the real ``wallbox`` package against the simulated cloud over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ctl_helpers import WPA, ManualClock, sim_cloud, wallbox_config

from common.config import Secret
from controller.charger import (
    ChargerAuthError,
    ChargerRateLimited,
    ChargerUnavailable,
    WallboxCharger,
)
from controller.snapshot import Phase


@pytest.fixture
def clock():
    return ManualClock()


def make(cloud, clock, **cfg):
    return WallboxCharger(wallbox_config(cloud, **cfg), WPA, clock=clock)


def test_first_snapshot_signs_in_finds_the_charger_and_reads(clock):
    with sim_cloud(clock, setpoint_a=16, paused=True) as cloud:
        ch = make(cloud, clock)
        snap = ch.snapshot(clock())
        assert [(r.method, r.path) for r in cloud.requests] == [
            ("GET", "/auth/users/signin"),
            ("GET", "/api/v3/chargers/groups"),
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
        for dt in (1, 20, 58):
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
        snap = make(cloud, clock).snapshot(clock())
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
    from controller.charger import RateLimiter, RateLimits

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
