"""The simulated Pulsar: the quirks it must have for the OCPP tests to mean anything, and its
command line against our central system in real time."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import Call, _validate_payload
from ocpp.v16 import call

from common.models import utcnow
from common.ports import ChargerError
from controller.ocpp import CentralSystem, CommandRefused, OcppCharger, OcppSettings, Timing
from sim.clock import ManualClock
from sim.ocpp_cp import FW5, Pulsar, SimChargePoint
from sim.ocpp_cp.messages import Outgoing

T0 = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)


def profile(limit_a: float, stack_level: int = 3, unit: str = "A") -> dict:
    return {
        "charging_profile_id": 1,
        "stack_level": stack_level,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": unit,
            "charging_schedule_period": [{"start_period": 0, "limit": limit_a}],
        },
    }


def started(clock: ManualClock, **kw) -> Pulsar:
    """A Pulsar whose car waited in Preparing and was started remotely (transaction 7)."""
    p = Pulsar(clock, **kw)
    assert p.status == "Preparing"
    assert p.remote_start("tag", clock()) == "Accepted"
    assert p.due(clock())[0].action == "StartTransaction"
    p.transaction_started(7, clock())
    return p


def test_a_car_waits_in_preparing_until_a_remote_start():
    clock = ManualClock(T0)
    p = Pulsar(clock)
    clock.advance(3600)
    assert p.status == "Preparing" and p.power_w(clock()) == 0
    p = started(clock)
    assert p.status == "Charging" and p.current_a() == (32.0, 32.0, 32.0)
    assert p.remote_start("again", clock()) == "Rejected"  # one session at a time


def test_a_limit_moves_the_status_at_once_and_the_current_after_the_latency():
    clock = ManualClock(T0)
    p = started(clock, latency_s=4.0, status_latency_s=0.5)
    assert p.set_profile(profile(0), clock()) == "Accepted"
    p.advance(clock.advance(1))
    assert p.status == "SuspendedEVSE" and p.power_w(clock()) > 0  # still ramping down
    clock.advance(4)
    assert p.power_w(clock()) == 0
    p.set_profile(profile(3), clock())  # below 6 A: 6 A
    p.advance(clock.advance(5))
    assert p.status == "Charging" and p.current_a() == (6.0, 6.0, 6.0)


@pytest.mark.parametrize(
    ("kw", "stack_level", "unit", "result"),
    [
        ({}, 3, "A", "Accepted"),
        ({}, 4, "A", "Rejected"),  # above ChargeProfileMaxStackLevel
        ({}, 3, "W", "Rejected"),  # the rate unit must be amps
        ({"firmware": FW5}, 1, "A", "Rejected"),  # 5.x: stack level 0 only
        ({"firmware": FW5}, 0, "A", "Accepted"),
    ],
)
def test_which_profiles_it_takes(kw, stack_level, unit, result):
    clock = ManualClock(T0)
    assert Pulsar(clock, **kw).set_profile(profile(10, stack_level, unit), clock()) == result


def test_a_firmware_that_ignores_limits_keeps_charging_at_its_maximum():
    clock = ManualClock(T0)
    p = started(clock, ignores_limit=True, max_current_a=16)
    assert p.set_profile(profile(6), clock()) == "Accepted"
    clock.advance(10)
    assert p.offered_a == 16 and p.current_a() == (16.0, 16.0, 16.0)


def test_a_one_phase_car_a_full_car_and_the_energy_register():
    clock = ManualClock(T0)
    p = started(clock, car_phases=1, kwh_to_full=1.0)
    p.set_profile(profile(16), clock())
    p.advance(clock.advance(5))
    assert p.current_a() == (16.0, 0.0, 0.0)
    start_wh = p.energy_wh
    clock.advance(600)
    p.advance(clock())
    assert p.energy_wh - start_wh == pytest.approx(16 * 230.94 * 600 / 3600, rel=0.001)
    clock.advance(3600)
    assert p.power_w(clock()) == 0 and p.status == "SuspendedEV"


def test_it_samples_what_it_was_told_every_interval():
    clock = ManualClock(T0)
    p = started(clock)
    p.configure("MeterValuesSampledData", "Power.Active.Import,Current.Import")
    assert p.configure("MeterValuesSampledData", "SoC") == "Rejected"  # it never reports SoC
    assert p.configure("MeterValueSampleInterval", "10") == "Accepted"
    sent = []
    for _ in range(61):
        clock.advance(1)
        sent += [m for m in p.due(clock()) if m.action == "MeterValues"]
    times = [m.payload["meter_value"][0]["timestamp"][-3:-1] for m in sent]
    assert times == ["11", "21", "31", "41", "51", "01"]  # every 10 s from the change on
    values = sent[-1].payload["meter_value"][0]["sampled_value"]
    assert {(v["measurand"], v.get("phase")) for v in values} == {
        ("Power.Active.Import", None),
        ("Current.Import", "L1"),
        ("Current.Import", "L2"),
        ("Current.Import", "L3"),
    }
    assert all(isinstance(v["value"], str) for v in values)
    assert sent[-1].payload["transaction_id"] == 7


def test_a_reboot_forgets_the_transaction_and_keeps_the_profile():
    clock = ManualClock(T0)
    p = started(clock)
    p.set_profile(profile(10), clock())
    p.advance(clock.advance(10))
    p.reboot(clock())
    assert p.transaction_id is None and p.status == "Preparing" and not p.booted
    assert p.offered_a == 10


def test_a_remote_start_with_a_profile_inside_is_refused_as_the_real_one_does():
    clock = ManualClock(T0)
    with CentralSystem(
        OcppSettings(host="127.0.0.1", port=0), clock=clock, timing=Timing(boot_wait_s=0.3)
    ) as central:
        url = f"ws://127.0.0.1:{central.port}/g001"
        with SimChargePoint(url, Pulsar(clock), clock, realtime=False):
            central.wait_ready(5)
            request = call.RemoteStartTransaction(
                id_tag="x", connector_id=1, charging_profile=profile(10)
            )
            with pytest.raises(CommandRefused, match="ProtocolError"):
                central.run(lambda cp: cp._call(request), "RemoteStartTransaction")


def test_the_command_line_runs_a_pulsar_in_real_time():
    """``python -m sim.ocpp_cp`` against our central system: boots, is started, charges."""
    with CentralSystem(
        OcppSettings(host="127.0.0.1", port=0), clock=utcnow, timing=Timing(meter_interval_s=1)
    ) as central:
        url = f"ws://127.0.0.1:{central.port}/cli-pulsar"
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.ocpp_cp", "--url", url, "--latency-s", "0.2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            central.wait_ready(20)
            charger = OcppCharger(central, 692.8, settle_s=0.5)
            charger.set_current(8, utcnow())
            charger.resume(utcnow())
            deadline = time.monotonic() + 10
            snap = None
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    snap = charger.snapshot(utcnow())
                except ChargerError:
                    continue
                if snap.current_per_phase_a == (8.0, 8.0, 8.0):
                    break
            assert snap is not None and snap.connector_status == "Charging"
            assert snap.current_per_phase_a == (8.0, 8.0, 8.0)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "Simulated Pulsar (6.7.38) calling" in out and "cli-pulsar: Charging" in out


def test_outgoing_messages_are_valid_ocpp():
    """Every message the model emits passes the ocpp package's own schema check."""
    clock = ManualClock(T0)
    p = started(clock)
    p.configure("MeterValuesSampledData", "Power.Active.Import,Current.Import,Voltage")
    clock.advance(10)
    messages = [
        p.boot_notification(),
        p.status_notification(clock()),
        p.meter_values(clock()),
        *p.unplug(clock() + timedelta(seconds=1)),
        Outgoing("Heartbeat"),
    ]
    for m in messages:
        payload = snake_to_camel_case(serialize_as_dict(getattr(call, m.action)(**m.payload)))
        _validate_payload(Call("1", m.action, remove_nones(payload)), "1.6")
