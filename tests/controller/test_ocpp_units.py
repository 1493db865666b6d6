"""The pure parts of local control: MeterValues read into samples, which samples count, whether a
limit took, the profile style per firmware, who may connect, and the OCPP statuses as phases."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from websockets.datastructures import Headers

from common.snapshot import ChargerSnapshot, Phase
from controller.ocpp.profiles import ProfileStyle, charging_profile, firmware_major, profile_styles
from controller.ocpp.samples import (
    MeterSample,
    is_news,
    limit_ignored,
    parse_meter_value,
    parse_meter_values,
    parse_time,
)
from controller.ocpp.server import basic_credentials, identity_of

T = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def sv(measurand, value, unit, phase=None, **kw):
    out = {"value": value, "measurand": measurand, "unit": unit, "location": "Outlet", **kw}
    return out if phase is None else {**out, "phase": phase}


#: A Pulsar Plus sample as it arrives (snake_case, as the ocpp package hands it over): strings,
#: units, currents per phase, a car on three phases at 10 A.
PULSAR_3P = {
    "timestamp": "2030-06-01T12:00:00Z",
    "sampled_value": [
        sv("Energy.Active.Import.Register", "1234567.0", "Wh"),
        sv("Power.Active.Import", "6928.2", "W"),
        sv("Current.Offered", "10.0", "A"),
        sv("Current.Import", "10.0", "A", "L1"),
        sv("Current.Import", "10.1", "A", "L2"),
        sv("Current.Import", "9.9", "A", "L3"),
        sv("Voltage", "230.9", "V", "L1-N"),
        sv("Voltage", "0.0", "V", "L2-N"),
        sv("Voltage", "0.0", "V", "L3-N"),
    ],
}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            PULSAR_3P,
            MeterSample(T, 6928.2, (10.0, 10.1, 9.9), 1234567.0, 10.0, (230.9, 0.0, 0.0)),
        ),
        (  # kW and kWh scale; an unreadable value is skipped, not guessed
            {
                "timestamp": "2030-06-01T12:00:00+00:00",
                "sampled_value": [
                    sv("Power.Active.Import", "2.3", "kW"),
                    sv("Energy.Active.Import.Register", "12.5", "kWh"),
                    sv("Current.Offered", "n/a", "A"),
                    sv("Current.Import", "nan", "A", "L1"),
                ],
            },
            MeterSample(T, 2300.0, None, 12500.0, None, None),
        ),
        (  # one phase reported: the others are 0; no measurand means the energy register
            {
                "timestamp": "2030-06-01T14:00:00+02:00",
                "sampled_value": [
                    {"value": "99"},
                    sv("Current.Import", "16", "A", "L1"),
                ],
            },
            MeterSample(T, None, (16.0, 0.0, 0.0), 99.0, None, None),
        ),
        (  # a total current without a phase counts as L1
            {"timestamp": "2030-06-01T12:00:00", "sampled_value": [sv("Current.Import", "6", "A")]},
            MeterSample(T, None, (6.0, 0.0, 0.0), None, None, None),
        ),
    ],
    ids=["pulsar-3-phase", "units-and-garbage", "one-phase-default-measurand", "no-phase"],
)
def test_meter_values_are_read_into_samples(entry, expected):
    assert parse_meter_value(entry) == expected


def test_entries_without_a_readable_time_are_skipped_and_the_rest_sorted():
    later = {**PULSAR_3P, "timestamp": "2030-06-01T12:00:10Z"}
    samples = parse_meter_values([later, {"timestamp": "yesterday"}, PULSAR_3P, {}])
    assert [s.taken_at for s in samples] == [T, T + timedelta(seconds=10)]


@pytest.mark.parametrize(
    ("taken_s", "last_s", "received_s", "news"),
    [
        (10, 0, 10, True),  # the next sample
        (0, 0, 10, False),  # the same one again
        (-10, 0, 10, False),  # older than the last accepted: a replay
        (-250, None, 0, True),  # first after a restart, late but within 300 s
        (-2760, None, 0, False),  # 46 minutes late (seen after a reconnect)
    ],
)
def test_which_samples_are_news(taken_s, last_s, received_s, news):
    sample = MeterSample(T + timedelta(seconds=taken_s))
    last = None if last_s is None else MeterSample(T + timedelta(seconds=last_s))
    assert is_news(sample, last, T + timedelta(seconds=received_s), max_age_s=300) is news


@pytest.mark.parametrize(
    ("limit_a", "offered_a", "current_a", "ignored"),
    [
        (10, 10.0, (10.0, 10.0, 10.0), False),
        (10, 10.0, (7.0, 7.0, 7.0), False),  # the car takes less than offered
        (6, 16.0, (16.0, 16.0, 16.0), True),  # FW 6.4: accepted 6 A, charged 16 A
        (6, 16.0, None, True),  # offered above the limit
        (9, 9.0, (16.0, 0.0, 0.0), True),  # offers the limit, draws more
        (16, 10.0, (10.0, 10.0, 10.0), False),  # capped below by the installation: not ignored
        (0, 11.0, (0.0, 0.0, 0.0), False),  # FW 5.17 keeps reporting its offer after 0 A
        (0, 0.0, (11.0, 11.0, 11.0), True),  # but a draw at 0 A is the pause ignored
        (10, None, None, None),  # cannot tell
    ],
)
def test_whether_a_limit_took(limit_a, offered_a, current_a, ignored):
    sample = MeterSample(T, offered_a=offered_a, current_a=current_a)
    assert limit_ignored(limit_a, sample) is ignored


@pytest.mark.parametrize(
    ("firmware", "max_stack", "first"),
    [
        ("6.7.38", 3, ProfileStyle("Relative", 3)),
        ("6.4.14", None, ProfileStyle("Relative", 0)),
        ("v5.17.87", 3, ProfileStyle("Absolute", 0)),
        (None, 2, ProfileStyle("Relative", 2)),
    ],
)
def test_profile_style_per_firmware_with_the_other_as_fallback(firmware, max_stack, first):
    styles = profile_styles(firmware, max_stack)
    assert styles[0] == first and len(set(styles)) == 2


def test_a_profile_is_whole_amps_from_0_s():
    relative = charging_profile(10, ProfileStyle("Relative", 3), T)
    assert (relative.stack_level, relative.charging_profile_purpose) == (3, "TxDefaultProfile")
    schedule = relative.charging_schedule
    assert schedule.charging_rate_unit == "A" and schedule.start_schedule is None
    assert [(p.start_period, p.limit) for p in schedule.charging_schedule_period] == [(0, 10.0)]
    absolute = charging_profile(0, ProfileStyle("Absolute", 0), T)
    assert absolute.charging_schedule.start_schedule == "2030-06-01T11:59:00Z"


def test_firmware_major():
    assert [firmware_major(f) for f in ("6.7.38", "v5.17.87", "x", None)] == [6, 5, None, None]


@pytest.mark.parametrize(
    ("path", "identity"),
    [
        ("/g001", "g001"),
        ("/ocpp/PLP1-123456", "PLP1-123456"),
        ("/g001/g001/", "g001"),  # the id typed into the URL as well
        ("/ocpp/my%20box?x=1", "my box"),
        ("/", ""),
    ],
)
def test_the_identity_is_the_last_path_segment(path, identity):
    assert identity_of(path) == identity


@pytest.mark.parametrize(
    ("header", "creds"),
    [
        ("Basic " + base64.b64encode(b"g001:pa:ss").decode(), ("g001", "pa:ss")),
        ("basic " + base64.b64encode(b"g001:").decode(), ("g001", "")),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None),
        ("Basic !!!", None),
        ("Bearer abc", None),
        ("", None),
    ],
)
def test_basic_credentials(header, creds):
    headers = Headers({"Authorization": header} if header else {})
    assert basic_credentials(headers) == creds


@pytest.mark.parametrize(
    ("status", "phase", "label", "connected", "enabled"),
    [
        ("Available", Phase.NO_CAR, "Ready", False, False),
        ("Preparing", Phase.PAUSED, "Waiting for a start", True, False),
        ("Charging", Phase.CHARGING, "Charging", True, True),
        ("SuspendedEVSE", Phase.PAUSED, "Paused", True, False),
        ("SuspendedEV", Phase.CAR_DEMAND, "Waiting for car demand", True, True),
        ("Finishing", Phase.PAUSED, "Finishing", True, False),
        ("Reserved", Phase.LOCKED, "Reserved", False, False),
        ("Unavailable", Phase.LOCKED, "Unavailable", False, False),
        ("Faulted", Phase.ERROR, "Error", False, False),
        ("Bogus", Phase.UNKNOWN, "Bogus", False, False),
    ],
)
def test_ocpp_statuses_mean_what_the_policy_needs(status, phase, label, connected, enabled):
    snap = ChargerSnapshot(
        ts=T, charger_id="g001", status_id=None, setpoint_a=10, power_w=0, connector_status=status
    )
    assert (snap.phase, snap.status, snap.car_connected, snap.enabled) == (
        phase,
        label,
        connected,
        enabled,
    )


def test_measured_phases_and_watts_per_amp():
    snap = ChargerSnapshot(
        ts=T,
        charger_id="g001",
        status_id=None,
        setpoint_a=16,
        power_w=3680.0,
        connector_status="Charging",
        current_per_phase_a=(16.0, 0.2, 0.0),
    )
    assert snap.phases_active == 1 and snap.measured_watts_per_amp == pytest.approx(230.0)
    cloud = ChargerSnapshot(ts=T, charger_id="1", status_id=194, setpoint_a=16, power_w=3680.0)
    assert cloud.phases_active is None and cloud.measured_watts_per_amp is None


def test_parse_time_reads_what_chargers_send():
    assert parse_time("2030-06-01T12:00:00.123Z") == T + timedelta(milliseconds=123)
