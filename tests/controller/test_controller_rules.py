"""The rule functions one at a time, for what the time series in test_controller_policy.py do not
reach: what each rule keeps of the state and what it resets, the edges of the unexpected-change
rule, and min_solar's answer to stale data with the charger paused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from common.models import Action, Mode, Reason
from common.snapshot import ChargerSnapshot
from controller.rules import (
    Cycle,
    Surplus,
    changed_by_itself,
    enter_mode,
    manual,
    not_controllable,
    settling,
    stale,
    unexpected_change,
)
from controller.rules_solar import solar_running, solar_start
from controller.state import PolicyInputs, PolicySettings, PolicyState

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
WPA = 692.8
S = PolicySettings(watts_per_amp=WPA, start_delay_s=120, stop_delay_s=300)
EARLIER = T0 - timedelta(seconds=90)
#: A session under way: a start timer running, a dip being held, surplus seen.
BUSY = PolicyState(mode=Mode.SOLAR, surplus_since=EARLIER, short_since=EARLIER, had_surplus=True)
CHARGING, PAUSED = 194, 182


def charger(
    status_id: int | None,
    setpoint_a: int = 10,
    power_w: float | None = None,
    estimated: frozenset[str] = frozenset(),
) -> ChargerSnapshot:
    if power_w is None:
        power_w = setpoint_a * WPA if status_id == CHARGING else 0.0
    return ChargerSnapshot(
        ts=T0,
        charger_id="1",
        status_id=status_id,
        setpoint_a=setpoint_a,
        power_w=power_w,
        estimated=estimated,
    )


def cycle(mode: Mode, ch: ChargerSnapshot | None, mean_w: float | None = -3000.0) -> Cycle:
    return Cycle(PolicyInputs(mode, mean_w, mean_w, ch), S, T0)


def timers(st: PolicyState) -> tuple[object, object, bool]:
    return st.surplus_since, st.short_since, st.had_surplus


KEPT = (EARLIER, EARLIER, True)
RESET = (None, None, False)


@pytest.mark.parametrize(
    ("status_id", "reason", "after"),
    [
        (None, Reason.CHARGER_UNAVAILABLE, KEPT),  # not read: nothing known to have changed
        (161, Reason.NO_CAR, RESET),
        (14, Reason.CHARGER_ERROR, RESET),
        (165, Reason.CHARGER_LOCKED, RESET),
        (166, Reason.CHARGER_UPDATING, RESET),
        (999, Reason.CHARGER_UNKNOWN, RESET),
        (181, Reason.CAR_FULL, RESET),
    ],
)
def test_nothing_to_steer_keeps_the_timers_only_while_the_charger_is_unread(
    status_id, reason, after
):
    ch = None if status_id is None else charger(status_id)
    d, st = not_controllable(cycle(Mode.SOLAR, ch), ch, BUSY)
    assert (d.action, d.reason, d.target_a) == (Action.NONE, reason, 0)
    assert timers(st) == after


@pytest.mark.parametrize(
    ("mode", "status_id", "setpoint_a", "action", "target_a", "after"),
    [
        (Mode.SOLAR, CHARGING, 10, Action.STOP, 0, RESET),
        (Mode.SOLAR, PAUSED, 10, Action.NONE, 0, RESET),
        (Mode.MIN_SOLAR, PAUSED, 10, Action.START, 6, KEPT),  # min current, data or not
        (Mode.MIN_SOLAR, CHARGING, 10, Action.ADJUST, 6, KEPT),
        (Mode.MIN_SOLAR, CHARGING, 6, Action.HOLD, 6, KEPT),
    ],
)
def test_stale_data(mode, status_id, setpoint_a, action, target_a, after):
    ch = charger(status_id, setpoint_a)
    d, st = stale(cycle(mode, ch, mean_w=None), ch, BUSY)
    assert (d.action, d.reason, d.target_a) == (action, Reason.STALE, target_a)
    assert timers(st) == after


@pytest.mark.parametrize(
    ("expected", "ch", "changed"),
    [
        (None, charger(CHARGING), False),  # nothing expected (start, release): no surprise
        (False, charger(CHARGING), True),  # the car started by itself
        (True, charger(PAUSED), True),  # paused from the Wallbox app
        (True, charger(CHARGING, power_w=0.0), True),  # on, but the car stopped drawing
        (True, charger(CHARGING), False),
        (False, charger(PAUSED), False),
        # Between reads the adapter reports what it asked for: that is no news.
        (False, charger(CHARGING, estimated=frozenset({"status", "power_w"})), False),
        (False, charger(CHARGING, estimated=frozenset({"power_w"})), True),
    ],
)
def test_changed_by_itself(expected, ch, changed):
    assert changed_by_itself(PolicyState(expected_drawing=expected), ch) is changed


@pytest.mark.parametrize(
    ("mode", "had_surplus", "mean_w", "reason"),
    [
        (Mode.SOLAR, False, 0.0, Reason.GRID_STOP),  # no export at all: the grid pays
        (Mode.SOLAR, False, -1.0, Reason.SETTLING),  # some export: there may be surplus
        (Mode.SOLAR, True, 400.0, Reason.SETTLING),  # a solar session: the stop delay decides
        (Mode.MIN_SOLAR, False, 400.0, Reason.SETTLING),  # min current is wanted anyway
    ],
)
def test_a_car_that_starts_drawing_by_itself(mode, had_surplus, mean_w, reason):
    ch = charger(CHARGING, 16)
    state = PolicyState(mode=mode, had_surplus=had_surplus, expected_drawing=False)
    d, st = unexpected_change(cycle(mode, ch, mean_w), ch, state)
    assert d.reason is reason
    if reason is Reason.SETTLING:
        assert (d.action, d.target_a) == (Action.HOLD, 16)
        assert (st.settled_from, st.expected_drawing) == (T0, True)
    else:
        assert (d.action, st.expected_drawing) == (Action.STOP, False)


def test_a_car_paused_from_the_app_settles_without_a_command():
    ch = charger(PAUSED)
    d, st = unexpected_change(cycle(Mode.SOLAR, ch), ch, PolicyState(expected_drawing=True))
    assert (d.action, d.reason, d.target_a) == (Action.NONE, Reason.SETTLING, 0)
    assert (st.settled_from, st.expected_drawing, st.last_command_at) == (T0, False, None)


def test_settling_does_not_learn_what_to_expect_from_a_charger_in_transition():
    """While a command is still taking effect, what the charger draws says nothing about what it
    will draw: the expectation the command set stays."""
    ch = charger(CHARGING, power_w=0.0, estimated=frozenset({"power_w"}))
    state = PolicyState(expected_drawing=True, settled_from=T0 + timedelta(seconds=10))
    d, st = settling(cycle(Mode.SOLAR, ch), ch, state)
    assert (d.action, d.reason, d.target_a) == (Action.HOLD, Reason.SETTLING, 10)
    assert st.expected_drawing is True and st.settled_from == state.settled_from


def test_a_start_forgets_a_dip_from_before_the_pause():
    """Paused from the app in the middle of a stop delay: the new session's delay starts afresh."""
    ch = charger(PAUSED)
    state = replace(BUSY, surplus_since=T0 - timedelta(seconds=120))
    sp = Surplus.of(ch, -5000.0, S)
    d, st = solar_start(cycle(Mode.SOLAR, ch), sp, state)
    assert (d.action, d.reason, d.target_a) == (Action.START, Reason.SURPLUS_START, 7)
    assert timers(st) == (None, None, True)


