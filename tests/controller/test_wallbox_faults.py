"""The Wallbox adapter against what the real cloud does wrong (issue 11): bad numbers, OCPP mode
and missing rights, Google/Apple accounts, a wall clock that steps, a request that never ends.

The real ``wallbox`` package over real sockets to the simulated cloud, as elsewhere."""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import timedelta

import pytest

from common.config import Secret, WallboxConfig
from common.models import Action, CommandError
from common.ports import (
    ChargerAuthError,
    ChargerRateLimited,
    ChargerRefused,
    ChargerUnavailable,
)
from common.snapshot import STATUS_UNREADABLE, Phase
from common.store.sqlite import SqliteStore
from controller.deadline import RequestRunner
from controller.wallbox import WallboxCharger
from sim.wallbox_bodies import status_body
from tests.controller.ctl_helpers import (
    WPA,
    ManualClock,
    make_loop,
    pv_steps,
    sim_cloud,
    trickling_server,
    wallbox_config,
)

CID = "9988552"


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "scc.db")
    yield s
    s.close()


def make(cloud, clock, **kw):
    cfg = {k: kw.pop(k) for k in list(kw) if k in ("timeout_s", "password", "charger_id")}
    cfg.setdefault("charger_id", CID)
    return WallboxCharger(wallbox_config(cloud, **cfg), WPA, clock=clock, sleep=clock.advance, **kw)


# -- item 7: bad numbers ----------------------------------------------------------------------

#: (field changes, what the snapshot must say: status id, setpoint, power W, kWh, max A)
BAD_BODIES = {
    "nan power": ({"charging_power": math.nan}, (194, 16, 16 * WPA, 1.0, 32)),
    "infinite power": ({"charging_power": math.inf}, (194, 16, 16 * WPA, 1.0, 32)),
    "power as text": ({"charging_power": "lots"}, (194, 16, 16 * WPA, 1.0, 32)),
    # An unreadable status id is an unknown status: the power it reports still counts.
    "nan status": ({"status_id": math.nan}, (STATUS_UNREADABLE, 16, 11.09e3, 1.0, 32)),
    "infinite status": ({"status_id": math.inf}, (STATUS_UNREADABLE, 16, 11.09e3, 1.0, 32)),
    "huge status": ({"status_id": 10**30}, (STATUS_UNREADABLE, 16, 11.09e3, 1.0, 32)),
    "negative energy": ({"added_energy": -3}, (194, 16, 11.09e3, None, 32)),
    "infinite limit": ({"max_available_power": math.inf}, (194, 16, 11.09e3, 1.0, None)),
    "huge setpoint": ({"config_data": {"max_charging_current": 10**20}},
                      (194, None, 11.09e3, 1.0, 32)),
    "no config": ({"config_data": None}, (194, None, 11.09e3, 1.0, 32)),
    "unknown status, power": ({"status_id": 231, "charging_power": 7.2},
                              (231, 16, 7200.0, 1.0, 32)),
}  # fmt: skip


def charging_body(cloud, clock, changes):
    body = status_body(cloud.charger, clock())
    body.update(status_id=194, charging_power=11.09, added_energy=1.0)
    body["config_data"]["max_charging_current"] = 16
    for key, value in changes.items():
        if key == "config_data" and isinstance(value, dict):
            body["config_data"].update(value)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_a_bad_number_is_not_reported_and_the_rest_still_counts(clock, name):
    changes, expected = BAD_BODIES[name]
    with sim_cloud(clock, paused=False) as cloud:
        cloud.recorded_status = charging_body(cloud, clock, changes)
        snap = make(cloud, clock).snapshot(clock())
    got = (snap.status_id, snap.setpoint_a, snap.power_w, snap.added_energy_kwh)
    assert got[:2] == expected[:2] and got[3] == expected[3]
    assert snap.power_w == pytest.approx(expected[2])
    assert snap.max_available_a == expected[4]
    assert snap.read_error is None


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_a_bad_number_costs_no_cycle_and_no_traceback(clock, store, caplog, name):
    """Through the whole controller: it decides, records a charger point, logs no traceback."""
    caplog.set_level(logging.INFO)
    with sim_cloud(clock, paused=False) as cloud:
        cloud.recorded_status = charging_body(cloud, clock, BAD_BODIES[name][0])
        loop = make_loop(clock, cloud, store, pv_steps((-10, 8000)))
        decisions = loop.run(3)
    assert len(decisions) == 3
    assert not [r for r in caplog.records if r.exc_info or "crashed" in r.getMessage()]
    point = store.last_charger_state()
    assert point is not None and point.ts == decisions[-1].ts


