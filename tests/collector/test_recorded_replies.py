"""The HomeWizard P1 replies in tests/fixtures/homewizard/ (sources in its README.md) through the
parser, one case per file: each measurement gives the reading it says, each ``/api`` body its
serial, each error body the error class, status and code the collector reports. The simulated
meter is held to the same bodies: it may send only keys real meters send, with the same JSON types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
import requests

from collector.errors import (
    MeterDisabledError,
    MeterHTTPError,
    MeterUnauthorizedError,
)
from collector.parse import V2_TO_V1, parse_device, parse_reading, status_error
from common.models import P1_FIELDS
from sim.meter import MeterServer
from tests.fakes.p1_meter import TOKEN

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "homewizard"
TS = datetime(2024, 6, 28, 12, 12, 34, tzinfo=UTC)
URL = "http://192.168.1.50/api/v1/data"

Phases = tuple[float | None, float | None, float | None]
NO_PHASES: Phases = (None, None, None)


@dataclass(frozen=True)
class Measurement:
    """What the Reading of a measurement body must hold (v1 names; currents unsigned)."""

    power_w: float
    phases_w: Phases
    import_kwh: float | None
    export_kwh: float | None
    currents_a: Phases = NO_PHASES
    voltages_v: Phases = NO_PHASES
    average_w: float | None = None
    peak_w: float | None = None


@dataclass(frozen=True)
class Device:
    serial: str
    api_version: str


@dataclass(frozen=True)
class Error:
    """The error a reply with this body and ``status`` becomes, and the code its message shows."""

    status: int
    error: type[MeterHTTPError]
    code: str


THREE_PHASES: Phases = (-676.0, 133.0, 0.0)
HA_PHASES: Phases = (-123.0, 456.0, 123.456)
EXPORTING_CURRENTS: Phases = (4.0, 2.0, 0.0)  # sent as -4, 2, 0: stored unsigned
# Bodies without the totals: the sums of the tariff counters (t1 + t2).
IMPORT_T1_T2 = 10830.511 + 2948.827
EXPORT_T1_T2 = 1285.951 + 2876.51

EXPECTED: dict[str, Measurement | Device | Error] = {
    # -- API v1 ----------------------------------------------------------------------------
    "v1/device.json": Device("3c39e7aabbcc", "v1"),
    "v1/data.json": Measurement(
        -543, THREE_PHASES, 13779.338, 0.0, EXPORTING_CURRENTS, average_w=123.0, peak_w=1111.0
    ),
    "v1/data_minimal.json": Measurement(-543, THREE_PHASES, IMPORT_T1_T2, EXPORT_T1_T2),
    "v1/data_no_gas.json": Measurement(-543, THREE_PHASES, IMPORT_T1_T2, EXPORT_T1_T2),
    "v1/data_single_phase.json": Measurement(
        -543, (-676.0, None, None), IMPORT_T1_T2, EXPORT_T1_T2
    ),
    "v1/ha_data.json": Measurement(
        -123,
        HA_PHASES,
        13779.338,
        13086.777,
        EXPORTING_CURRENTS,
        (230.111, 230.222, 230.333),
        average_w=123.0,
        peak_w=1111.0,
    ),
    "v1/ha_data_unavailable_exports.json": Measurement(-123, HA_PHASES, 13779.338, None),
    "v1/ha_data_zero_values.json": Measurement(
        0, (0.0, 0.0, 0.0), 0.0, 0.0, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.0, 0.0
    ),
    "v1/error_403_api_disabled.json": Error(403, MeterDisabledError, "API not enabled (id 202)"),
    "v1/error_400_invalid_json.json": Error(
        400, MeterHTTPError, "Body contains invalid json (id 2)"
    ),
    # -- API v2 ----------------------------------------------------------------------------
    "v2/device.json": Device("5c2fafaabbcc", "2.0.0"),
    "v2/measurement_3_phase_with_gas_with_watermeter.json": Measurement(
        -543, THREE_PHASES, 13779.338, 0.0, EXPORTING_CURRENTS, average_w=123.0, peak_w=1111.0
    ),
    "v2/measurement_1_phase_no_gas.json": Measurement(
        -678, (-676.0, None, None), IMPORT_T1_T2, EXPORT_T1_T2
    ),
    "v2/ha_measurement.json": Measurement(
        -543, THREE_PHASES, 13779.338, 1234.567, EXPORTING_CURRENTS, average_w=123.0, peak_w=1111.0
    ),
    "v2/error_401_unauthorized.json": Error(401, MeterUnauthorizedError, "user:unauthorized"),
    "v2/error_403_user_creation_not_enabled.json": Error(
        403, MeterHTTPError, "user:creation-not-enabled"
    ),
    "v2/error_400_api_version_not_supported.json": Error(
        400, MeterHTTPError, "request:api-version-not-supported"
    ),
}


def fixture_names() -> list[str]:
    return sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json"))


def api_of(name: str) -> Literal["v1", "v2"]:
    return "v2" if name.startswith("v2/") else "v1"


def test_every_fixture_has_an_expectation_and_a_named_source() -> None:
    assert fixture_names() == sorted(EXPECTED)
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert [n for n in fixture_names() if f"| `{n}` |" not in readme] == []


@pytest.mark.parametrize("name", fixture_names())
def test_a_recorded_reply_through_the_parser(name: str) -> None:
    content = (FIXTURES / name).read_bytes()
    expected = EXPECTED[name]
    if isinstance(expected, Error):
        err = status_error(URL, expected.status, content, api_of(name))
        assert type(err) is expected.error
        assert err.status == expected.status
        assert f"HTTP {expected.status} {expected.code}" in str(err)
        assert "\n" not in str(err)
    elif isinstance(expected, Device):
        info = parse_device(json.loads(content))
        assert (info.product_type, info.serial, info.api_version) == (
            "HWE-P1",
            expected.serial,
            expected.api_version,
        )
    else:
        r = parse_reading(json.loads(content), TS, api_of(name), meter="m")
        assert (r.ts, r.meter) == (TS, "m")
        assert r.active_power_w == expected.power_w
        assert (r.active_power_l1_w, r.active_power_l2_w, r.active_power_l3_w) == expected.phases_w
        assert r.total_power_import_kwh == pytest.approx(expected.import_kwh, abs=1e-6)
        assert r.total_power_export_kwh == pytest.approx(expected.export_kwh, abs=1e-6)
        currents = (r.active_current_l1_a, r.active_current_l2_a, r.active_current_l3_a)
        assert currents == expected.currents_a
        voltages = (r.active_voltage_l1_v, r.active_voltage_l2_v, r.active_voltage_l3_v)
        assert voltages == expected.voltages_v
        assert (r.active_power_average_w, r.montly_power_peak_w) == (
            expected.average_w,
            expected.peak_w,
        )


# -- the simulated meter against the real bodies -----------------------------------------------
#: Keys the simulated meter sends that no recorded body of that API version holds yet, each with
#: its name in the other version, where a recorded body does hold it (HomeWizard's v1 -> v2
#: renames). The test fails when one gets recorded (drop it here) or when the simulator grows a
#: key that no real body has.
SEEN_UNDER_THE_OTHER_NAME: dict[str, dict[str, str]] = {
    "v1": {"active_current_a": "current_a"},
    "v2": {
        "voltage_l1_v": "active_voltage_l1_v",
        "voltage_l2_v": "active_voltage_l2_v",
        "voltage_l3_v": "active_voltage_l3_v",
    },
}
MEASUREMENTS = {"v1": "v1/*data*.json", "v2": "v2/*measurement*.json"}


def json_kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    return "number" if isinstance(value, int | float) else type(value).__name__


def recorded_kinds(api: str) -> dict[str, set[str]]:
    """Every key of the recorded measurement bodies of ``api``, with the JSON kinds it came as."""
    kinds: dict[str, set[str]] = {}
    for path in sorted(FIXTURES.glob(MEASUREMENTS[api])):
        for key, value in json.loads(path.read_bytes()).items():
            kinds.setdefault(key, set()).add(json_kind(value))
    return kinds


def served_body(server: MeterServer, api: str) -> dict[str, Any]:
    if api == "v1":
        resp = requests.get(server.url + "/api/v1/data", timeout=5)
    else:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Api-Version": "2"}
        resp = requests.get(
            server.url + "/api/measurement", headers=headers, timeout=5, verify=False
        )
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("api", ["v1", "v2"])
def test_the_simulated_meter_sends_only_keys_and_types_real_meters_send(
    api: str, sim_meter: Any, pki: Any
) -> None:
    server = sim_meter(api=api, tls=pki, token=TOKEN) if api == "v2" else sim_meter()
    body = served_body(server, api)
    real = recorded_kinds(api)
    other = recorded_kinds("v2" if api == "v1" else "v1")
    unrecorded = {k: SEEN_UNDER_THE_OTHER_NAME[api].get(k) for k in body if k not in real}
    assert unrecorded == SEEN_UNDER_THE_OTHER_NAME[api]
    assert [o for o in unrecorded.values() if o not in other] == []
    wrong = {k: json_kind(v) for k, v in body.items() if k in real and json_kind(v) not in real[k]}
    assert wrong == {}
    # ...and it sends every key the collector reads that real meters send.
    read = set(P1_FIELDS) if api == "v1" else set(V2_TO_V1)
    assert sorted((read & set(real)) - set(body)) == []


def test_a_web_apps_paragraph_is_cut_to_a_short_line() -> None:
    """meter.url at another web app (here Flask's JSON 404): the hint stays readable."""
    flask_404 = json.dumps(
        {
            "error": "404 Not Found: The requested URL was not found on the server. If you "
            "entered the URL manually please check your spelling and try again."
        }
    ).encode()
    err = str(status_error(URL, 404, flask_404, "v1"))
    assert err == (
        f"{URL}: HTTP 404 404 Not Found: The requested URL was not found on the\u2026: "
        "is meter.url the P1 meter, and meter.api (v1) right?"
    )