def test_a_release_expects_nothing_of_the_car():
    """The user's car after a hand back may draw or not; back in solar that is no surprise."""
    ch = charger(CHARGING, 16)
    d, st = manual(cycle(Mode.MANUAL, ch), PolicyState(mode=Mode.MANUAL, expected_drawing=True))
    assert (d.action, st.released, st.expected_drawing) == (Action.RELEASE, True, None)


def test_a_new_mode_resets_the_session_but_not_what_the_charger_does():
    state = PolicyState(
        mode=Mode.SOLAR,
        surplus_since=EARLIER,
        short_since=EARLIER,
        had_surplus=True,
        settled_from=EARLIER,
        expected_drawing=True,
        released=True,
        last_command_at=EARLIER,
    )
    assert enter_mode(state, Mode.SOLAR) == state
    assert enter_mode(state, Mode.MIN_SOLAR) == PolicyState(
        mode=Mode.MIN_SOLAR, settled_from=EARLIER, expected_drawing=True
    )
    assert enter_mode(PolicyState(had_surplus=True), Mode.SOLAR) == PolicyState(
        mode=Mode.SOLAR, had_surplus=True
    )  # a seeded or fresh state has no mode yet: nothing to reset


@pytest.mark.parametrize(
    ("estimated", "mean_w", "had_surplus", "reason", "had_after"),
    [
        # A read: the surplus is measured and starts a solar session.
        (False, -3000.0, False, Reason.HOLD, True),
        # 0 kW read at 16 A (estimated 11 085 W), importing: a grid session, whatever the estimate.
        (True, 4144.0, False, Reason.GRID_STOP, False),
        (True, 0.0, False, Reason.GRID_STOP, False),
        # ... a solar session keeps going on it (a cloud passes: the stop delay decides).
        (True, 400.0, True, Reason.SURPLUS_ADJUST, True),
        # Export that pays for min current by itself is measured surplus, estimate or not.
        (True, -4200.0, False, Reason.HOLD, True),
        # Export too small for min current: follow the estimate, but it is no surplus yet.
        (True, -1000.0, False, Reason.HOLD, False),
    ],
)
def test_only_a_measured_surplus_makes_a_solar_session(
    estimated, mean_w, had_surplus, reason, had_after
):
    ch = charger(CHARGING, 16, estimated=frozenset({"power_w"} if estimated else ()))
    state = PolicyState(mode=Mode.SOLAR, had_surplus=had_surplus, expected_drawing=True)
    c = cycle(Mode.SOLAR, ch, mean_w)
    d, st = solar_running(c, ch, c.surplus(ch, mean_w), state)
    assert (d.reason, st.had_surplus) == (reason, had_after)