# -- item 3: OCPP mode and missing rights -----------------------------------------------------


def test_ocpp_mode_refuses_pause_once_then_reads_on_and_says_so(clock, store, caplog):
    """A car charging from the grid at night, the charger in OCPP mode: the pause is refused
    (403); it is not sent again for an hour, the status is still read every minute, and the
    log says what it means and the two ways out, once."""
    caplog.set_level(logging.INFO)
    with sim_cloud(clock, {"ocpp_mode": True}, paused=False, setpoint_a=16) as cloud:
        loop = make_loop(clock, cloud, store, pv_steps((-10, 0)))
        decisions = loop.run(30)
        actions = cloud.select(path_contains="remote-action")
        reads = cloud.count(path_contains="status/")
    assert [r.status for r in actions] == [403]
    assert decisions[0].command_error is CommandError.REFUSED
    assert reads >= 29  # reads go on, once a minute
    assert {d.stored_reason for d in decisions} == {"grid-stop/refused"}
    text = caplog.text
    assert text.count("The Wallbox is in OCPP mode") == 1
    assert "switch OCPP off in the Wallbox app" in text and "local OCPP" in text
    point = store.last_charger_state()
    assert (point.operation_mode, point.refused) == ("ocpp", "pause,resume")


def test_a_grid_session_in_ocpp_mode_drops_to_min_current_and_says_so_once(clock, store, caplog):
    """The pause is refused (403) but setting the current still works: the car, charging from
    the grid at 16 A at night, is lowered to 6 A, the least the cloud lets us do, and the pause
    is tried again when the hour's back-off ends. One warning for the episode, no ERROR a
    minute."""
    caplog.set_level(logging.INFO)
    with sim_cloud(clock, {"ocpp_mode": True}, paused=False, setpoint_a=16) as cloud:
        loop = make_loop(clock, cloud, store, pv_steps((-10, 0)))
        loop.run(3)
        assert cloud.charger.power_w(clock()) == pytest.approx(6 * WPA)
        loop.run(62)
        actions = cloud.select(path_contains="remote-action")
    assert [r.status for r in actions] == [403, 403]  # at the start and an hour later
    assert cloud.commands() == ["current(6)"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    told = [r.getMessage() for r in caplog.records if r.name == "controller" and "refused" in
            r.getMessage() and r.levelno == logging.WARNING]  # fmt: skip
    assert len(told) == 1 and "lowered the current to 6 A" in told[0]


def test_a_refused_command_is_tried_again_after_an_hour_not_every_cycle(clock):
    with sim_cloud(clock, {"ocpp_mode": True}, paused=False) as cloud:
        ch = make(cloud, clock)
        ch.snapshot(clock())
        with pytest.raises(ChargerRefused) as first:
            ch.pause(clock())
        assert first.value.until == clock() + timedelta(hours=1)
        for _ in range(59):
            clock.advance(60)
            ch.snapshot(clock())
            with pytest.raises(ChargerRefused):
                ch.pause(clock())
            with pytest.raises(ChargerRefused):
                ch.resume(clock())  # the same endpoint: refused too, not tried
        assert cloud.count(path_contains="remote-action") == 1
        assert ch.snapshot(clock()).refused == {"pause", "resume"}
        ch.set_current(10, clock())  # setting the current still works in OCPP mode
        clock.advance(60)
        with pytest.raises(ChargerRefused) as again:
            ch.pause(clock())  # an hour on: tried once more, refused, now for two hours
        assert again.value.until == clock() + timedelta(hours=2)
        assert cloud.count(path_contains="remote-action") == 2
        cloud.ocpp_mode = False  # the user switched OCPP off in the app
        clock.advance(60)
        assert ch.snapshot(clock()).refused == frozenset()
        ch.pause(clock())
        assert cloud.count(path_contains="remote-action", status=200) == 1


def test_a_403_on_a_write_without_ocpp_mode_is_a_rights_problem_not_throttling(clock, caplog):
    with sim_cloud(clock, paused=True) as cloud:
        ch = make(cloud, clock)
        ch.snapshot(clock())
        cloud.inject(403, times=5, method="PUT")
        with pytest.raises(ChargerRefused):
            ch.set_current(10, clock())
        clock.advance(60)
        snap = ch.snapshot(clock())  # reads are not blocked, as they are on a 429
        assert snap.read_error is None and snap.refused == {"set_current"}
        ch.resume(clock())  # another endpoint: not refused
    assert "lacks the rights" in caplog.text


# -- item 5: Google and Apple accounts --------------------------------------------------------


def test_a_refused_sign_in_says_a_google_or_apple_account_needs_a_password(clock):
    with sim_cloud(clock) as cloud:
        ch = make(cloud, clock, password=Secret("made-with-google"))
        with pytest.raises(ChargerAuthError) as e:
            ch.snapshot(clock())
    text = str(e.value)
    assert "Google or Apple" in text and "Forgot password" in text and "my.wallbox.com" in text


# -- item 8: a wall clock that steps ----------------------------------------------------------


def test_a_wall_clock_step_back_does_not_block_status_reads(clock):
    """NTP moves this machine's wall clock an hour back between two cycles; real time (the
    cloud's, and the monotonic clock) goes on a minute per cycle."""
    wall = ManualClock(clock())
    with sim_cloud(clock, paused=True) as cloud:
        ch = make(cloud, wall, monotonic=lambda: clock().timestamp())
        ch.snapshot(wall())
        for step_s in (-3600 + 60, 60, 60):
            clock.advance(60)
            wall.advance(step_s)
            assert ch.snapshot(wall()).read_at == wall()  # read now, not in an hour
        assert cloud.count(path_contains="status/") == 4


def test_a_wall_clock_step_forward_does_not_end_a_back_off(clock):
    wall = ManualClock(clock())
    with sim_cloud(clock, paused=True) as cloud:
        ch = make(cloud, wall, monotonic=lambda: clock().timestamp())
        ch.snapshot(wall())
        cloud.inject(429, path_contains="status/")
        clock.advance(60)
        wall.advance(60)
        ch.snapshot(wall())
        n = cloud.count()
        wall.advance(7200)  # the wall clock jumps two hours; only 10 s really passed
        clock.advance(10)
        ch.snapshot(wall())
        assert cloud.count() == n


# -- item 9: a total deadline -----------------------------------------------------------------


def test_a_request_runner_gives_up_at_its_deadline_and_refuses_while_one_hangs():
    release = threading.Event()
    runner = RequestRunner(0.3)
    started = time.monotonic()
    with pytest.raises(ChargerUnavailable, match=r"no whole answer within 0\.3 s"):
        runner.run(lambda: release.wait(30))
    assert time.monotonic() - started < 1.0
    with pytest.raises(ChargerUnavailable, match="still hanging"):
        runner.run(lambda: 1)
    release.set()
    time.sleep(0.1)
    assert runner.run(lambda: 2) == 2


def test_a_request_runner_lets_go_when_the_stop_event_is_set():
    stop = threading.Event()
    runner = RequestRunner(60, stop.is_set)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(ChargerUnavailable, match="stopping"):
        runner.run(lambda: time.sleep(30))
    assert time.monotonic() - started < 1.0


def test_a_sign_in_that_trickles_ends_at_the_deadline_not_the_socket_timeout(clock):
    srv, done, _ = trickling_server()
    try:
        url = f"http://127.0.0.1:{srv.getsockname()[1]}/"
        cfg = WallboxConfig(
            username="u@example.com", password=Secret("pw"), api_url=url, auth_url=url,
            timeout_s=3.0, charger_id=CID,
        )  # fmt: skip
        ch = WallboxCharger(cfg, WPA, clock=clock, sleep=clock.advance)
        started = time.monotonic()
        with pytest.raises(ChargerUnavailable, match="timed out"):
            ch.snapshot(clock())
        # A byte every 2 s never trips a 3 s socket timeout (500 bytes: 1000 s); the deadline,
        # timeout_s + 1 s, does.
        assert 3.5 < time.monotonic() - started < 6.0
    finally:
        done.set()
        srv.close()


def test_a_request_refused_while_another_hangs_costs_no_budget_and_no_read_delay(clock):
    """A status read that hangs is abandoned at its deadline; until it ends, every request is
    refused here. Such a refusal used to spend a budget slot and push the next read back a
    minute, as if it had gone out."""
    srv, done, _ = trickling_server(every_s=0.1)
    try:
        url = f"http://127.0.0.1:{srv.getsockname()[1]}/"
        cfg = WallboxConfig(
            username="u@example.com", password=Secret("pw"), api_url=url, auth_url=url,
            timeout_s=0.3, charger_id=CID,
        )  # fmt: skip
        ch = WallboxCharger(cfg, WPA, clock=clock, sleep=clock.advance)
        ch._w.jwtToken, ch._w.jwtTokenTtl = "kept", (clock().timestamp() + 3600) * 1000
        with pytest.raises(ChargerUnavailable, match="no whole answer"):
            ch.snapshot(clock())
        first_read = ch.limiter.last_status_attempt
        assert ch.limiter.sent_gets == 1
        clock.advance(60)
        with pytest.raises(ChargerUnavailable, match="still hanging"):
            ch.snapshot(clock())
        assert ch.limiter.sent_gets == 1  # nothing went out, nothing counted
        assert ch.limiter.last_status_attempt == first_read  # the next read is due at once
    finally:
        done.set()
        srv.close()


def test_a_sign_in_abandoned_at_its_deadline_does_not_change_the_token_later(
    clock, monkeypatch, tmp_path
):
    """The worker of an abandoned sign-in runs on; when it finishes it used to write its token
    into the package object the adapter uses, unsaved. It signs in on a copy now, taken over
    only when the adapter still waits for it."""
    import wallbox

    finished = threading.Event()

    def slow_sign_in(self):
        time.sleep(1.5)  # past the deadline of 0.1 s + 1 s
        self.jwtToken, self.jwtTokenTtl = "late", (clock().timestamp() + 3600) * 1000
        finished.set()

    monkeypatch.setattr(wallbox.Wallbox, "authenticate", slow_sign_in)
    with sim_cloud(clock) as cloud:
        cfg = wallbox_config(cloud, timeout_s=0.1, charger_id=CID)
        ch = WallboxCharger(cfg, WPA, clock=clock, sleep=clock.advance)
        with pytest.raises(ChargerUnavailable, match="no whole answer"):
            ch.snapshot(clock())
        assert finished.wait(5)
        assert ch._w.jwtToken == "" and ch.sign_ins == 0


def test_a_wait_for_the_budget_ends_when_the_process_stops(tmp_path):
    """The limiter waits out a back-off that ends within 5 s rather than refuse; a SIGTERM
    then must not wait those seconds too."""
    from common.config import Config
    from common.stopping import Stopping
    from controller.runner import build_controller

    with sim_cloud(ManualClock()) as cloud:
        config = Config().with_overrides(
            {
                "store.sqlite_path": str(tmp_path / "scc.db"),
                "wallbox.username": "user@example.com",
                "wallbox.password": "secret",
                "wallbox.api_url": cloud.api_url,
                "wallbox.auth_url": cloud.auth_url,
                "wallbox.charger_id": CID,
            }
        )
        stopping = Stopping()
        store = SqliteStore(tmp_path / "scc.db")
        try:
            charger = build_controller(config, store, stopping).charger
            charger.limiter.back_off(4.5)
            threading.Timer(0.2, stopping.request).start()
            started = time.monotonic()
            with pytest.raises(ChargerRateLimited):
                charger.snapshot(charger._clock())
            assert time.monotonic() - started < 1.5
            assert cloud.count() == 0
        finally:
            store.close()
            stopping.close()


def test_phase_of_an_unknown_status_drawing_power_is_unknown_and_drawing(clock):
    with sim_cloud(clock, paused=False) as cloud:
        cloud.recorded_status = charging_body(cloud, clock, {"status_id": 231})
        snap = make(cloud, clock).snapshot(clock())
    assert snap.phase is Phase.UNKNOWN and snap.drawing and not snap.enabled


def test_the_decision_after_a_refused_pause_keeps_its_reason(clock, store):
    with sim_cloud(clock, {"ocpp_mode": True}, paused=False) as cloud:
        d = make_loop(clock, cloud, store, pv_steps((-10, 0))).cycle()
    assert (d.action, d.stored_reason) == (Action.NONE, "grid-stop/refused")
