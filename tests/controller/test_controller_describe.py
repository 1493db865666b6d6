"""The controller's log lines, exact text and level, one row per situation.

The texts are those the README quotes; a row that changes here changes what a person reading the
server's log sees.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from common.models import Action, CommandError, Decision, Mode, Reason
from common.snapshot import ChargerSnapshot
from controller.commands import Command
from controller.describe import LogLine, describe, steady_due, window_label
from controller.state import PolicySettings

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
S = PolicySettings(watts_per_amp=692.8, start_delay_s=180, stop_delay_s=300, window_s=60)
DEBUG, INFO, WARNING = logging.DEBUG, logging.INFO, logging.WARNING

PAUSED, CHARGING, CAR_FULL, READY = 182, 194, 181, 161


def snap(status_id: int | None, setpoint_a: int | None = 16) -> ChargerSnapshot:
    return ChargerSnapshot(
        ts=T0, charger_id="1", status_id=status_id, setpoint_a=setpoint_a, power_w=0.0
    )


def dec(
    action: Action,
    reason: Reason,
    target_a: int,
    mean_w: float | None,
    surplus_w: float | None = None,
    mode: Mode = Mode.SOLAR,
    error: CommandError | None = None,
) -> Decision:
    return Decision(
        ts=T0,
        mode=mode,
        action=action,
        reason=reason,
        target_a=target_a,
        grid_power_mean_w=mean_w,
        surplus_w=surplus_w,
        command_error=error,
    )


A, R = Action, Reason
LONG_AGO = T0 - timedelta(hours=1)  # a settled window older than the whole window
SET_AND_RESUME = (Command("set_current", 16), Command("resume"))

ROWS = [
    pytest.param(
        dec(A.HOLD, R.HOLD, 10, -622.4, 7551.6),
        snap(CHARGING, 10),
        {"settled_from": LONG_AGO},
        [
            (
                INFO,
                "Wallbox: 10 A - P1 (60 s mean): -622 W - surplus: 7552 W - mode: solar"
                " -> hold 10 A (hold)",
            )
        ],
        id="steady-hold",
    ),
    pytest.param(
        dec(A.HOLD, R.HOLD, 6, -406.0, 4566.0),
        snap(CHARGING, 6),
        {"settled_from": T0 - timedelta(seconds=30)},
        [
            (
                INFO,
                "Wallbox: 6 A - P1 (30 s mean): -406 W - surplus: 4566 W - mode: solar"
                " -> hold 6 A (hold)",
            )
        ],
        id="hold-after-a-command-shows-the-settled-span",
    ),
    pytest.param(
        dec(A.HOLD, R.HOLD, 10, -622.4, 7551.6),
        snap(CHARGING, 10),
        {"settled_from": LONG_AGO, "reason_changed": False, "steady_due": False},
        [
            (
                DEBUG,
                "Wallbox: 10 A - P1 (60 s mean): -622 W - surplus: 7552 W - mode: solar"
                " -> hold 10 A (hold)",
            )
        ],
        id="steady-hold-within-the-minute-at-debug",
    ),
    pytest.param(
        dec(A.NONE, R.START_DELAY, 0, -4505.0, 4505.0),
        snap(PAUSED),
        {},
        [
            (
                INFO,
                "Wallbox: paused - P1 (60 s mean): -4505 W - surplus: 4505 W - mode: solar"
                " -> none 0 A (start-delay)",
            ),
            (INFO, "Surplus 4505 W covers 6 A: starting after 180 s if it lasts"),
        ],
        id="start-delay-first-cycle",
    ),
    pytest.param(
        dec(A.NONE, R.START_DELAY, 0, -4505.0, 4505.0),
        snap(PAUSED),
        {"reason_changed": False},
        [
            (
                INFO,
                "Wallbox: paused - P1 (60 s mean): -4505 W - surplus: 4505 W - mode: solar"
                " -> none 0 A (start-delay)",
            )
        ],
        id="start-delay-once-only",
    ),
    pytest.param(
        dec(A.START, R.SURPLUS_START, 10, -7550.0, 7550.0),
        snap(PAUSED),
        {"commands": (Command("set_current", 10), Command("resume"))},
        [
            (
                INFO,
                "Wallbox: paused - P1 (60 s mean): -7550 W - surplus: 7550 W - mode: solar"
                " -> start 10 A (surplus-start)",
            ),
            (INFO, "Sufficient power: -7550 W. Start charging at 10 A"),
        ],
        id="start",
    ),
    pytest.param(
        dec(A.ADJUST, R.DIP_HOLD_MIN, 6, 3376.8, 3552.0),
        snap(CHARGING, 10),
        {"settled_from": LONG_AGO, "reason_changed": False},
        [
            (
                INFO,
                "Wallbox: 10 A - P1 (60 s mean): 3377 W - surplus: 3552 W - mode: solar"
                " -> adjust 6 A (dip-hold-min)",
            ),
            (
                INFO,
                "Adjust charging current: 10 A -> 6 A (surplus 3552 W / 692.8 W/A), holding min"
                " current until the stop delay",
            ),
        ],
        id="dip-to-min-current",
    ),
    pytest.param(
        dec(A.ADJUST, R.SURPLUS_ADJUST, 12, -2000.0, 8928.0),
        snap(CHARGING, 10),
        {},
        [
            (
                INFO,
                "Wallbox: 10 A - P1 (60 s mean): -2000 W - surplus: 8928 W - mode: solar"
                " -> adjust 12 A (surplus-adjust)",
            ),
            (INFO, "Adjust charging current: 10 A -> 12 A (surplus 8928 W / 692.8 W/A)"),
        ],
        id="adjust-up",
    ),
    pytest.param(
        dec(A.STOP, R.SURPLUS_STOP, 0, 4607.0, -450.2),
        snap(CHARGING, 6),
        {},
        [
            (
                INFO,
                "Wallbox: 6 A - P1 (60 s mean): 4607 W - surplus: -450 W - mode: solar"
                " -> stop 0 A (surplus-stop)",
            ),
            (INFO, "Pause charging, not enough power: 4607 W - 6 A"),
        ],
        id="stop-after-the-stop-delay",
    ),
    pytest.param(
        dec(A.STOP, R.GRID_STOP, 0, 11884.8, -800.0),
        snap(CHARGING, 16),
        {},
        [
            (
                INFO,
                "Wallbox: 16 A - P1 (60 s mean): 11885 W - surplus: -800 W - mode: solar"
                " -> stop 0 A (grid-stop)",
            ),
            (INFO, "Pause charging, charging from the grid: 11885 W - 16 A"),
        ],
        id="grid-stop",
    ),
    pytest.param(
        dec(A.STOP, R.STALE, 0, None),
        snap(CHARGING, 10),
        {"settled_from": T0 - timedelta(seconds=20)},
        [
            (
                INFO,
                "Wallbox: 10 A - P1 (60 s mean): n/a - surplus: n/a - mode: solar"
                " -> stop 0 A (stale)",
            ),
            (WARNING, "Pause charging: no P1 reading in the last 60 s (meter or collector down)"),
        ],
        id="stale-pauses-whole-window-shown",
    ),
    pytest.param(
        dec(A.NONE, R.STALE, 0, None),
        snap(PAUSED),
        {},
        [
            (
                INFO,
                "Wallbox: paused - P1 (60 s mean): n/a - surplus: n/a - mode: solar"
                " -> none 0 A (stale)",
            ),
            (WARNING, "No P1 reading in the last 60 s: not charging"),
        ],
        id="stale-while-paused",
    ),
    pytest.param(
        dec(A.ADJUST, R.STALE, 6, None, mode=Mode.MIN_SOLAR),
        snap(CHARGING, 10),
        {},
        [
            (
                INFO,
                "Wallbox: 10 A - P1 (60 s mean): n/a - surplus: n/a - mode: min_solar"
                " -> adjust 6 A (stale)",
            ),
            (INFO, "Adjust charging current: 10 A -> 6 A (surplus n/a / 692.8 W/A)"),
        ],
        id="stale-in-min-solar-holds-min-current",
    ),
    pytest.param(
        dec(A.RELEASE, R.MANUAL_RELEASE, 16, -100.0, mode=Mode.MANUAL),
        snap(PAUSED, 8),
        {"commands": SET_AND_RESUME},
        [
            (
                INFO,
                "Wallbox: paused - P1 (60 s mean): -100 W - surplus: n/a - mode: manual"
                " -> release 16 A (manual-release)",
            ),
            (INFO, "Manual mode: handing the charger back (set_current(16), resume)"),
        ],
        id="manual-release",
    ),
    pytest.param(
        dec(A.RELEASE, R.MANUAL_RELEASE, 16, -100.0, mode=Mode.MANUAL),
        snap(CHARGING, 16),
        {},
        [
            (
                INFO,
                "Wallbox: 16 A - P1 (60 s mean): -100 W - surplus: n/a - mode: manual"
                " -> release 16 A (manual-release)",
            ),
            (INFO, "Manual mode: handing the charger back (nothing to change)"),
        ],
        id="manual-release-with-nothing-to-send",
    ),
    pytest.param(
        dec(A.NONE, R.CAR_FULL, 0, -3000.0),
        snap(CAR_FULL, 10),
        {},
        [
            (
                INFO,
                "Wallbox: 10 A (waiting for car demand) - P1 (60 s mean): -3000 W - surplus: n/a"
                " - mode: solar -> none 0 A (car-full)",
            ),
            (INFO, "The car takes no power (status 181): leaving it alone"),
        ],
        id="car-full",
    ),
    pytest.param(
        dec(A.NONE, R.NO_CAR, 0, -3000.0),
        snap(READY),
        {},
        [
            (
                INFO,
                "Wallbox: ready - P1 (60 s mean): -3000 W - surplus: n/a - mode: solar"
                " -> none 0 A (no-car)",
            ),
            # Ready may be a car held by a schedule in the Wallbox app (issue 11, item 4).
            (
                INFO,
                "Ready: no car connected, or a car waiting for a schedule set in the Wallbox app",
            ),
        ],
        id="ready",
    ),
    pytest.param(
        dec(A.NONE, R.NO_CAR, 0, -3000.0),
        snap(163),
        {},
        [
            (
                INFO,
                "Wallbox: disconnected - P1 (60 s mean): -3000 W - surplus: n/a - mode: solar"
                " -> none 0 A (no-car)",
            ),
            (INFO, "No car connected"),
        ],
        id="no-car",
    ),
    pytest.param(
        dec(A.NONE, R.CHARGER_UNAVAILABLE, 0, -3000.0),
        None,
        {},
        [
            (
                INFO,
                "Wallbox: unknown - P1 (60 s mean): -3000 W - surplus: n/a - mode: solar"
                " -> none 0 A (charger-unavailable)",
            )
        ],
        id="charger-not-read",
    ),
    pytest.param(
        dec(A.NONE, R.SURPLUS_ADJUST, 11, -1000.0, 7928.0, error=CommandError.UNAVAILABLE),
        snap(CHARGING, 10),
        {"settled_from": LONG_AGO},
        [
            (
                INFO,
                "Wallbox: 10 A - P1 (60 s mean): -1000 W - surplus: 7928 W - mode: solar"
                " -> none 11 A (surplus-adjust/unavailable)",
            )
        ],
        id="failed-command-only-the-cycle-line",
    ),
    pytest.param(
        dec(A.NONE, R.NO_CAR, 0, -3000.0, error=CommandError.RATE_LIMITED),
        snap(READY),
        {},
        [
            (
                INFO,
                "Wallbox: ready - P1 (60 s mean): -3000 W - surplus: n/a - mode: solar"
                " -> none 0 A (no-car/rate-limited)",
            )
        ],
        id="failed-cycle-no-reason-line-either",
    ),
]


@pytest.mark.parametrize(("decision", "snapshot", "kwargs", "lines"), ROWS)
def test_describe(decision, snapshot, kwargs, lines):
    got = describe(decision, snapshot, S, **kwargs)
    assert got == [LogLine(level, text) for level, text in lines]


@pytest.mark.parametrize(
    ("window_s", "settled_ago_s", "label"),
    [
        (60, None, "60 s"),
        (90, None, "90 s"),
        (120, None, "2 min"),
        (300, None, "5 min"),
        (150, None, "150 s"),  # not whole minutes
        (120, 45, "45 s"),  # settled 45 s ago: the mean covers only those
        (120, 119.6, "120 s"),  # rounds to 120 but is not 120: seconds
        (120, 3600, "2 min"),  # settled long ago: the whole window
        (120, -5, "0 s"),  # the settle time is still ahead
    ],
)
def test_window_label(window_s, settled_ago_s, label):
    since = None if settled_ago_s is None else T0 - timedelta(seconds=settled_ago_s)
    assert window_label(window_s, since, T0) == label


# -- what the charger and the car really do (issue 11) ----------------------------------------


def test_the_measured_car_is_on_the_cycle_line_and_in_the_adjust_line():
    from dataclasses import replace

    charging = replace(snap(CHARGING, 16), power_w=3694.4, watts_per_amp=230.9)
    got = describe(dec(A.ADJUST, R.SURPLUS_ADJUST, 15, 180.0, 3514.4), charging, S,
                   measured_w_per_a=230.9)  # fmt: skip
    assert got == [
        LogLine(INFO, "Wallbox: 16 A - P1 (60 s mean): 180 W - surplus: 3514 W (car: 230.9 W/A)"
                " - mode: solar -> adjust 15 A (surplus-adjust)"),
        LogLine(INFO, "Adjust charging current: 16 A -> 15 A (surplus 3514 W / 230.9 W/A)"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "status_id", "level", "text"),
    [
        (R.START_REFUSED, 179, WARNING, "The charger stayed Scheduled when asked to start: a "
         "schedule set in the Wallbox app holds the car. Solar charging asks again in an hour; "
         "remove the schedule in the app to charge on the sun"),
        (R.SCHEDULE, CHARGING, INFO,
         "The Wallbox app's schedule started charging: left alone until it stops"),
        (R.STORE_UNAVAILABLE, CHARGING, WARNING,
         "Store unavailable: holding the charger as it is for up to 2 cycles"),
        (R.CHARGER_UNKNOWN, 231, WARNING, "Unknown charger status 231: nothing sent"),
    ],
)  # fmt: skip
def test_the_lines_for_what_the_charger_really_does(reason, status_id, level, text):
    got = describe(dec(A.NONE, reason, 0, -100.0), snap(status_id), S)
    assert got[1:] == [LogLine(level, text)]


def test_a_ready_probe_says_why_it_starts_a_charger_with_no_car_in_sight():
    got = describe(dec(A.START, R.READY_PROBE, 6, -3000.0, 3000.0), snap(READY), S,
                   SET_AND_RESUME)  # fmt: skip
    assert got[1] == LogLine(
        INFO,
        "The charger says Ready and there is sun to spare: asking it once to start at 6 A, in "
        "case a car waits for a schedule set in the Wallbox app",
    )


def test_ocpp_mode_and_a_new_measurement_get_one_line_each():
    from dataclasses import replace

    from controller.describe import notice_lines
    from controller.measure import WattsPerAmp

    plain = replace(snap(CHARGING), operation_mode="wallbox")
    ocpp = replace(plain, operation_mode="ocpp")
    lines = notice_lines(plain, ocpp, WattsPerAmp(230.9, "meter", "L1"), 692.8)
    assert lines == [
        LogLine(WARNING, "The Wallbox is in OCPP mode: the cloud refuses pause and resume (HTTP "
                "403), so solar charging cannot start or pause the car. Either switch OCPP off "
                "in the Wallbox app, or let Solar Car Charge control the charger over local OCPP"),
        LogLine(INFO, "The car draws 230.9 W per A on L1 (measured from the meter's step; the "
                "config says 692.8 W/A)"),
    ]  # fmt: skip
    assert notice_lines(ocpp, ocpp, None, 692.8) == []  # once, not every cycle
    assert notice_lines(ocpp, plain, None, 692.8) == [
        LogLine(INFO, "The Wallbox left OCPP mode: the cloud takes commands again")
    ]


def test_a_measurement_by_the_chargers_own_meter_says_so():
    from controller.describe import notice_lines
    from controller.measure import WattsPerAmp

    lines = notice_lines(None, None, WattsPerAmp(230.9, "charger", "L1"), 692.8)
    assert lines == [
        LogLine(INFO, "The car draws 230.9 W per A on L1 (measured from the charger's own meter "
                "over OCPP; the config says 692.8 W/A)"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("since_s", "due"),
    [
        (None, True),  # nothing logged at INFO yet
        (10.0, False),
        (58.99, False),
        (59.0, True),  # a few ms short of the minute: its minute is up
        (60.0, True),
        (-3600.0, True),  # the clock stepped back an hour: a line now, not an hour of silence
    ],
)
def test_a_steady_cycle_logs_at_info_once_a_minute(since_s, due):
    now = datetime(2030, 6, 1, 12, tzinfo=UTC)
    last = None if since_s is None else now - timedelta(seconds=since_s)
    assert steady_due(last, now) is due
