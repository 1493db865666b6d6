"""OcppCharger and the central system against the simulated Pulsar over a real websocket.

Each test runs on a simulated clock: the charge point sends what falls due when the test moves
the clock (``rig.run``), so latencies and sample intervals are the Pulsar's, in no real time.
"""

from __future__ import annotations

import base64
import logging
import time

import pytest

from common.config import Secret
from common.ports import ChargerError, ChargerStarting, ChargerUnavailable
from common.snapshot import Phase
from controller.ocpp import CommandRefused, OcppSettings, Timing
from controller.ocpp.state import ProfileStyle
from sim.ocpp_cp import FW5
from tests.controller.ctl_helpers import WPA, ManualClock
from tests.controller.ocpp_helpers import CP_ID, FAST, ocpp_rig

THREE_PHASE_W_PER_A = 3 * 400 / 3**0.5  # the simulated car on 3 x 230.9 V


@pytest.fixture
def clock():
    return ManualClock()


def start(rig, current_a: int = 10) -> None:
    rig.charger.set_current(current_a, rig.clock())
    rig.charger.resume(rig.clock())
    rig.run(20)


def received(rig) -> list[str]:
    """What the charge point was sent, in order."""
    return [e[1:] for e in rig.sim.journal if e.startswith("<")]


def test_setup_comes_after_the_boot_and_asks_for_10_s_samples(clock):
    with ocpp_rig(clock) as rig:
        assert rig.sim.journal[0] == ">BootNotification"
        setup = ["GetConfiguration", "ChangeConfiguration", "ChangeConfiguration"]
        assert received(rig)[:3] == setup
        config = rig.pulsar.config
        assert config["MeterValueSampleInterval"] == "10"
        assert config["MeterValuesSampledData"].split(",") == [
            "Power.Active.Import",
            "Current.Import",
            "Energy.Active.Import.Register",
            "Current.Offered",
        ]
        v = rig.central.view()
        assert v.boot.firmware == "6.7.38" and v.boot.vendor == "Wall Box Chargers"
        assert v.identity == CP_ID and v.ready and v.setup_done


def test_a_car_waiting_in_preparing_is_started_by_a_bare_remote_start(clock):
    with ocpp_rig(clock) as rig:
        snap = rig.charger.snapshot(clock())
        assert (snap.connector_status, snap.phase) == ("Preparing", Phase.PAUSED)
        assert snap.car_connected and not snap.enabled and not snap.drawing
        start(rig, 10)
        snap = rig.charger.snapshot(clock())
        assert (snap.phase, snap.setpoint_a, snap.estimated) == (Phase.CHARGING, 10, frozenset())
        assert snap.power_w == pytest.approx(10 * THREE_PHASE_W_PER_A, abs=1)
        assert snap.current_per_phase_a == (10.0, 10.0, 10.0) and snap.phases_active == 3
        assert snap.measured_watts_per_amp == pytest.approx(WPA, rel=0.001)
        assert snap.added_energy_kwh is not None and snap.added_energy_kwh > 0
        # One profile (no second one for the resume), then the start; the Pulsar refuses a remote
        # start with a profile inside, so this one had none.
        assert rig.pulsar.commands[-2:] == ["limit 10", "start"]
        assert rig.central.view().profile_style == ProfileStyle("Relative", 3)
        assert rig.central.view().transaction_id is not None


