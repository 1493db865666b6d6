"""What the phone page says about the charger and the car (issue 11): the car's watts per
ampere, the states that look idle but are not, OCPP mode and refused commands. Pure view tests;
tests/toggle/test_toggle_browser.py shows the page itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.models import Action, ChargerState, Decision, Mode, Reading, Status
from tests.toggle.helpers import T0
from toggle_app.view import ViewSettings, derive

SETTINGS = ViewSettings(poll_interval_s=1.0, interval_s=60.0, min_current_a=6, watts_per_amp=692.8)


def status(charger: ChargerState | None, reason: str = "hold", mean_w: float = 180.0) -> Status:
    return Status(
        now=T0,
        latest_reading=Reading(ts=T0, active_power_w=mean_w),
        grid_power_mean_w=mean_w,
        window_s=60.0,
        mode=None,
        last_decision=Decision(ts=T0 - timedelta(seconds=10), mode=Mode.SOLAR,
                               action=Action.NONE, reason=reason, target_a=0),
        charger=charger,
        today=None,
    )  # fmt: skip


def charger(status_id=194, label="Charging", power_w=3694.0, **kw) -> ChargerState:
    return ChargerState(ts=T0, charger_id="1", status_id=status_id, status=label,
                        current_a=16.0, power_w=power_w, **kw)  # fmt: skip


def test_the_measured_watts_per_amp_shows_and_sets_the_amperes_the_surplus_pays_for():
    d = derive(status(charger(watts_per_amp=230.9)), SETTINGS, T0)["display"]
    assert d["charger_sub"] == "Charging · 3.7 kW · 231 W/A · just now"
    assert d["surplus_sub"] == "enough for 15 A"  # 3514 / 230.9, not 3514 / 692.8 = 5 A
    plain = derive(status(charger()), SETTINGS, T0)["display"]
    assert plain["surplus_sub"] == "below the 6 A minimum" and "W/A" not in plain["charger_sub"]


@pytest.mark.parametrize(
    ("status_id", "label", "words"),
    [
        (161, "Ready", "Ready: no car, or a car waiting for a schedule set in the Wallbox app"),
        (162, "Ready", "asks the charger once to start"),
        (179, "Scheduled", "Scheduled: a schedule set in the Wallbox app holds the car"),
        (209, "Locked", "solar charging does not unlock it"),
        (210, "Locked, car connected", "turn auto-lock off for solar charging"),
        (181, "Waiting for car demand", "The car takes no power"),
        (231, "Unknown", "Unknown charger status 231"),
        (194, "Charging", ""),
    ],
)
def test_the_states_that_look_idle_in_words(status_id, label, words):
    d = derive(status(charger(status_id, label, power_w=0.0)), SETTINGS, T0)["display"]
    if words:
        assert words in d["charger_note"]
    else:
        assert d["charger_note"] == ""


def test_a_schedule_that_held_the_car_or_charges_it_is_said_so():
    held = derive(status(charger(179, "Scheduled", 0.0), "start-refused"), SETTINGS, T0)
    assert "stayed on its schedule when asked to start" in held["display"]["charger_note"]
    night = derive(status(charger(), "schedule"), SETTINGS, T0)
    assert night["display"]["charger_note"] == (
        "The Wallbox app's schedule is charging the car: solar charging leaves it alone."
    )


def test_ocpp_mode_is_a_banner_with_the_two_ways_out():
    d = derive(status(charger(operation_mode="ocpp", refused="pause,resume")), SETTINGS, T0)
    banner = d["display"]["banner"]
    assert banner.startswith("The charger is in OCPP mode")
    assert "Switch OCPP off in the Wallbox app" in banner and "local OCPP" in banner


def test_a_refused_command_without_ocpp_is_a_rights_banner():
    d = derive(status(charger(operation_mode="wallbox", refused="set_current")), SETTINGS, T0)
    assert "refuses setting the current for this account (HTTP 403)" in d["display"]["banner"]
    assert derive(status(charger()), SETTINGS, T0)["display"]["banner"] == ""
