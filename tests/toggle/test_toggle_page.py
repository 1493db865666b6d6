"""What the phone page says (issue: it spoke in codes, mixed old and new numbers after a switch,
showed a paused charger as "16 A"), tested on the pure parts: words.py, view.py, chart.py."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

import pytest

from common.models import (
    Action,
    ChargerState,
    CommandError,
    Decision,
    Mode,
    ModeChange,
    Reason,
    Status,
)
from common.store import PowerPoint
from common.store.sqlite import SqliteStore
from tests.toggle.helpers import PASSWORD, T0, make_config
from tests.toggle.test_toggle_routes import bearer, client_for
from tests.toggle.test_toggle_units import SETTINGS, status
from toggle_app import chart, create_app, words
from toggle_app.text import clock_time, format_kw
from toggle_app.view import Extras, ViewSettings, derive, last_change, needs_settled_mean

PLAN = words.Plan(
    min_current_a=6, watts_per_amp=230.0, interval_s=60.0, start_delay_s=180.0, stop_delay_s=600.0
)
MIN_W = 6 * 230.0  # 1 380 W


def decision(
    reason: Reason,
    age_s: float = 10.0,
    mode: Mode = Mode.SOLAR,
    action: Action = Action.HOLD,
    target_a: int = 6,
    surplus_w: float | None = None,
    error: CommandError | None = None,
) -> Decision:
    return Decision(
        ts=T0 - timedelta(seconds=age_s),
        mode=mode,
        action=action,
        reason=reason,
        target_a=target_a,
        surplus_w=surplus_w,
        command_error=error,
    )


# --- words ---------------------------------------------------------------------------------

CODES = {r.value for r in Reason} | {a.value for a in Action} - {"start", "stop", "hold"}


@pytest.mark.parametrize("mode", [Mode.SOLAR, Mode.MIN_SOLAR, Mode.MANUAL])
@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_reads_as_words_without_its_code(reason, mode):
    said = words.explain(decision(reason, mode=mode, surplus_w=500.0), PLAN, T0)
    for text in (said.doing, said.next):
        assert text and "{" not in text and "_" not in text
        assert not any(re.search(rf"\b{re.escape(c)}\b", text) for c in CODES if "-" in c), text
    assert said.doing[0].isupper() and said.next.endswith(".")


@pytest.mark.parametrize(
    ("reason", "kw", "doing", "following"),
    [
        (Reason.HOLD, {"target_a": 10}, "Charging at 10 A from the sun",
         "Follows the sun. Next check in 50 s."),
        (Reason.SURPLUS_ADJUST, {"target_a": 6, "age_s": 26}, "Charging at 6 A from the sun",
         "Follows the sun. Next check in 34 s."),
        (Reason.MANUAL_RELEASE, {"target_a": 16, "mode": Mode.MANUAL},
         "Solar control is off: the charger was handed back at 16 A",
         "Nothing planned: switch solar charging on to let the sun steer the car."),
        (Reason.NO_SURPLUS, {"surplus_w": 700.0},
         "Waiting for the sun: 700 W to spare, 6 A needs 1\u202f380 W",
         "Starts once the sun covers 6 A for 3 min. Next check in 50 s."),
        (Reason.NO_SURPLUS, {"surplus_w": -900.0},
         "Waiting for the sun: 0 W to spare, 6 A needs 1\u202f380 W",
         "Starts once the sun covers 6 A for 3 min. Next check in 50 s."),
        (Reason.SURPLUS_STOP, {}, "Paused: the sun has not covered 6 A for 10 min",
         "Starts again once the sun covers 6 A for 3 min."),
        (Reason.STALE, {"mode": Mode.MIN_SOLAR}, "No meter readings: holding the 6 A minimum",
         "Carries on once readings return. Next check in 50 s."),
        (Reason.HOLD, {"age_s": 75}, "Charging at 6 A from the sun",
         "Follows the sun. Next check any moment now."),
        (Reason.SURPLUS_ADJUST, {"error": CommandError.RATE_LIMITED, "action": Action.NONE},
         "The charger did not take the last command: the Wallbox cloud asked to wait",
         "Tries again in 50 s."),
    ],
)  # fmt: skip
def test_decisions_in_words(reason, kw, doing, following):
    said = words.explain(decision(reason, **kw), PLAN, T0)
    assert (said.doing, said.next) == (doing, following)


def series(ts0: datetime, surpluses: list[float | None], step_s: float = 60.0) -> list[PowerPoint]:
    """One bucket per step from ts0 (a whole minute), the given controller surplus in each."""
    return [
        PowerPoint(ts=ts0 + timedelta(seconds=i * step_s), grid_power_w=100.0, surplus_w=s)
        for i, s in enumerate(surpluses)
    ]


def test_holding_through_a_cloud_says_when_it_pauses():
    # Decisions at :07 of each minute; the surplus fell short at the fourth one (T0 - 173 s).
    d = decision(Reason.STOP_DELAY, age_s=53)  # T0 - 53 s = 10:29:07
    start = T0 - timedelta(minutes=6)  # 10:24:00
    points = series(start, [3000.0, 2500.0, 2000.0, 900.0, None, 500.0])
    since = words.delay_start(points, d, PLAN, None)
    assert since == datetime.fromisoformat("2025-06-01T10:27:07+00:00")
    said = words.explain(d, PLAN, T0, since)
    pause = since + timedelta(seconds=600)
    assert said.doing == "Holding 6 A through a cloud"
    assert said.next == (
        f"Pauses at {clock_time(pause)} if the cloud stays; "
        "more current as soon as the sun is back."
    )
    assert said.next_at == pause
    # Unknown start (a restart, no history): the delay's length instead of a time.
    unknown = words.explain(d, PLAN, T0, None)
    assert (
        unknown.next.startswith("Pauses within 10 min if the cloud stays") and not unknown.next_at
    )


def test_enough_sun_says_when_it_starts():
    d = decision(Reason.START_DELAY, age_s=5, action=Action.NONE, target_a=0)
    points = series(T0 - timedelta(minutes=4), [200.0, 1500.0, 1600.0, 2000.0, 2100.0])
    since = words.delay_start(points, d, PLAN, None)
    assert since == T0 - timedelta(seconds=125)  # cycles at :55; the 10:26 one had too little
    said = words.explain(d, PLAN, T0, since)
    assert said.doing == "Enough sun to charge: making sure it lasts"
    assert said.next == "Starts charging in 55 s if the sun stays."  # 180 s after T0 - 125 s
    sooner = words.explain(d, PLAN, T0, since - timedelta(seconds=60))
    assert sooner.next == "Starts charging any moment now if the sun stays."


def test_a_mode_change_starts_a_new_delay():
    d = decision(Reason.STOP_DELAY, age_s=53)
    points = series(T0 - timedelta(minutes=6), [900.0, 900.0, 900.0, 900.0, 900.0, 500.0])
    assert words.delay_start(points, d, PLAN, None) == T0 - timedelta(seconds=353)
    assert words.delay_start(points, d, PLAN, T0 - timedelta(seconds=200)) is None
    assert words.delay_start(points, decision(Reason.HOLD), PLAN, None) is None
    assert words.delay_start([], d, PLAN, None) is None


def test_covers_is_the_policys_floor():
    assert PLAN.covers(MIN_W) and not PLAN.covers(MIN_W - 1)
    three_phase = words.Plan(6, 692.820323, 60, 180, 600)
    assert three_phase.covers(6 * 692.820323)  # float noise must not lose an amp


@pytest.mark.parametrize(
    ("status_id", "status_text", "current_a", "power_w", "big", "small"),
    [
        (194, "Charging", 10.0, 6900.0, "10 A", "Charging · 6.9 kW · 20 s ago"),
        (182, "Paused", 16.0, 0.0, "Paused", "set to 16 A · 20 s ago"),
        # Ready may be a car a schedule holds, not only no car (issue 11, item 4).
        (161, "Ready", 16.0, 0.0, "Ready", "set to 16 A · 20 s ago"),
        (163, "Disconnected", 16.0, 0.0, "No car", "Disconnected · set to 16 A · 20 s ago"),
        (181, "Waiting for car demand", 16.0, 0.0, "Car idle",
         "Waiting for car demand · set to 16 A · 20 s ago"),
        (183, "Waiting in queue by Power Sharing", None, None, "Waiting",
         "Waiting in queue by Power Sharing · 20 s ago"),
    ],
)  # fmt: skip
def test_the_charger_tile_shows_the_state_big_unless_it_charges(
    status_id, status_text, current_a, power_w, big, small
):
    state = ChargerState(
        ts=T0 - timedelta(seconds=20),
        charger_id="1",
        status_id=status_id,
        status=status_text,
        current_a=current_a,
        power_w=power_w,
    )
    assert words.charger_tile(state, T0) == (big, small)
    assert words.charger_tile(None, T0) == ("–", "no charger data yet")


# --- the surplus right after a change ------------------------------------------------------


def released(age_s: float, mean_w: float = -5000.0) -> Status:
    """Switched Off; the controller handed the charger back ``age_s`` ago (16 A, 11 kW now);
    the window mean still holds the export from before."""
    st = status(mean_w=mean_w, charger_w=11000.0)
    mode = ModeChange(ts=T0 - timedelta(seconds=age_s + 20), mode=Mode.MANUAL, source="phone")
    d = decision(Reason.MANUAL_RELEASE, age_s=age_s, mode=Mode.MANUAL, action=Action.RELEASE)
    return _with(st, mode=mode, last_decision=d)


def _with(st: Status, **changes: object) -> Status:
    return dataclasses.replace(st, **changes)


def test_right_after_a_switch_the_surplus_is_settling_not_a_mix():
    """The report: 6 s after Off, "Grid now 6 408 W importing" beside "Surplus 11 169 W"."""
    v = derive(released(6.0), SETTINGS, T0)
    assert v["surplus_w"] is None and v["surplus_settling"] is True
    assert v["display"]["surplus"] == "Settling"
    assert v["display"]["surplus_sub"] == "the charger just changed: waiting for new readings"
    assert v["tones"]["surplus"] == ""
    # Before the fix: the charger's 11 kW minus the old export mean.
    assert v["charger_power_w"] - v["grid_power_mean_w"] == 16000.0


def test_after_the_settle_time_the_surplus_counts_only_new_readings():
    st = released(40.0)
    since = needs_settled_mean(st, SETTINGS, T0)
    assert since == T0 - timedelta(seconds=10)  # the command 40 s ago + 30 s to settle
    v = derive(st, SETTINGS, T0, Extras(settled_mean_w=6408.0))
    assert v["surplus_w"] == 11000.0 - 6408.0 and v["surplus_settling"] is False
    assert v["display"]["surplus"] == "4\u202f592 W"
    # No reading since the change yet: still settling.
    assert derive(st, SETTINGS, T0, Extras())["surplus_settling"] is True
    # Long after (the change is out of the window): the window mean again.
    old = released(400.0)
    assert needs_settled_mean(old, SETTINGS, T0) is None
    assert derive(old, SETTINGS, T0)["surplus_w"] == 11000.0 + 5000.0


def test_which_decisions_change_the_draw():
    assert last_change(None) is None
    assert last_change(decision(Reason.HOLD)) is None
    assert last_change(decision(Reason.SURPLUS_ADJUST, action=Action.ADJUST)) == T0 + timedelta(
        seconds=20
    )
    failed = decision(Reason.SURPLUS_ADJUST, action=Action.NONE, error=CommandError.UNAVAILABLE)
    assert last_change(failed) is None
    assert last_change(decision(Reason.SETTLING)) == T0 - timedelta(seconds=10)


def test_the_controllers_own_surplus_stands_while_fresh():
    st = _with(status(), last_decision=decision(Reason.HOLD, surplus_w=4200.0))
    assert derive(st, SETTINGS, T0)["surplus_w"] == 4200.0


# --- the next step, the banner after a switch, the footer ----------------------------------


def test_the_next_line_waits_for_the_controller_to_take_up_a_new_mode():
    changed = ModeChange(ts=T0 - timedelta(seconds=5), mode=Mode.MANUAL, source="phone")
    v = derive(_with(status(), mode=changed), SETTINGS, T0)
    assert v["display"]["next"] == "The controller acts at its next cycle, within 50 s."
    acted = _with(
        status(),
        mode=changed,
        last_decision=decision(Reason.MANUAL_RELEASE, age_s=2, mode=Mode.MANUAL),
    )
    v = derive(acted, SETTINGS, T0)
    assert v["mode_applied"] is True
    assert v["display"]["next"].startswith("Nothing planned: switch solar charging on")
    assert v["display"]["decision"].startswith("Solar control is off")
    assert v["display"]["decision_code"] == "hold 6 A · manual-release"


def test_the_footer_shows_the_apps_clock():
    later = T0 + timedelta(hours=3, seconds=7)
    v = derive(_with(status(), now=later), SETTINGS, later)
    assert v["display"]["updated"] == f"Updated {clock_time(later, seconds=True)}"


def test_status_json_says_when_the_next_step_happens(tmp_path, store, clock):
    s = client_for(tmp_path, store, clock).get("/api/status").get_json()
    assert s["next_step_at"] is None and s["surplus_settling"] is False
    assert s["display"]["decision"] == "Charging at 10 A from the sun"
    assert s["last_decision"]["reason"] == "surplus-adjust"  # the code stays in the API


def test_the_status_reads_the_delay_start_from_the_store(tmp_path, clock):
    """Through the real store: the page finds when the stop delay began and says the time."""
    store = SqliteStore(tmp_path / "delay.db")
    for k in range(4):  # four cycles short of the 6 A minimum, the last one 5 s ago
        store.write_decision(
            Decision(
                ts=clock.now - timedelta(seconds=5 + 60 * (3 - k)),
                mode=Mode.SOLAR,
                action=Action.ADJUST if k == 0 else Action.HOLD,
                reason=Reason.DIP_HOLD_MIN if k == 0 else Reason.STOP_DELAY,
                target_a=6,
                surplus_w=2000.0,
            )
        )
    s = client_for(tmp_path, store, clock).get("/api/status").get_json()
    store.close()
    pause = clock.now - timedelta(seconds=185) + timedelta(seconds=600)
    assert s["next_step_at"] == pause.isoformat().replace("+00:00", "Z")
    assert s["display"]["next"].startswith(f"Pauses at {clock_time(pause)} if the cloud stays")
    assert s["display"]["decision"] == "Holding 6 A through a cloud"


def test_the_login_page_names_both_places_of_the_password(tmp_path, store, clock):
    page = client_for(tmp_path, store, clock, password=PASSWORD).get("/login").get_data(True)
    assert "<code>toggle_app.password</code> in the config" in page
    assert "<code>ADMIN_PASSWORD</code> in <code>.env</code>" in page


# --- the chart -----------------------------------------------------------------------------


def test_the_chart_draws_the_last_hour_from_minute_means():
    stop = T0
    start = stop - timedelta(hours=1)
    points = [
        PowerPoint(
            ts=start + timedelta(minutes=i),
            grid_power_w=-2000.0 + 50 * i,
            ev_power_w=4140.0 if i % 2 == 0 else None,  # the car once per cycle, held between
            surplus_w=6000.0 if i % 2 == 0 else None,
        )
        for i in range(60)
        if not 20 <= i < 25  # the meter was down for five minutes
    ]
    c = chart.build(points, stop)
    assert c["empty"] is False
    paths = c["paths"]
    assert paths["grid"].count("M") == 2  # broken where the meter was down
    assert paths["grid"].count("L") == 60 - 5 - 2
    # Held over a bucket without a value, not over the outage: 20 + 34 points.
    assert paths["car"].count("M") == 2 and paths["car"].count("L") == 54 - 2
    assert c["labels"] == {
        "top": "6 kW",
        "bottom": format_kw(-2000.0),
        "start": clock_time(start),
        "middle": clock_time(start + timedelta(minutes=30)),
        "stop": "now",
    }
    for d in paths.values():
        xs = [float(x) for x in re.findall(r"[ML]([\d.]+) ", d)]
        assert all(chart.LEFT <= x <= chart.WIDTH - chart.RIGHT for x in xs)
    assert c["summary"] == (
        "Last hour: grid −2.0 kW to 0.9 kW, surplus 6.0 kW to 6.0 kW, car 4.1 kW to 4.1 kW."
    )


def test_an_empty_hour_says_so():
    c = chart.build([], T0)
    assert c["empty"] is True and c["summary"] == "No data in the last 60 min."
    assert c["paths"] == {"grid": "", "surplus": "", "car": ""}
    assert (c["labels"]["top"], c["labels"]["bottom"]) == ("1 kW", "0 kW")


def test_api_history_serves_the_chart_with_the_same_rules_as_status(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    h = c.get("/api/history").get_json()
    assert h["step_s"] == 60.0 and len(h["points"]) >= 10
    assert h["chart"]["paths"]["grid"].startswith("M")
    assert set(h["points"][0]) == {"ts", "grid_power_w", "ev_power_w", "surplus_w"}
    locked = client_for(tmp_path, store, clock, password=PASSWORD)
    assert locked.get("/api/history").status_code == 401
    assert locked.get("/api/history", headers=bearer(PASSWORD)).status_code == 200


def test_view_settings_take_the_delays_from_the_config(tmp_path, store, clock):
    cfg = make_config(tmp_path, start_delay_s=120.0, stop_delay_s=300.0)
    app = create_app(cfg, store=store, clock=clock)
    settings: ViewSettings = app.extensions["scc_toggle"].settings
    assert (settings.start_delay_s, settings.stop_delay_s, settings.window_s) == (120, 300, 120)
