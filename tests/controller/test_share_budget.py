"""The solar share budget (controller.share) and the rules that spend it (controller.rules_solar),
with the rules for a surplus a few watts short of min current or of the setpoint.

The booking and the budget are plain arithmetic; the rules are run as time series, each row one
cycle (evcc TestPVHysteresis style): an ideal charger that follows at once, the grid mean the
house without the car (``base_w``, negative = export) plus what the charger draws; a sixth column
is the house of the last few seconds (the recent mean), when it differs from the window's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from common.models import Mode, Reason
from common.snapshot import ChargerSnapshot
from controller.policy import PolicyInputs, PolicySettings, PolicyState, commands_for, decide
from controller.share import (
    MAX_BOOK_S,
    NEW_SESSION_S,
    book,
    budget_wh,
    can_hold,
    can_start,
)

T0 = datetime(2026, 6, 21, 16, 0, tzinfo=UTC)
WPA = 692.8
MIN_W = 6 * WPA  # 4157 W
S = PolicySettings(watts_per_amp=WPA, start_delay_s=60, stop_delay_s=180, solar_share_target=0.975)


def snap(now: datetime, enabled: bool, setpoint_a: int = 6) -> ChargerSnapshot:
    return ChargerSnapshot(
        ts=now,
        charger_id="1",
        status_id=194 if enabled else 182,
        setpoint_a=setpoint_a,
        power_w=setpoint_a * WPA if enabled else 0.0,
        read_at=now,
    )


def inputs(now: datetime, grid_w: float | None, enabled: bool, mode=Mode.SOLAR) -> PolicyInputs:
    return PolicyInputs(mode, grid_w, grid_w, snap(now, enabled))


# -- booking and the budget -----------------------------------------------------------------


def test_each_cycle_books_the_cars_energy_as_the_meter_split_it():
    st = book(PolicyState(), inputs(T0, -500.0, True), T0)  # the first cycle only starts the clock
    assert (st.share_solar_wh, st.share_grid_wh, st.booked_at) == (0.0, 0.0, T0)
    t1 = T0 + timedelta(seconds=36)
    st = book(st, inputs(t1, 1000.0, True), t1)  # importing 1 kW of the car's 4157 W for 36 s
    assert st.share_grid_wh == pytest.approx(10.0)
    assert st.share_solar_wh == pytest.approx((MIN_W - 1000) * 36 / 3600)
    t2 = t1 + timedelta(seconds=36)
    st = book(st, inputs(t2, -2000.0, True), t2)  # exporting: all of it from the sun
    assert st.share_grid_wh == pytest.approx(10.0)
    assert st.share_solar_wh == pytest.approx((2 * MIN_W - 1000) * 36 / 3600)


@pytest.mark.parametrize(
    ("gap_s", "mode", "enabled", "grid_w", "booked"),
    [
        (MAX_BOOK_S + 1, Mode.SOLAR, True, 500.0, False),  # the controller was not running
        (10, Mode.MIN_SOLAR, True, 500.0, False),  # grid energy on purpose: not the budget's
        (10, Mode.SOLAR, False, -3000.0, False),  # the car draws nothing
        (10, Mode.SOLAR, True, None, False),  # no reading: nothing to split
        (10, Mode.SOLAR, True, 500.0, True),
    ],
)
def test_only_solar_cycles_with_a_drawing_car_and_a_reading_are_booked(
    gap_s, mode, enabled, grid_w, booked
):
    st = PolicyState(booked_at=T0)
    now = T0 + timedelta(seconds=gap_s)
    got = book(st, inputs(now, grid_w, enabled, mode), now)
    assert (got.share_grid_wh > 0) is booked


def test_a_car_that_drew_nothing_for_hours_starts_a_new_session():
    old = PolicyState(share_solar_wh=9000.0, share_grid_wh=400.0, drew_at=T0, booked_at=T0)
    later = T0 + timedelta(seconds=NEW_SESSION_S + 60)
    st = book(
        replace(old, booked_at=later - timedelta(seconds=10)), inputs(later, 0.0, True), later
    )
    assert st.share_solar_wh == pytest.approx(MIN_W * 10 / 3600) and st.share_grid_wh == 0.0


@pytest.mark.parametrize(
    ("solar_wh", "grid_wh", "target", "budget"),
    [
        (1950.0, 0.0, 0.975, 50.0),  # 1950 / (1950 + 50) = 97.5 %
        (1950.0, 50.0, 0.975, 0.0),
        (1950.0, 80.0, 0.975, -30.0),
        (1950.0, 0.0, 1.0, 0.0),  # a target of 1 never spends
    ],
)
def test_the_budget_is_the_grid_energy_that_keeps_the_share_at_its_target(
    solar_wh, grid_wh, target, budget
):
    st = PolicyState(share_solar_wh=solar_wh, share_grid_wh=grid_wh)
    assert budget_wh(st, target) == pytest.approx(budget)


@pytest.mark.parametrize(
    ("budget", "surplus_w", "start", "hold"),
    [
        (50.0, 0.8 * MIN_W, False, True),  # 831 W short for the 300 s a start needs: 69 Wh
        (80.0, 0.8 * MIN_W, True, True),
        (15.0, 0.8 * MIN_W, False, True),  # enough for a cycle, not for a start
        # Under the reserve: min current for the 10 s a pause takes to show (11.5 Wh here).
        (10.0, 0.8 * MIN_W, False, False),
        (80.0, 0.7 * MIN_W, False, False),  # under 75 % of min current: the budget does not help
        # 50 W short: 4.2 Wh pay for 300 s, but not for the reserve a hold keeps (a start the
        # next cycle could not hold paused a minute later and started again).
        (10.0, MIN_W - 50, False, False),
        (-1.0, 0.9 * MIN_W, False, False),  # spent
    ],
)
def test_the_budget_starts_or_holds_min_current_on_most_of_it(budget, surplus_w, start, hold):
    solar = 3900.0
    st = PolicyState(share_solar_wh=solar, share_grid_wh=solar * 0.025 / 0.975 - budget)
    assert can_start(st, S, surplus_w, MIN_W) is start
    assert can_hold(st, S, surplus_w, MIN_W) is hold


# -- the rules over time ----------------------------------------------------------------------


class Ideal:
    def __init__(self) -> None:
        self.enabled, self.setpoint_a = False, 16

    def snapshot(self, now: datetime) -> ChargerSnapshot:
        return snap(now, self.enabled, self.setpoint_a)

    def apply(self, cmds) -> None:
        for c in cmds:
            if c.kind == "set_current":
                self.setpoint_a = c.current_a
            else:
                self.enabled = c.kind == "resume"


def run(rows, state: PolicyState, settings: PolicySettings = S):
    ch = Ideal()
    for t_s, base_w, action, target, reason, *recent_base_w in rows:
        now = T0 + timedelta(seconds=t_s)
        s = ch.snapshot(now)
        mean = base_w + s.power_w
        recent = (recent_base_w or [base_w])[0] + s.power_w
        cycle = PolicyInputs(Mode.SOLAR, mean, mean, s, recent_mean_w=recent)
        d, state = decide(cycle, state, settings, now)
        got = (d.action.value, d.target_a, d.reason)
        assert got == (action, target, reason), f"t={t_s}s base={base_w}: {got}"
        ch.apply(commands_for(d, s))
    return state


#: A dip with sun left in it, under the budget's 75 %: the stop delay applies.
DIP_W = -0.5 * MIN_W

#: An afternoon whose sun already filled the car with 4 kWh at a 100 % share: 102 Wh to spend.
SUNNY_SO_FAR = PolicyState(share_solar_wh=4000.0, share_grid_wh=0.0)


def test_the_evening_shoulder_charges_on_the_budget_then_pauses_a_minute_after_it_runs_out():
    part = -0.8 * MIN_W  # 3326 W exported: 80 % of min current
    state = run(
        [
            (0, part, "none", 0, Reason.START_DELAY),
            (30, part, "none", 0, Reason.START_DELAY),
            (60, part, "start", 6, Reason.SHARE_START),
            # A cycle of 60 s takes 13.9 Wh from the grid and earns 1.4 Wh (its 55 Wh of sun at
            # 97.5 %): the 102.6 Wh pay for 7 cycles and keep 11.5 Wh, min current for the 10 s
            # a pause takes to show.
            *[(60 + 60 * k, part, "hold", 6, Reason.SHARE_HOLD) for k in range(1, 8)],
            # Spent: a minute of the stop delay, not three (the session has no sun of its own).
            (540, part, "hold", 6, Reason.STOP_DELAY),
            (600, part, "stop", 0, Reason.SURPLUS_STOP),
        ],
        SUNNY_SO_FAR,
    )
    assert budget_wh(state, 0.975) < MIN_W * 10 / 3600


def test_without_a_budget_the_same_evening_never_starts():
    part = -0.8 * MIN_W
    run([(t, part, "none", 0, Reason.NO_SURPLUS) for t in (0, 60, 120, 180)], PolicyState())


def test_a_session_on_its_own_sun_keeps_the_whole_stop_delay_after_a_short_hold():
    """The sun goes in two steps: one cycle on the budget on the way into the cloud does not
    cut the stop delay that protects a session charging on its own surplus."""
    state = run(
        [
            (0, -8000.0, "none", 0, Reason.START_DELAY),
            (60, -8000.0, "start", 11, Reason.SURPLUS_START),
            (120, -0.8 * MIN_W, "adjust", 6, Reason.SHARE_HOLD),
            (180, DIP_W, "hold", 6, Reason.STOP_DELAY),
            (300, DIP_W, "hold", 6, Reason.STOP_DELAY),
            (360, DIP_W, "stop", 0, Reason.SURPLUS_STOP),
        ],
        SUNNY_SO_FAR,
    )
    assert state.budget_since is None


@pytest.mark.parametrize(
    ("base_w", "action", "target", "reason"),
    [
        (-8 * WPA + 90.0, "hold", 8, Reason.HOLD),  # 90 W short of 8 A: kept
        (-8 * WPA + 110.0, "adjust", 7, Reason.SURPLUS_ADJUST),  # 110 W short: one ampere down
        (-9 * WPA, "adjust", 9, Reason.SURPLUS_ADJUST),  # more sun: up at once
    ],
)
def test_a_surplus_a_few_watts_short_keeps_the_current(base_w, action, target, reason):
    run(
        [
            (0, -8 * WPA, "none", 0, Reason.START_DELAY),
            (60, -8 * WPA, "start", 8, Reason.SURPLUS_START),
            (120, base_w, action, target, reason),
        ],
        PolicyState(),
    )


# -- a surplus a few watts short of min current -------------------------------------------------

#: 60 W short of min current: 98.6 % of it from the sun.
NEAR_W = -(MIN_W - 60.0)
#: 150 W short: a dip.
SHORT_W = -(MIN_W - 150.0)
#: A start at 8 A, the minute before each series.
AT_8_A = [
    (0, -8 * WPA, "none", 0, Reason.START_DELAY),
    (60, -8 * WPA, "start", 8, Reason.SURPLUS_START),
]


def test_a_surplus_a_few_watts_short_of_min_current_holds_it_without_running_the_stop_delay():
    run(
        [
            *AT_8_A,
            (120, NEAR_W, "adjust", 6, Reason.SURPLUS_ADJUST),
            # Ten minutes at 60 W short: no dip (the stop delay is 180 s).
            *[(120 + 60 * k, NEAR_W, "hold", 6, Reason.HOLD) for k in range(1, 11)],
            (780, SHORT_W, "hold", 6, Reason.STOP_DELAY),
            (900, SHORT_W, "hold", 6, Reason.STOP_DELAY),
            (960, SHORT_W, "stop", 0, Reason.SURPLUS_STOP),
        ],
        PolicyState(),
    )


def test_a_surplus_a_few_watts_short_neither_runs_a_dip_nor_forgives_it():
    """Two minutes of dip, two nearly covered, then the dip goes on where it was: the pause comes
    after 180 s of dip (a covered cycle would have forgiven some of it, a short one counted)."""
    run(
        [
            *AT_8_A,
            (120, DIP_W, "adjust", 6, Reason.DIP_HOLD_MIN),
            (180, DIP_W, "hold", 6, Reason.STOP_DELAY),
            (240, NEAR_W, "hold", 6, Reason.HOLD),
            (300, NEAR_W, "hold", 6, Reason.HOLD),
            (360, DIP_W, "hold", 6, Reason.STOP_DELAY),
            (420, DIP_W, "stop", 0, Reason.SURPLUS_STOP),
        ],
        PolicyState(),
    )


def test_a_surplus_a_few_watts_short_starts_after_twice_the_start_delay():
    state = run(
        [
            (0, NEAR_W, "none", 0, Reason.START_DELAY),
            (60, NEAR_W, "none", 0, Reason.START_DELAY),
            (120, NEAR_W, "start", 6, Reason.SURPLUS_START),
            (180, NEAR_W, "hold", 6, Reason.HOLD),
        ],
        PolicyState(),
    )
    assert state.had_surplus


def test_a_share_target_of_1_takes_nothing_from_the_grid_on_purpose():
    """The user asked for no grid energy: a surplus 60 W short is a dip, and no start."""
    no_grid = replace(S, solar_share_target=1.0)
    run(
        [(t, NEAR_W, "none", 0, Reason.NO_SURPLUS) for t in (0, 60, 120, 180)],
        PolicyState(),
        no_grid,
    )
    run(
        [
            *AT_8_A,
            (120, NEAR_W, "adjust", 6, Reason.DIP_HOLD_MIN),
            (180, NEAR_W, "hold", 6, Reason.STOP_DELAY),
        ],
        PolicyState(),
        no_grid,
    )


def test_a_surplus_further_short_never_starts_without_a_budget():
    run([(t, SHORT_W, "none", 0, Reason.NO_SURPLUS) for t in (0, 60, 120, 180, 240)], PolicyState())


def test_the_near_start_delay_starts_over_when_the_surplus_falls_further_short():
    run(
        [
            (0, NEAR_W, "none", 0, Reason.START_DELAY),
            (60, SHORT_W, "none", 0, Reason.NO_SURPLUS),
            (120, NEAR_W, "none", 0, Reason.START_DELAY),
            (180, NEAR_W, "none", 0, Reason.START_DELAY),
            (240, NEAR_W, "start", 6, Reason.SURPLUS_START),
        ],
        PolicyState(),
    )


# -- the last seconds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recent_base_w", "action", "target", "reason"),
    [
        (-7 * WPA, "adjust", 7, Reason.SURPLUS_ADJUST),  # the sun went: down at once
        (-10 * WPA + 40.0, "hold", 10, Reason.HOLD),  # 40 W short: the small-dip grace holds
        (-10 * WPA + 110.0, "adjust", 9, Reason.SURPLUS_ADJUST),  # 110 W short: one ampere
        (500.0, "adjust", 6, Reason.SURPLUS_ADJUST),  # importing: min current, not yet a dip
        (-12 * WPA, "hold", 10, Reason.HOLD),  # more sun: the raise waits for the window
        (-10 * WPA, "hold", 10, Reason.HOLD),
    ],
)
def test_a_running_car_follows_the_sun_down_on_the_last_seconds(
    recent_base_w, action, target, reason
):
    state = run(
        [
            (0, -10 * WPA, "none", 0, Reason.START_DELAY),
            (60, -10 * WPA, "start", 10, Reason.SURPLUS_START),
            (120, -10 * WPA, action, target, reason, recent_base_w),
        ],
        PolicyState(),
    )
    assert state.short_since is None
