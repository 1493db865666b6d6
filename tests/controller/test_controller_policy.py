"""The policy as time series (evcc TestPVHysteresis style): each row is one cycle.

An ideal charger follows every decision at once, and the grid mean the policy sees is the house
without the car (``base_w``: negative = solar export) plus what the charger draws, as on a real
meter. Rows give the time, the base, and the expected action, target and reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from common.config import ChargingConfig
from common.models import Action, Mode
from common.snapshot import ChargerSnapshot
from controller.policy import (
    Command,
    PolicyInputs,
    PolicySettings,
    PolicyState,
    commands_for,
    decide,
    seed_state,
    settled_since,
)

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
WPA = 692.8  # 3N~400 V
S = PolicySettings(watts_per_amp=WPA, start_delay_s=120, stop_delay_s=300)
STALE = None
#: A dip with sun left in it: 2000 W of surplus, under min current (4157 W) and under the share
#: budget's 75 % of it. The stop delay is for such dips; one with no surplus at all (the house
#: alone imports) pauses after at most a minute.
PART_W = -2000


@dataclass
class IdealCharger:
    """Follows commands at once; 'full' makes the car take nothing (status 181)."""

    enabled: bool = False
    setpoint_a: int = 16
    connected: bool = True
    full: bool = False
    wpa: float = WPA

    def snapshot(self, now: datetime) -> ChargerSnapshot:
        if not self.connected:
            status = 161
        elif not self.enabled:
            status = 182
        elif self.full:
            status = 181
        else:
            status = 194
        power = self.setpoint_a * self.wpa if status == 194 else 0.0
        return ChargerSnapshot(
            ts=now,
            charger_id="1",
            status_id=status,
            setpoint_a=self.setpoint_a,
            power_w=power,
            read_at=now,
        )

    def apply(self, cmds: tuple[Command, ...]) -> None:
        for c in cmds:
            if c.kind == "set_current":
                self.setpoint_a = c.current_a
            elif c.kind == "resume":
                self.enabled = True
            else:
                self.enabled = False


def run(rows, mode=Mode.SOLAR, charger=None, settings=S, state=None):
    """Run rows (t_s, base_w or STALE, action, target_a, reason); return the commands sent."""
    charger = charger or IdealCharger(wpa=settings.watts_per_amp)
    state = state or PolicyState()
    sent = []
    for t_s, base_w, action, target, reason in rows:
        now = T0 + timedelta(seconds=t_s)
        snap = charger.snapshot(now)
        mean = None if base_w is STALE else base_w + snap.power_w
        inputs = PolicyInputs(mode=mode, grid_power_mean_w=mean, settled_mean_w=mean, charger=snap)
        d, state = decide(inputs, state, settings, now)
        got = (d.action.value, d.target_a, d.reason)
        assert got == (action, target, reason), f"t={t_s}s base={base_w}: {got}"
        cmds = commands_for(d, snap)
        sent.append((t_s, [str(c) for c in cmds]))
        charger.apply(cmds)
    return sent, state, charger


def test_starts_after_the_start_delay_not_before():
    sent, _, ch = run(
        [
            (0, -5000, "none", 0, "start-delay"),
            (60, -5000, "none", 0, "start-delay"),
            (120, -5000, "start", 7, "surplus-start"),  # floor(5000 / 692.8) = 7
            (180, -5000, "hold", 7, "hold"),
            (240, -5000, "hold", 7, "hold"),
        ]
    )
    assert [c for _, c in sent if c] == [["set_current(7)", "resume"]]
    assert ch.enabled and ch.setpoint_a == 7


def test_surplus_gone_before_the_delay_resets_the_timer():
    run(
        [
            (0, -5000, "none", 0, "start-delay"),
            (60, -3000, "none", 0, "no-surplus"),  # 3000 W < 6 A x 692.8 W
            (120, -5000, "none", 0, "start-delay"),
            (180, -5000, "none", 0, "start-delay"),
            (240, -5000, "start", 7, "surplus-start"),
        ]
    )


def test_zero_start_delay_starts_at_once_and_clamps_to_max():
    sent, _, _ = run(
        [(0, -20000, "start", 16, "surplus-start")],
        settings=replace(S, start_delay_s=0),
    )
    assert sent[0][1] == ["resume"]  # the charger already has 16 A: no current write


def test_cloud_shorter_than_the_stop_delay_does_not_stop():
    ch = IdealCharger(enabled=True, setpoint_a=7)
    state = PolicyState(had_surplus=True)
    sent, _, ch = run(
        [
            (0, -5000, "hold", 7, "hold"),
            (60, PART_W, "adjust", 6, "dip-hold-min"),
            (120, PART_W, "hold", 6, "stop-delay"),
            (180, PART_W, "hold", 6, "stop-delay"),
            (240, PART_W, "hold", 6, "stop-delay"),
            (300, -5000, "adjust", 7, "surplus-adjust"),  # 4 min of cloud < 5 min delay
            (360, -5000, "hold", 7, "hold"),
        ],
        charger=ch,
        state=state,
    )
    assert [c for _, c in sent if c] == [["set_current(6)"], ["set_current(7)"]]
    assert ch.enabled


@pytest.mark.parametrize(
    ("dip", "stop_delay_s", "pause_at_s"),
    [
        ([PART_W] * 12, 300, 360),  # sun left in the dip: the whole stop delay
        ([500] * 12, 300, 120),  # none (the house alone imports): a minute
        ([0.5] * 12, 300, 120),  # half a watt of import is none too
        ([PART_W, PART_W, PART_W, 500], 300, 240),  # 3 min of partial dip, then none: at once
        ([500, PART_W, PART_W, PART_W, PART_W, PART_W], 300, 360),  # the sun back in it
    ],
)
def test_a_dip_with_no_sun_left_pauses_after_a_minute(dip, stop_delay_s, pause_at_s):
    """The stop delay protects a session from a cloud's shadow with sun left in it. With none
    (an oven on in a dark spell) each second of it is min current from the grid: on one phase,
    three minutes of 1.4 kW are 69 Wh a dip."""
    ch = IdealCharger(enabled=True, setpoint_a=6)
    rows = [(0, -4500, "hold", 6, "hold")]
    for k, base_w in enumerate(dip):
        t = 60 + 60 * k
        if t == pause_at_s:
            rows.append((t, base_w, "stop", 0, "surplus-stop"))
            break
        rows.append((t, base_w, "hold", 6, "stop-delay"))
    settings = replace(S, stop_delay_s=stop_delay_s)
    run(rows, charger=ch, settings=settings, state=PolicyState(had_surplus=True))
    assert not ch.enabled


#: Cycles of 10 s and a stop delay of 180 s, as the defaults.
TEN_S = replace(S, stop_delay_s=180)


@pytest.mark.parametrize(
    ("sun_s", "stop_at_s"),
    [
        # A 10 s burst 150 s into the dip forgives 10 x (1 + 180 / 70) = 35.7 s of it: the dip
        # counts 124.3 s when the cloud is back, and pauses 60 s later (it used to start over
        # and pause at 350 s).
        (10, 230),
        (50, 370),  # 50 s of sun leave 11.4 s of the 150 s dip
        (60, 400),  # 60 s forgive it all: the next dip has the whole stop delay
    ],
)
def test_sun_in_a_dip_forgives_it_in_proportion(sun_s, stop_at_s):
    ch = IdealCharger(enabled=True, setpoint_a=6)
    sun_end_s = 160 + sun_s
    rows = [(0, -4500, "hold", 6, "hold")]
    rows += [(t, PART_W, "hold", 6, "stop-delay") for t in range(10, 160, 10)]
    rows += [(t, -4500, "hold", 6, "hold") for t in range(160, sun_end_s, 10)]
    rows += [(t, PART_W, "hold", 6, "stop-delay") for t in range(sun_end_s, stop_at_s, 10)]
    rows += [(stop_at_s, PART_W, "stop", 0, "surplus-stop")]
    run(rows, charger=ch, settings=TEN_S, state=PolicyState(had_surplus=True))
    assert not ch.enabled


def test_only_the_sun_the_window_saw_forgives_a_dip():
    """A 60 s cycle on a 15 s window: one sunny cycle is 15 s of sun seen, not 60 (it used to
    forgive 60 x 3.57 = 214 s, the whole dip, and the pause came at 420 s)."""
    ch = IdealCharger(enabled=True, setpoint_a=6)
    run(
        [
            (0, -4500, "hold", 6, "hold"),
            (60, PART_W, "hold", 6, "stop-delay"),
            (120, PART_W, "hold", 6, "stop-delay"),
            (180, -4500, "hold", 6, "hold"),  # forgives 15 x 3.57 = 53.6 s: the dip is 66 s old
            (240, PART_W, "hold", 6, "stop-delay"),
            (300, PART_W, "stop", 0, "surplus-stop"),  # 186 s of dip
        ],
        charger=ch,
        settings=replace(TEN_S, window_s=15),
        state=PolicyState(had_surplus=True),
    )


def test_a_hold_on_the_share_budget_neither_runs_a_dip_nor_ends_it():
    """The budget pays for a cycle of partial sun in the middle of a dip: that cycle does not
    count, but the dip goes on (it used to start over, and the pause came at 370 s)."""
    ch = IdealCharger(enabled=True, setpoint_a=6)
    rows = [(0, -4500, "hold", 6, "hold")]
    rows += [(t, PART_W, "hold", 6, "stop-delay") for t in range(10, 170, 10)]
    rows += [(170, -4500, "hold", 6, "hold")]  # the dip from 10 s forgiven to 45.7 s
    rows += [(180, -0.8 * 6 * WPA, "hold", 6, "share-hold")]  # 55.7 s: this cycle not counted
    rows += [(t, PART_W, "hold", 6, "stop-delay") for t in range(190, 240, 10)]
    rows += [(240, PART_W, "stop", 0, "surplus-stop")]  # 184.3 s of dip
    sunny_so_far = PolicyState(had_surplus=True, share_solar_wh=20000.0)  # 513 Wh to spend
    run(rows, charger=ch, settings=TEN_S, state=sunny_so_far)


@pytest.mark.parametrize(("sun_at_s", "stop_at_s"), [(None, 60), (40, 100)])
def test_a_session_on_the_budget_keeps_its_minute_through_a_burst(sun_at_s, stop_at_s):
    """A session living on the share budget pauses a minute into a dip; a 10 s burst forgives
    35.7 s of it, and the minute still holds (the burst used to give it the whole 180 s stop
    delay: a pause at 220 s)."""
    ch = IdealCharger(enabled=True, setpoint_a=6)
    rows = [
        (t, -4500, "hold", 6, "hold") if t == sun_at_s else (t, 500, "hold", 6, "stop-delay")
        for t in range(0, stop_at_s, 10)
    ]
    rows += [(stop_at_s, 500, "stop", 0, "surplus-stop")]
    on_budget = PolicyState(had_surplus=True, budget_since=T0 - timedelta(days=1))
    run(rows, charger=ch, settings=TEN_S, state=on_budget)


def test_the_suns_own_time_never_counts_towards_a_dip():
    """A short stop delay (15 s, the pause speed test's): the sun between two dips ends the
    first; the second has its whole delay."""
    ch = IdealCharger(enabled=True, setpoint_a=6)
    run(
        [
            (0, -4500, "hold", 6, "hold"),
            (10, 500, "hold", 6, "stop-delay"),
            (20, -4500, "hold", 6, "hold"),
            (30, 500, "hold", 6, "stop-delay"),
            (40, 500, "hold", 6, "stop-delay"),
            (50, 500, "stop", 0, "surplus-stop"),
        ],
        charger=ch,
        settings=replace(S, stop_delay_s=15),
        state=PolicyState(had_surplus=True),
    )


def test_pauses_exactly_after_the_stop_delay():
    ch = IdealCharger(enabled=True, setpoint_a=6)
    sent, _, ch = run(
        [
            (0, -4500, "hold", 6, "hold"),
            (60, -1000, "hold", 6, "stop-delay"),
            (120, -1000, "hold", 6, "stop-delay"),
            (180, -1000, "hold", 6, "stop-delay"),
            (240, -1000, "hold", 6, "stop-delay"),
            (300, -1000, "hold", 6, "stop-delay"),
            (360, -1000, "stop", 0, "surplus-stop"),  # short since t=60: 300 s
            (420, -1000, "adjust", 16, "no-surplus"),  # paused: its full current back
            (480, -1000, "none", 0, "no-surplus"),
        ],
        charger=ch,
    )
    assert [c for _, c in sent if c] == [["pause"], ["set_current(16)"]]
    assert not ch.enabled


def test_stale_data_stops_within_one_cycle_in_solar():
    ch = IdealCharger(enabled=True, setpoint_a=10)
    sent, _, ch = run(
        [
            (0, -7000, "hold", 10, "hold"),
            (60, STALE, "stop", 0, "stale"),
            (120, STALE, "none", 0, "stale"),  # already paused: nothing more to send
            (180, -7000, "none", 0, "start-delay"),  # data back: the start delay starts over
        ],
        charger=ch,
        state=PolicyState(had_surplus=True),
    )
    assert [c for _, c in sent if c] == [["pause"]]


def test_stale_data_in_min_solar_keeps_min_current():
    ch = IdealCharger(enabled=True, setpoint_a=10)
    sent, _, _ = run(
        [
            (0, STALE, "adjust", 6, "stale"),
            (60, STALE, "hold", 6, "stale"),
        ],
        mode=Mode.MIN_SOLAR,
        charger=ch,
    )
    assert sent[0][1] == ["set_current(6)"]


def test_min_solar_never_goes_below_min_current():
    rows = [(0, 3000, "start", 6, "min-solar-floor")]  # importing 3 kW: still 6 A, at once
    rows += [(t, 3000, "hold", 6, "min-solar-floor") for t in range(60, 1800, 60)]
    rows += [
        (1800, -6000, "adjust", 8, "surplus-adjust"),  # 6000 / 692.8 = 8.7
        (1860, 2000, "adjust", 6, "min-solar-floor"),
        (1920, 9000, "hold", 6, "min-solar-floor"),
    ]
    sent, _, ch = run(rows, mode=Mode.MIN_SOLAR)
    assert ch.enabled
    assert all("pause" not in c for _, c in sent)


def test_manual_releases_exactly_once():
    ch = IdealCharger(enabled=False, setpoint_a=8)
    sent, state, ch = run(
        [
            (0, -5000, "release", 16, "manual-release"),
            (60, -5000, "none", 16, "manual"),
            (120, 3000, "none", 16, "manual"),
            (180, STALE, "none", 16, "manual"),
        ],
        mode=Mode.MANUAL,
        charger=ch,
    )
    assert [c for _, c in sent if c] == [["set_current(16)", "resume"]]
    assert ch.enabled and ch.setpoint_a == 16
    # Back to solar and to manual again: one more release, which has nothing left to change.
    _, state, _ = run([(240, 3000, "stop", 0, "grid-stop")], charger=ch, state=state)
    sent, _, _ = run(
        [(300, 3000, "release", 16, "manual-release"), (360, 3000, "none", 16, "manual")],
        mode=Mode.MANUAL,
        charger=ch,
        state=state,
    )
    assert [c for _, c in sent if c] == [["resume"]]


def test_no_command_when_the_target_is_unchanged():
    ch = IdealCharger(enabled=True, setpoint_a=7)
    rows = [(t, -5000 + (t % 120) * 2, "hold", 7, "hold") for t in range(0, 1200, 60)]
    sent, _, _ = run(rows, charger=ch, state=PolicyState(had_surplus=True))
    assert all(c == [] for _, c in sent)


def test_adjusts_in_whole_amps_only_when_the_target_changes():
    ch = IdealCharger(enabled=True, setpoint_a=7)
    sent, _, _ = run(
        [
            (0, -5000, "hold", 7, "hold"),  # 5000 / 692.8 = 7.2
            (60, -5500, "hold", 7, "hold"),  # 7.9
            (120, -5600, "adjust", 8, "surplus-adjust"),  # 8.08
            (180, -5600, "hold", 8, "hold"),
            (240, -5000, "adjust", 7, "surplus-adjust"),
        ],
        charger=ch,
        state=PolicyState(had_surplus=True),
    )
    assert [c for _, c in sent if c] == [["set_current(8)"], ["set_current(7)"]]


def test_car_full_gets_no_commands_and_counts_as_no_draw():
    ch = IdealCharger(enabled=True, setpoint_a=10, full=True)
    sent, _, _ = run(
        [(t, -8000, "none", 0, "car-full") for t in range(0, 600, 60)],
        charger=ch,
        state=PolicyState(had_surplus=True),
    )
    assert all(c == [] for _, c in sent)
    assert ch.snapshot(T0).power_w == 0.0 and not ch.snapshot(T0).drawing


def test_no_car_does_nothing_and_resets_the_start_timer():
    ch = IdealCharger(connected=False)
    sent, state, _ = run(
        [(0, -5000, "none", 0, "no-car"), (60, -5000, "none", 0, "no-car")], charger=ch
    )
    assert all(c == [] for _, c in sent)
    assert state.surplus_since is None


def test_a_car_charging_without_any_surplus_is_paused_at_once():
    """Plugged in at night with the charger left on: no stop delay for a grid session."""
    ch = IdealCharger(enabled=True, setpoint_a=16)
    sent, _, ch = run([(0, 800, "stop", 0, "grid-stop")], charger=ch)
    assert sent[0][1] == ["pause"] and not ch.enabled


def test_charger_unknown_does_nothing():
    now = T0
    inputs = PolicyInputs(Mode.SOLAR, -5000, -5000, None)
    d, _ = decide(inputs, PolicyState(), S, now)
    assert (d.action, d.reason) == (Action.NONE, "charger-unavailable")
    assert commands_for(d, None) == ()


def test_a_change_we_did_not_cause_settles_for_one_cycle():
    """The car starts drawing by itself: the window mixes before and after; wait a cycle."""
    state = PolicyState(had_surplus=True, expected_drawing=False)
    now = T0
    snap = IdealCharger(enabled=True, setpoint_a=10).snapshot(now)
    inputs = PolicyInputs(Mode.SOLAR, -2000, -2000, snap)
    d, state = decide(inputs, state, S, now)
    assert (d.action.value, d.reason, d.target_a) == ("hold", "settling", 10)
    assert settled_since(state) == now and state.expected_drawing is True
    later = now + timedelta(seconds=60)
    snap = IdealCharger(enabled=True, setpoint_a=10).snapshot(later)
    d, _ = decide(PolicyInputs(Mode.SOLAR, -2000, -2000, snap), state, S, later)
    assert (d.action.value, d.reason, d.target_a) == ("adjust", "surplus-adjust", 12)


def test_after_a_command_the_mean_covers_only_settled_readings():
    """The yo-yo rule: the next mean starts settle_s after the command, not window_s before."""
    snap = IdealCharger(enabled=False).snapshot(T0)
    d, state = decide(
        PolicyInputs(Mode.SOLAR, -5000, -5000, snap),
        PolicyState(surplus_since=T0 - timedelta(seconds=120)),
        S,
        T0,
    )
    assert d.action is Action.START
    assert settled_since(state) == T0 + timedelta(seconds=30)
    # Next cycle: no settled reading yet (e.g. a short interval) -> hold, do not guess.
    ch = IdealCharger(enabled=True, setpoint_a=7)
    t1 = T0 + timedelta(seconds=20)
    d, state2 = decide(PolicyInputs(Mode.SOLAR, -1500, None, ch.snapshot(t1)), state, S, t1)
    assert (d.action.value, d.reason) == ("hold", "settling")
    # A hold sends nothing, so the settled window stays where it is.
    assert settled_since(state2) == settled_since(state)


@pytest.mark.parametrize(
    ("charging", "surplus_w", "amps"),
    [
        (ChargingConfig(phases=1, voltage_v=230), 2000, 8),  # 230 W/A: 8.7
        (ChargingConfig(phases=1, voltage_v=230), 1379, 5),  # below 6 A: not covered
        (ChargingConfig(phases=3, voltage_v=230), 4000, 10),  # Belgian delta 398.4 W/A: 10.04
        (ChargingConfig(phases=3, voltage_v=230), 2390, 5),  # 5.999 -> 5
        (ChargingConfig(phases=3, voltage_v=400), 6 * math.sqrt(3) * 400, 6),  # float noise
        (ChargingConfig(phases=3, voltage_v=400), 7500, 10),
        (ChargingConfig(phases=3, voltage_v=230, watts_per_amp=690.0), 6900, 10),
    ],
)
def test_watts_per_amp_arithmetic(charging, surplus_w, amps):
    s = PolicySettings.from_config(charging)
    assert s.target_a(surplus_w) == amps


def test_watts_per_amp_values():
    assert PolicySettings.from_config(ChargingConfig(phases=1, voltage_v=230)).watts_per_amp == 230
    delta = PolicySettings.from_config(ChargingConfig(phases=3, voltage_v=230)).watts_per_amp
    assert delta == pytest.approx(math.sqrt(3) * 230) and round(delta, 1) == 398.4
    wye = PolicySettings.from_config(ChargingConfig(phases=3, voltage_v=400)).watts_per_amp
    assert round(wye, 1) == 692.8


def test_belgian_delta_series_starts_at_the_right_current():
    s = PolicySettings.from_config(
        ChargingConfig(phases=3, voltage_v=230, start_delay_s=60, stop_delay_s=120)
    )
    run(
        [
            (0, -3000, "none", 0, "start-delay"),
            (60, -3000, "start", 7, "surplus-start"),  # 3000 / 398.4 = 7.5
            (120, -3000, "hold", 7, "hold"),
            (180, -2000, "adjust", 6, "dip-hold-min"),  # 2000 / 398.4 = 5.02: short
            (240, -2000, "hold", 6, "stop-delay"),
            (300, -2000, "stop", 0, "surplus-stop"),
        ],
        settings=s,
    )


def test_mode_change_resets_the_timers():
    ch = IdealCharger()
    _, state, _ = run([(0, -5000, "none", 0, "start-delay")], charger=ch)
    run([(60, -5000, "start", 7, "surplus-start")], mode=Mode.MIN_SOLAR, charger=ch, state=state)
    assert ch.enabled


# -- grid sessions, restarts, the installation's limit -----------------------------------------


def test_a_car_plugged_in_at_night_is_paused_in_the_first_cycle_it_draws():
    """No surplus, no export, the car starts by itself: pause at once, no settling from the grid."""
    ch = IdealCharger(enabled=True, setpoint_a=16, connected=False)
    _, state, ch = run([(0, 400, "none", 0, "no-car"), (60, 400, "none", 0, "no-car")], charger=ch)
    ch.connected = True  # plugged in; the charger is on, so the car draws 16 A at once
    sent, state, ch = run(
        [
            (120, 400, "stop", 0, "grid-stop"),
            (180, 400, "none", 0, "no-surplus"),
            (240, 400, "none", 0, "no-surplus"),
        ],
        charger=ch,
        state=state,
    )
    assert sent[0][1] == ["pause"] and [c for _, c in sent[1:]] == [[], []]
    assert not ch.enabled


def test_a_car_that_starts_by_itself_with_export_in_the_window_still_settles():
    """Export shows in the mean although the car draws: there is surplus, so settle and follow."""
    ch = IdealCharger(enabled=True, setpoint_a=6, connected=False)
    _, state, ch = run([(0, -9000, "none", 0, "no-car")], charger=ch)
    ch.connected = True
    run(
        [(60, -9000, "hold", 6, "settling"), (120, -9000, "adjust", 12, "surplus-adjust")],
        charger=ch,
        state=state,
    )


def test_min_solar_keeps_a_car_that_starts_by_itself_at_min_current():
    ch = IdealCharger(enabled=True, setpoint_a=6, connected=False)
    _, state, ch = run([(0, 400, "none", 0, "no-car")], mode=Mode.MIN_SOLAR, charger=ch)
    ch.connected = True
    sent, _, _ = run(
        [(60, 400, "hold", 6, "settling"), (120, 400, "hold", 6, "min-solar-floor")],
        mode=Mode.MIN_SOLAR,
        charger=ch,
        state=state,
    )
    assert all(c == [] for _, c in sent)


def decision(mode, action, stored_reason, age_s=60.0):
    from common.models import Decision, decode_reason

    reason, error = decode_reason(stored_reason)
    return Decision(
        ts=T0 - timedelta(seconds=age_s),
        mode=mode,
        action=action,
        reason=reason,
        command_error=error,
        target_a=6,
        grid_power_mean_w=0.0,
        surplus_w=None,
    )


M, SO, MS = Mode.MANUAL, Mode.SOLAR, Mode.MIN_SOLAR
A = Action


@pytest.mark.parametrize(
    ("last", "released", "had_surplus"),
    [
        (None, False, False),
        (decision(M, A.RELEASE, "manual-release"), True, False),
        (decision(M, A.NONE, "manual", age_s=7 * 86400), True, False),  # however old
        (decision(M, A.NONE, "manual-release/rate-limited"), False, False),  # never sent
        (decision(SO, A.HOLD, "stop-delay"), False, True),
        (decision(SO, A.ADJUST, "dip-hold-min"), False, True),
        (decision(SO, A.HOLD, "hold"), False, True),
        (decision(SO, A.START, "surplus-start"), False, True),
        (decision(SO, A.HOLD, "hold", age_s=3600), False, False),  # a session from long ago
        (decision(SO, A.STOP, "grid-stop"), False, False),
        (decision(SO, A.HOLD, "settling"), False, False),
        (decision(MS, A.HOLD, "min-solar-floor"), False, False),
    ],
)
def test_seed_state_from_the_last_decision(last, released, had_surplus):
    st = seed_state(last, T0, S)
    assert (st.released, st.had_surplus) == (released, had_surplus)


def test_a_mode_set_after_the_last_decision_starts_afresh():
    """Manual, solar, manual again while the controller was down: the new manual episode gets
    its release."""
    last = decision(M, A.NONE, "manual", age_s=3600)
    assert seed_state(last, T0, S, mode_since=T0 - timedelta(seconds=3599)).released is False
    assert seed_state(last, T0, S, mode_since=T0 - timedelta(seconds=7200)).released is True
    last = decision(SO, A.HOLD, "stop-delay", age_s=60)
    assert seed_state(last, T0, S, mode_since=T0 - timedelta(seconds=30)).had_surplus is False


def test_a_restart_in_manual_mode_does_not_release_again():
    ch = IdealCharger(enabled=False, setpoint_a=8)  # the user paused it in the Wallbox app
    state = seed_state(decision(M, A.NONE, "manual"), T0, S)
    sent, _, ch = run([(0, 3000, "none", 16, "manual")], mode=Mode.MANUAL, charger=ch, state=state)
    assert sent[0][1] == [] and not ch.enabled


def test_a_restart_mid_cloud_holds_through_the_stop_delay():
    ch = IdealCharger(enabled=True, setpoint_a=6)
    state = seed_state(decision(SO, A.HOLD, "stop-delay"), T0, S)
    run(
        [
            (0, 500, "hold", 6, "stop-delay"),
            (60, -5000, "adjust", 7, "surplus-adjust"),  # the sun is back: no pause happened
        ],
        charger=ch,
        state=state,
    )


@pytest.mark.parametrize(
    ("dip_began_s", "pause_at_s"),
    [
        (None, 300),  # nothing kept: the restart's dip has the whole stop delay
        (-240, 60),  # the dip began 4 minutes before the restart: 1 minute left
        (-380, 0),  # older than the stop delay (the last run died before its pause)
        (-500, 300),  # too old to be the last decision's dip (a failed write): a fresh dip
        (-60, 240),  # began at the last decision (a minute before the restart)
        (-30, 300),  # after the last decision: not believed, a fresh dip
    ],
)
def test_a_restart_inside_a_dip_goes_on_from_the_kept_start(dip_began_s, pause_at_s):
    """A fresh stop delay at every restart let a controller that restarts every few minutes
    hold min current from the grid for as long as it restarted."""
    dip = None if dip_began_s is None else T0 + timedelta(seconds=dip_began_s)
    state = seed_state(decision(SO, A.HOLD, "stop-delay"), T0, S, dip_since=dip)
    rows = [(t, PART_W, "hold", 6, "stop-delay") for t in range(0, pause_at_s, 30)]
    stop = (pause_at_s, PART_W, "stop", 0, "surplus-stop")
    run([*rows, stop], charger=IdealCharger(enabled=True, setpoint_a=6), state=state)


def capped(charger: IdealCharger, max_available_a: int):
    snapshot = charger.snapshot

    def snap(now):
        return replace(snapshot(now), max_available_a=max_available_a)

    charger.snapshot = snap
    return charger


def test_the_target_never_exceeds_what_the_installation_allows():
    ch = capped(IdealCharger(enabled=False, setpoint_a=16), 10)
    sent, _, ch = run(
        [
            (0, -15000, "none", 0, "start-delay"),
            (60, -15000, "none", 0, "start-delay"),
            (120, -15000, "start", 10, "surplus-start"),  # 21 A of surplus, 16 A max, 10 allowed
            (180, -15000, "hold", 10, "hold"),
            (240, -15000, "hold", 10, "hold"),
            (300, -5000, "adjust", 7, "surplus-adjust"),
        ],
        charger=ch,
    )
    assert [c for _, c in sent if c] == [["set_current(10)", "resume"], ["set_current(7)"]]


def test_manual_release_and_min_solar_respect_the_installation_limit():
    ch = capped(IdealCharger(enabled=False, setpoint_a=8), 13)
    sent, _, _ = run([(0, 0, "release", 13, "manual-release")], mode=Mode.MANUAL, charger=ch)
    assert sent[0][1] == ["set_current(13)", "resume"]
    ch = capped(IdealCharger(enabled=True, setpoint_a=13), 13)
    run([(0, -20000, "hold", 13, "hold")], mode=Mode.MIN_SOLAR, charger=ch)
    # A limit below min current is not believed: it would stop charging altogether.
    ch = capped(IdealCharger(enabled=True, setpoint_a=16), 0)
    run([(0, -20000, "hold", 16, "hold")], mode=Mode.MIN_SOLAR, charger=ch)


def test_a_few_ms_of_jitter_does_not_add_a_cycle_to_the_delays():
    """Cycles are stamped when they wake: 120 s measured as 119.98 s still starts on time."""
    sent, _, _ = run(
        [
            (0.02, -5000, "none", 0, "start-delay"),  # this cycle woke 20 ms late
            (60.005, -5000, "none", 0, "start-delay"),
            (120.0, -5000, "start", 7, "surplus-start"),  # 119.98 s after the timer began
            (180.01, PART_W, "adjust", 6, "dip-hold-min"),
            (240.0, PART_W, "hold", 6, "stop-delay"),
            (300.0, PART_W, "hold", 6, "stop-delay"),
            (360.0, PART_W, "hold", 6, "stop-delay"),
            (420.0, PART_W, "hold", 6, "stop-delay"),
            (479.995, PART_W, "stop", 0, "surplus-stop"),  # 299.985 s of shortfall
        ]
    )
    assert [c for _, c in sent if c] == [
        ["set_current(7)", "resume"],
        ["set_current(6)"],
        ["pause"],
    ]


def test_a_wall_clock_step_back_does_not_stretch_the_start_delay():
    """The clock steps an hour back between two cycles (NTP, a DST bug): the start delay starts
    over at the new time instead of lasting an hour more (issue 11, item 8)."""
    run(
        [
            (0, -5000, "none", 0, "start-delay"),
            (60, -5000, "none", 0, "start-delay"),
            (-3600 + 120, -5000, "none", 0, "start-delay"),
            (-3600 + 180, -5000, "none", 0, "start-delay"),
            (-3600 + 240, -5000, "start", 7, "surplus-start"),
        ]
    )


def test_a_wall_clock_step_back_does_not_stretch_the_near_start_delay():
    """The same for a surplus 60 W short of min current, which starts after twice the delay."""
    near_w = -(6 * WPA - 60)
    run(
        [
            (0, near_w, "none", 0, "start-delay"),
            (60, near_w, "none", 0, "start-delay"),
            *[(-3600 + t, near_w, "none", 0, "start-delay") for t in (120, 180, 240, 300)],
            (-3600 + 360, near_w, "start", 6, "surplus-start"),
        ]
    )


def test_a_wall_clock_step_back_leaves_no_settle_window_in_the_future():
    charger = IdealCharger(enabled=True, setpoint_a=10)
    _, state, _ = run([(0, -5000, "adjust", 7, "surplus-adjust")], charger=charger)
    assert settled_since(state) == T0 + timedelta(seconds=S.settle_s)
    back = T0 - timedelta(hours=1)
    snap = charger.snapshot(back)
    inputs = PolicyInputs(mode=Mode.SOLAR, grid_power_mean_w=-150.0, settled_mean_w=None,
                          charger=snap)  # fmt: skip
    _, after = decide(inputs, state, S, back)
    assert settled_since(after) <= back + timedelta(seconds=S.settle_s)