def test_a_new_limit_shows_in_the_measured_draw_after_the_latency(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.charger.set_current(7, clock())
        snap = rig.charger.snapshot(clock())
        assert snap.setpoint_a == 7 and "power_w" in snap.estimated  # no sample since: estimated
        assert snap.power_w == pytest.approx(7 * WPA)
        rig.run(20)
        snap = rig.charger.snapshot(clock())
        assert snap.estimated == frozenset() and snap.current_per_phase_a == (7.0, 7.0, 7.0)
        assert snap.power_w == pytest.approx(7 * THREE_PHASE_W_PER_A, abs=1)


def test_pause_is_a_0_A_profile_and_resume_needs_no_new_session(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        tx = rig.central.view().transaction_id
        rig.charger.pause(clock())
        snap = rig.charger.snapshot(clock(), allow_read=False)  # before any status: our word
        assert (snap.connector_status, snap.estimated >= {"status"}) == ("SuspendedEVSE", True)
        rig.run(20)
        snap = rig.charger.snapshot(clock())
        assert (snap.connector_status, snap.phase, snap.power_w) == (
            "SuspendedEVSE",
            Phase.PAUSED,
            0,
        )
        assert snap.car_connected and not snap.enabled and snap.setpoint_a == 10
        rig.charger.resume(clock())
        rig.run(20)
        snap = rig.charger.snapshot(clock())
        assert snap.phase is Phase.CHARGING and snap.power_w == pytest.approx(10 * WPA, rel=0.01)
        assert rig.central.view().transaction_id == tx
        assert rig.pulsar.commands[-4:] == ["limit 10", "start", "limit 0", "limit 10"]


def test_a_limit_set_while_paused_waits_for_the_resume(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.charger.pause(clock())
        rig.run(20)
        rig.charger.set_current(8, clock())
        rig.run(20)
        snap = rig.charger.snapshot(clock())
        assert snap.phase is Phase.PAUSED and snap.setpoint_a == 8
        assert rig.pulsar.commands[-1] == "limit 0"
        rig.charger.resume(clock())
        rig.run(20)
        assert rig.charger.snapshot(clock()).current_per_phase_a == (8.0, 8.0, 8.0)


def test_a_one_phase_car_shows_as_one_phase_and_its_watts_per_amp(clock):
    with ocpp_rig(clock, car_phases=1) as rig:
        start(rig, 16)
        snap = rig.charger.snapshot(clock())
        assert snap.current_per_phase_a == (16.0, 0.0, 0.0) and snap.phases_active == 1
        assert snap.measured_watts_per_amp == pytest.approx(WPA / 3, rel=0.001)


def test_a_reconnect_without_a_boot_is_asked_for_one_and_keeps_the_session(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        tx = rig.central.view().transaction_id
        rig.sim.disconnect()
        with pytest.raises(ChargerError):
            rig.charger.set_current(9, clock())
        rig.sim.wait_connected()
        rig.central.wait_ready(5.0)
        assert "TriggerMessage(BootNotification)" in received(rig)
        assert rig.sim.connections == 2
        rig.run(20)
        snap = rig.charger.snapshot(clock())
        assert snap.phase is Phase.CHARGING and snap.setpoint_a == 10
        assert rig.central.view().transaction_id == tx  # recovered from the MeterValues


def test_nothing_goes_to_a_reconnected_charger_before_its_boot(clock):
    slow = Timing(boot_wait_s=1.0, call_timeout_s=3.0)
    with ocpp_rig(clock, timing=slow) as rig:
        before = len(rig.sim.journal)
        rig.sim.disconnect()
        rig.sim.wait_connected()
        with pytest.raises(ChargerStarting):
            rig.charger.snapshot(clock())
        time.sleep(0.5)
        assert [e for e in rig.sim.journal[before:] if e.startswith("<")] == []
        rig.central.wait_ready(5.0)
        after = rig.sim.journal[before:]
        asked = after.index("<TriggerMessage(BootNotification)")
        assert after[asked + 1] == ">BootNotification"


def test_a_reboot_mid_session_gets_the_limit_back_and_a_new_session(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.sim.reboot()
        rig.sim.wait_connected()
        rig.central.wait_ready(5.0)
        assert rig.pulsar.commands[-1] == "limit 10"  # our limit again, after its boot
        rig.run(5)
        snap = rig.charger.snapshot(clock())
        assert (snap.connector_status, snap.phase) == ("Preparing", Phase.PAUSED)
        assert rig.central.view().transaction_id is None
        rig.charger.resume(clock())
        rig.run(20)
        snap = rig.charger.snapshot(clock())
        assert snap.phase is Phase.CHARGING and snap.power_w == pytest.approx(10 * WPA, rel=0.01)


def test_a_sample_replayed_late_is_dropped(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 16)
        old = rig.pulsar.meter_values(clock())  # 16 A, kept back
        rig.charger.pause(clock())
        rig.run(30)
        rig.sim.send(old)
        snap = rig.charger.snapshot(clock())
        assert snap.power_w == 0 and snap.current_per_phase_a == (0.0, 0.0, 0.0)
        assert rig.central.view().dropped_samples == 1


def test_samples_kept_offline_are_replayed_and_only_recent_ones_count(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.sim.offline()
        rig.run(600, step_s=2)  # ten minutes offline: 60 samples kept
        assert len(rig.sim.backlog) == 60
        rig.sim.offline(False)
        rig.sim.wait_connected()
        rig.central.wait_ready(5.0)
        # 300 s is the oldest a sample may be on arrival: the first half are too old; the rest
        # count unless the fresh sample setup asks for overtook them.
        v = rig.central.view()
        assert 29 <= v.dropped_samples <= 60
        assert v.sample.sample.taken_at == clock()
        snap = rig.charger.snapshot(clock())
        assert snap.phase is Phase.CHARGING and snap.estimated == frozenset()


def test_a_late_sample_is_asked_for_once_per_interval(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.pulsar.config["MeterValueSampleInterval"] = "0"  # it stopped sampling on its own
        rig.run(30)
        snap = rig.charger.snapshot(clock())
        assert rig.charger.triggers == 1 and snap.read_at == clock()
        rig.run(5)
        rig.charger.snapshot(clock())
        assert rig.charger.triggers == 1  # not again within the 10 s interval
        rig.run(15)
        rig.charger.snapshot(clock())
        rig.charger.snapshot(clock(), allow_read=False)
        assert rig.charger.triggers == 2


def test_a_sample_is_asked_for_once_a_new_limit_has_settled_and_none_shows_it(clock):
    """The 10 s cycle may come 7 s after a new limit and 2 s before the next sample: the
    snapshot would then be an estimate at the configured watts per ampere. It asks instead."""
    with ocpp_rig(clock, car_phases=1) as rig:
        start(rig, 10)
        rig.run(10 - (clock() - rig.central.view().sample.received_at).total_seconds())
        rig.charger.set_current(16, clock())  # just after a sample: the next is 10 s away
        rig.run(7)
        assert rig.charger.snapshot(clock(), allow_read=False).estimated == {"power_w"}
        triggers = rig.charger.triggers
        snap = rig.charger.snapshot(clock())
        assert rig.charger.triggers == triggers + 1 and snap.read_at == clock()
        assert snap.estimated == frozenset() and snap.current_per_phase_a == (16.0, 0.0, 0.0)
        assert snap.measured_watts_per_amp == pytest.approx(THREE_PHASE_W_PER_A / 3, rel=0.001)
        rig.charger.snapshot(clock())
        assert rig.charger.triggers == triggers + 1  # that sample shows it: not asked again


def test_a_firmware_that_ignores_the_limit_is_found_out(clock, caplog):
    with ocpp_rig(clock, ignores_limit=True) as rig:
        start(rig, 6)
        assert not rig.charger.snapshot(clock()).limit_ignored  # 20 s: too early to judge
        rig.run(20)
        snap = rig.charger.snapshot(clock())
        assert snap.limit_ignored and snap.offered_a == 32
        assert snap.current_per_phase_a == (32.0, 32.0, 32.0)
        rig.charger.snapshot(clock())
        warnings = [r for r in caplog.records if "ignores charging profiles" in r.message]
        assert len(warnings) == 1
        assert "accepted a 6 A limit but offers 32.0 A and draws 32.0 A" in warnings[0].message


def test_a_slow_ramp_is_not_taken_for_an_ignored_limit(clock, caplog):
    with ocpp_rig(clock, latency_s=20.0) as rig:
        start(rig, 16)
        rig.run(20)
        rig.charger.set_current(6, clock())
        for _ in range(6):
            rig.run(10)
            assert not rig.charger.snapshot(clock()).limit_ignored
        assert rig.pulsar.current_a() == (6.0, 6.0, 6.0)
    assert "ignores charging profiles" not in caplog.text


def test_firmware_5_gets_its_profiles_at_stack_level_0(clock):
    with ocpp_rig(clock, firmware=FW5) as rig:
        start(rig, 10)
        assert rig.central.view().profile_style == ProfileStyle("Absolute", 0)
        assert rig.charger.snapshot(clock()).phase is Phase.CHARGING


def test_a_profile_style_the_firmware_refuses_falls_back_to_the_other(clock):
    with ocpp_rig(clock) as rig:
        rig.pulsar.config["ChargeProfileMaxStackLevel"] = "0"  # it told us 3, it takes 0
        start(rig, 10)
        assert rig.central.view().profile_style == ProfileStyle("Absolute", 0)
        assert rig.pulsar.commands[-3:-1] == ["rejected profile at stack level 3", "limit 10"]
        rig.charger.set_current(8, clock())  # the style that worked goes first from now on
        assert rig.pulsar.commands[-1] == "limit 8"


def test_an_unknown_identity_is_refused_when_the_id_is_configured(clock):
    settings = OcppSettings(host="127.0.0.1", port=0, charge_point_id="my-wallbox")
    with ocpp_rig(clock, settings=settings, identity="intruder", wait=False) as rig:
        deadline = time.monotonic() + 5
        while not rig.sim.refusals and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rig.sim.refusals[0] == 404 and rig.central.view() is None
        with pytest.raises(ChargerUnavailable):
            rig.charger.snapshot(clock())
    with ocpp_rig(clock, settings=settings, identity="my-wallbox") as rig:
        assert rig.charger.snapshot(clock()).charger_id == "my-wallbox"


@pytest.mark.parametrize(
    ("password", "accepted"), [("s3cret-Pulsar", True), ("wrong", False), (None, False)]
)
def test_http_basic_password(clock, caplog, password, accepted):
    caplog.set_level(logging.DEBUG)
    settings = OcppSettings(host="127.0.0.1", port=0, password=Secret("s3cret-Pulsar"))
    with ocpp_rig(clock, settings=settings, password=password, wait=False) as rig:
        if accepted:
            rig.central.wait_ready(5.0)
            assert rig.sim.refusals == []
        else:
            deadline = time.monotonic() + 5
            while not rig.sim.refusals and time.monotonic() < deadline:
                time.sleep(0.01)
            assert rig.sim.refusals[0] == 401 and rig.central.view() is None
    token = base64.b64encode(f"{CP_ID}:s3cret-Pulsar".encode()).decode()
    assert "s3cret-Pulsar" not in caplog.text and token not in caplog.text
    assert "without a password" not in caplog.text


def test_no_password_is_warned_about_at_start(clock, caplog):
    with ocpp_rig(clock):
        pass
    assert "OCPP without a password" in caplog.text


def test_a_charger_that_goes_away_is_unavailable_and_commands_fail_cleanly(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.sim.offline()
        deadline = time.monotonic() + 5
        while rig.central.view().connection != "disconnected" and time.monotonic() < deadline:
            time.sleep(0.01)
        for action in (
            lambda: rig.charger.snapshot(clock()),
            lambda: rig.charger.set_current(8, clock()),
            lambda: rig.charger.pause(clock()),
            lambda: rig.charger.resume(clock()),
        ):
            with pytest.raises(ChargerUnavailable, match="no charge point connected"):
                action()


def test_a_charger_that_does_not_answer_costs_a_deadline_not_a_hang(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.pulsar.stall_s = 30
        began = time.monotonic()
        with pytest.raises(ChargerUnavailable, match="no answer within 3 s"):
            rig.charger.set_current(8, clock())
        assert time.monotonic() - began < FAST.call_timeout_s + 1.5


def test_a_stop_request_abandons_a_call_the_charger_does_not_answer(clock):
    """SIGTERM while a call waits for a charger that hangs: abandoned within a poll, not after
    the call's deadline (common.stopping sets the flag from the signal handler)."""
    import threading

    from common.stopping import Stopping

    stopping = Stopping()
    try:
        with ocpp_rig(clock, timing=Timing(boot_wait_s=0.3, call_timeout_s=30.0),
                      stop=stopping.is_set) as rig:  # fmt: skip
            start(rig, 10)
            rig.pulsar.stall_s = 30
            threading.Timer(0.3, stopping.request).start()
            began = time.monotonic()
            with pytest.raises(ChargerUnavailable, match="SetChargingProfile: abandoned: stopping"):
                rig.charger.set_current(8, clock())
            assert time.monotonic() - began < 1.0
            with pytest.raises(ChargerUnavailable, match="not sent: stopping"):
                rig.charger.set_current(8, clock())
            rig.pulsar.stall_s = 0
    finally:
        stopping.close()


def test_a_refused_command_is_a_charger_error(clock):
    with ocpp_rig(clock) as rig:
        rig.sim.unplug()
        rig.run(2)
        assert rig.charger.snapshot(clock()).phase is Phase.NO_CAR
        with pytest.raises(CommandRefused, match="RemoteStartTransaction: Rejected"):
            rig.central.run(lambda cp: cp.remote_start(), "RemoteStartTransaction")
        assert issubclass(CommandRefused, ChargerError)


def test_unplugging_ends_the_session(clock):
    with ocpp_rig(clock) as rig:
        start(rig, 10)
        rig.sim.unplug()
        rig.run(2)
        snap = rig.charger.snapshot(clock())
        assert (snap.connector_status, snap.phase, snap.car_connected) == (
            "Available",
            Phase.NO_CAR,
            False,
        )
        assert rig.central.view().transaction_id is None
