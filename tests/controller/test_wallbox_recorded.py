"""Status bodies of the real Wallbox cloud (tests/fixtures/wallbox) through the controller's
Wallbox adapter.

The simulated cloud serves each recorded body to the real ``wallbox`` package over HTTP, so the
adapter reads it as it reads the real cloud's: sign in, GET the status, parse it into a snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controller.wallbox import WallboxCharger
from sim.wallbox_cloud import DEFAULT_CHARGER_ID
from tests.controller.ctl_helpers import WPA, ManualClock, sim_cloud, wallbox_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wallbox"


def recorded(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return body


#: What the adapter must make of each recorded body: status id, setpoint A, power W, added kWh,
#: max available A (the body's ``max_available_power``, amperes despite its name).
EXPECTED = {
    "status_skb_2023.json": (210, 32, 0.0, 0.546, 32),
    "status_wdz_2022.json": (209, 16, 0.0, 11.094, 20),
    "status_ha_tests.json": (193, 24, 0.0, 44.697, 25),
}


def test_every_status_fixture_has_an_expectation():
    assert sorted(p.name for p in FIXTURES.glob("status_*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_adapter_reads_a_recorded_status_body(name):
    clock = ManualClock()
    with sim_cloud(clock) as cloud:
        cloud.recorded_status = recorded(name)
        charger = WallboxCharger(
            wallbox_config(cloud, charger_id=str(DEFAULT_CHARGER_ID)),
            WPA,
            clock=clock,
            sleep=clock.advance,
        )
        snap = charger.snapshot(clock())
        assert cloud.count(path_contains="chargers/status/", status=200) == 1
    got = (
        snap.status_id,
        snap.setpoint_a,
        snap.power_w,
        snap.added_energy_kwh,
        snap.max_available_a,
    )
    assert got == EXPECTED[name]
    assert snap.read_error is None and snap.estimated == frozenset()
    assert snap.read_at == clock()


README_SCHEDULE = {
    "chargerId": 42,
    "enable": 1,
    "max_current": 1,
    "max_energy": 0,
    "days": {"monday": True},
    "start": "2100",
    "stop": "0500",
}


@pytest.mark.parametrize(
    ("body", "enabled"),
    [
        # The shape the wallbox package's README shows for getChargerSchedules.
        ({"schedules": [README_SCHEDULE]}, True),
        ({"schedules": [{"enable": 0, "start": "2100", "stop": "0500"}]}, False),
        ({"schedules": [{"enable": True}]}, True),
        ({"schedules": []}, False),
        ({"schedules": "none"}, None),
        ({}, None),
        ([], None),
    ],
)
def test_schedules_answer(body, enabled):
    from controller.wallbox_status import schedule_enabled

    assert schedule_enabled(body) is enabled
