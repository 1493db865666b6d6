"""The HomeWizard client over real HTTP/HTTPS against the simulated P1 meter on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest

from collector.errors import (
    MeterDisabledError,
    MeterHTTPError,
    MeterInvalidResponse,
    MeterServerError,
    MeterTimeout,
    MeterTLSError,
    MeterUnauthorizedError,
    MeterUnreachable,
)
from collector.homewizard import HomeWizardClient, normalize_url
from collector.parse import parse_reading
from sim.meter import Fault
from tests.fakes.p1_meter import SERIAL, TOKEN

TS = datetime(2026, 5, 18, 10, 31, 7, tzinfo=UTC)

# What the reference moment (-4200 W, 3 phases) must become, in the v1 vocabulary.
EXPECTED_EXPORT_4200 = {
    "active_power_w": -4200.0,
    "active_power_l1_w": -1420.0,
    "active_power_l2_w": -1390.0,
    "active_power_l3_w": -1390.0,
    "active_voltage_l1_v": 238.1,
    "active_voltage_l2_v": 238.1,
    "active_voltage_l3_v": 238.1,
    "active_current_l1_a": 5.96,  # unsigned, whatever the meter sent
    "active_current_l2_a": 5.84,
    "active_current_l3_a": 5.84,
    "total_power_import_kwh": 6843.217,
    "total_power_export_kwh": 5210.908,
    "active_power_average_w": 0.0,
    "montly_power_peak_w": 3560.0,
}


def _client(url: str, **kw: object) -> HomeWizardClient:
    kw.setdefault("clock", lambda: TS)
    return HomeWizardClient(url, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- v1 -------------------------------------------------------------------------------------
def test_v1_reading_has_every_field_in_the_v1_vocabulary(sim_meter):
    server = sim_meter()
    with _client(server.url) as c:
        r = c.read()
        r2 = c.read()
    assert r.ts == TS
    assert r.meter == SERIAL
    values = r.values()
    assert values.keys() == EXPECTED_EXPORT_4200.keys()
    for k, v in EXPECTED_EXPORT_4200.items():
        # Counters may have grown by the energy of the few ms between the two requests.
        assert values[k] == pytest.approx(v, abs=1e-3), k
    assert r2.active_power_w == -4200.0
    assert server.requests["/api"] == 1, "device info is fetched once"
    assert server.requests["/api/v1/data"] == 2


@pytest.mark.parametrize("signed", [False, True])
def test_v1_currents_are_stored_unsigned(sim_meter, signed):
    server = sim_meter()
    server.meter.signed_currents = signed
    with _client(server.url) as c:
        r = c.read()
    assert (r.active_current_l1_a, r.active_current_l2_a, r.active_current_l3_a) == (
        5.96,
        5.84,
        5.84,
    )


def test_v1_null_and_missing_keys_are_the_same(sim_meter):
    server = sim_meter()
    server.meter.null_fields = {"active_power_l1_w", "montly_power_peak_w"}
    server.meter.omit_fields = {"active_voltage_l2_v", "active_power_average_w"}
    with _client(server.url) as c:
        r = c.read()
    assert r.active_power_l1_w is None
    assert r.montly_power_peak_w is None
    assert r.active_voltage_l2_v is None
    assert r.active_power_average_w is None
    assert r.active_power_w == -4200.0
    assert r.active_power_l2_w == -1390.0


def test_v1_missing_total_falls_back_to_the_sum_of_tariffs(sim_meter):
    server = sim_meter()
    server.meter.omit_fields = {"total_power_import_kwh"}
    with _client(server.url) as c:
        r = c.read()
    assert r.total_power_import_kwh == pytest.approx(3921.554 + 2921.663)


def test_v1_single_phase_meter(sim_meter):
    server = sim_meter(provider=lambda now: 1840.0, phases=1)
    with _client(server.url) as c:
        r = c.read()
    assert r.active_power_w == 1840.0
    assert r.active_power_l1_w == 1840.0
    assert (r.active_power_l2_w, r.active_power_l3_w) == (None, None)  # sent as null
    assert (r.active_voltage_l2_v, r.active_current_l3_a) == (None, None)  # not sent
    assert r.active_current_l1_a == pytest.approx(1840 / 231.0, abs=0.01)


def test_v1_without_device_info_is_tagged_p1(sim_meter):
    server = sim_meter()
    server.device_info = False
    with _client(server.url) as c:
        assert c.read().meter == "p1"
        assert c.read().meter == "p1"
    assert server.requests["/api"] == 1


# -- errors --------------------------------------------------------------------------------
def test_403_says_to_enable_the_local_api(sim_meter):
    server = sim_meter()
    server.inject(Fault.API_DISABLED)
    with _client(server.url) as c, pytest.raises(MeterDisabledError) as err:
        c.read()
    assert err.value.status == 403
    assert '"Local API"' in str(err.value) and "HomeWizard" in str(err.value)
    assert "\n" not in str(err.value)


def test_401_on_v1_hints_at_api_v2(sim_meter):
    server = sim_meter()
    server.inject(Fault.UNAUTHORIZED)
    with _client(server.url) as c, pytest.raises(MeterUnauthorizedError, match=r"meter\.api: v2"):
        c.read()


def test_500_is_a_server_error_and_the_next_poll_works(sim_meter):
    server = sim_meter()
    with _client(server.url) as c:
        c.device()
        server.inject(Fault.SERVER_ERROR, count=1)
        with pytest.raises(MeterServerError, match="HTTP 500") as err:
            c.read()
        assert err.value.status == 500
        assert c.read().active_power_w == -4200.0


@pytest.mark.parametrize("fault", [Fault.TRUNCATED, Fault.GARBAGE])
def test_truncated_or_garbage_json_is_an_invalid_response(sim_meter, fault):
    server = sim_meter()
    with _client(server.url) as c:
        c.device()
        server.inject(fault, count=1)
        with pytest.raises(MeterInvalidResponse, match="invalid JSON"):
            c.read()
        assert c.read().active_power_w == -4200.0


def test_a_reply_slower_than_the_timeout_is_a_timeout(sim_meter):
    server = sim_meter()
    with _client(server.url, timeout_s=0.3) as c:
        c.device()
        server.inject(Fault.SLOW, count=1, delay_s=3.0)
        t0 = time.monotonic()
        with pytest.raises(MeterTimeout, match=r"within 0\.3 s"):
            c.read()
        assert time.monotonic() - t0 < 2.0


def test_connection_refused_is_unreachable():
    with (
        _client(f"http://127.0.0.1:{_free_port()}") as c,
        pytest.raises(MeterUnreachable, match="connection refused"),
    ):
        c.read()


def test_a_dropped_connection_is_unreachable(sim_meter):
    server = sim_meter()
    with _client(server.url) as c:
        c.device()
        server.inject(Fault.DISCONNECT, count=1)
        with pytest.raises(MeterUnreachable):
            c.read()
        assert c.read().active_power_w == -4200.0


def test_a_stopped_meter_refuses_even_on_a_kept_alive_connection(sim_meter):
    server = sim_meter()
    with _client(server.url) as c:
        assert c.read().active_power_w == -4200.0
        server.stop()
        with pytest.raises(MeterUnreachable):
            c.read()


def test_404_names_the_url_and_api(sim_meter):
    server = sim_meter(api="v1")
    with _client(server.url, api="v1") as c:
        c._data_path = "/api/v9/data"  # a wrong path, as with a wrong meter.api on a proxy
        with pytest.raises(MeterHTTPError, match=r"meter\.api") as err:
            c.read()
    assert err.value.status == 404


# -- v2 ------------------------------------------------------------------------------------
def test_v2_verified_against_the_ca_and_the_appliance_name(v2_meter, test_ca):
    with _client(v2_meter.url, api="v2", token=TOKEN, ca_pem=test_ca) as c:
        r = c.read()
        assert c.tls_name == f"appliance/p1dongle/{SERIAL}"
    assert r.meter == SERIAL
    values = r.values()
    assert values.keys() == EXPECTED_EXPORT_4200.keys()
    for k, v in EXPECTED_EXPORT_4200.items():
        assert values[k] == pytest.approx(v, abs=1e-3), k


def test_v2_signed_currents_become_unsigned(v2_meter, test_ca):
    v2_meter.meter.signed_currents = True  # the v2 docs' way: negative when exporting
    with _client(v2_meter.url, api="v2", token=TOKEN, ca_pem=test_ca) as c:
        r = c.read()
    assert r.active_current_l1_a == 5.96


def test_v2_nulls_missing_keys_and_one_phase(sim_meter, pki, test_ca):
    server = sim_meter(api="v2", tls=pki, token=TOKEN, phases=1)
    server.meter.null_fields = {"active_power_average_w"}
    server.meter.omit_fields = {"montly_power_peak_w", "total_power_export_kwh"}
    with _client(server.url, api="v2", token=TOKEN, ca_pem=test_ca) as c:
        r = c.read()
    assert r.active_power_w == -4200.0 and r.active_power_l1_w == -4200.0
    assert r.active_power_l2_w is None and r.active_voltage_l3_v is None
    assert r.active_power_average_w is None and r.montly_power_peak_w is None
    assert r.total_power_export_kwh == pytest.approx(4388.12 + 822.788)  # sum of tariffs


def test_v2_the_real_homewizard_ca_rejects_a_foreign_certificate(v2_meter):
    with (
        _client(v2_meter.url, api="v2", token=TOKEN) as c,
        pytest.raises(MeterTLSError, match="verify_tls"),
    ):
        c.read()


def test_v2_certificate_of_another_meter_is_rejected(sim_meter, pki, test_ca):
    # The certificate says 5c2fafa1b2c3, the device claims another serial: not our meter.
    server = sim_meter(api="v2", tls=pki, token=TOKEN, serial="aabbccddeeff")
    with (
        _client(server.url, api="v2", token=TOKEN, ca_pem=test_ca) as c,
        pytest.raises(MeterTLSError, match="appliance/p1dongle/aabbccddeeff"),
    ):
        c.read()


def test_v2_without_verification_works(v2_meter):
    with _client(v2_meter.url, api="v2", token=TOKEN, verify_tls=False) as c:
        assert c.read().active_power_w == -4200.0


def test_v2_wrong_token_is_unauthorized(v2_meter, test_ca):
    with (
        _client(v2_meter.url, api="v2", token="0" * 32, ca_pem=test_ca) as c,
        pytest.raises(MeterUnauthorizedError, match=r"meter\.token") as err,
    ):
        c.read()
    assert err.value.status == 401


def test_v2_500_and_truncated(v2_meter, test_ca):
    with _client(v2_meter.url, api="v2", token=TOKEN, ca_pem=test_ca) as c:
        c.device()
        v2_meter.inject(Fault.SERVER_ERROR, count=1)
        with pytest.raises(MeterServerError, match="request:internal-server-error"):
            c.read()
        v2_meter.inject(Fault.TRUNCATED, count=1)
        with pytest.raises(MeterInvalidResponse):
            c.read()
        assert c.read().active_power_w == -4200.0


def test_v2_needs_a_token_and_https():
    with pytest.raises(ValueError, match=r"meter\.token"):
        HomeWizardClient("https://127.0.0.1", api="v2")
    with pytest.raises(ValueError, match="HTTPS only"):
        HomeWizardClient("http://127.0.0.1", api="v2", token=TOKEN)


# -- pure parts ----------------------------------------------------------------------------
def test_parse_reading_rejects_a_non_object():
    with pytest.raises(MeterInvalidResponse, match="JSON object"):
        parse_reading([1, 2], TS)


def test_parse_reading_drops_a_field_of_the_wrong_type():
    r = parse_reading({"active_power_w": "n/a", "active_power_l1_w": True, "power_w": 5}, TS)
    assert r.active_power_w is None and r.active_power_l1_w is None
    assert r.values() == {}  # v2 names mean nothing in a v1 body


def test_parse_reading_v2_maps_names():
    body = {"power_w": -10, "current_l2_a": -1.5, "monthly_power_peak_w": 3000.0}
    r = parse_reading(body, TS, api="v2", meter="m")
    assert r.values() == {
        "active_power_w": -10.0,
        "active_current_l2_a": 1.5,
        "montly_power_peak_w": 3000.0,
    }
    assert r.meter == "m"


@pytest.mark.parametrize(
    ("url", "api", "expected"),
    [
        ("192.168.1.50", "v1", "http://192.168.1.50"),
        ("192.168.1.50", "v2", "https://192.168.1.50"),
        ("http://p1meter.local/", "v1", "http://p1meter.local"),
    ],
)
def test_normalize_url(url, api, expected):
    assert normalize_url(url, api) == expected


def test_normalize_url_refuses_a_path():
    with pytest.raises(ValueError, match="without a path"):
        normalize_url("http://192.168.1.50/api/v1/data", "v1")