def test_a_schedule_holding_the_car_refuses_only_a_start_of_ours():
    """A solar session charging since 10:00, our last command two hours ago; now a read says
    Scheduled (the app's schedule took over). That is no start of ours refused: it used to
    give start-refused and block starts for an hour."""
    from controller.policy import decide

    now = T0 + timedelta(hours=2)
    state = PolicyState(
        mode=Mode.SOLAR, had_surplus=True, expected_drawing=True, last_command_at=T0
    )
    ch = ChargerSnapshot(
        ts=now, charger_id="1", status_id=179, setpoint_a=10, power_w=0.0, read_at=now
    )
    d, st = decide(PolicyInputs(Mode.SOLAR, -6000.0, -6000.0, ch), state, S, now)
    assert d.reason is not Reason.START_REFUSED and st.start_refused_until is None
    # Our own start, a settle time ago, still Scheduled: that one is refused.
    sent = replace(state, start_sent_at=now - timedelta(seconds=S.settle_s))
    d, st = decide(PolicyInputs(Mode.SOLAR, -6000.0, -6000.0, ch), sent, S, now)
    assert d.reason is Reason.START_REFUSED and st.start_refused_until is not None


@pytest.mark.parametrize(("bound", "reason"), [(False, Reason.HOLD), (True, Reason.STOP_DELAY)])
def test_a_settling_upper_bound_just_short_of_min_current_is_a_dip(bound, reason):
    """60 W short of 6 A holds min current as no dip, but not on the upper end of a settling
    range: that is what the surplus could be, not what it is."""
    ch = charger(CHARGING, 6)
    c = cycle(Mode.SOLAR, ch, 0.0)
    sp = replace(c.surplus(ch, 60.0), bound=bound)
    d, _ = solar_running(c, ch, sp, PolicyState(mode=Mode.SOLAR, had_surplus=True))
    assert (d.action, d.reason) == (Action.HOLD, reason)
