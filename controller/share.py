"""The session's solar share as a budget: how much grid energy a partial surplus may still cost.

The car's energy is booked each cycle as the meter splits it: what the house imported while the
car drew (up to the car's draw) came from the grid, the rest from the sun. A user who sets
``charging.solar_share_target`` to 0.95 accepts one grid kWh for every 19 from the sun, so the
sun booked so far allows ``solar x (1 - target) / target`` of grid energy; what the car already
took is subtracted, and the rest is the budget. It buys min current where the surplus covers
most of it but not all: the shoulders of a sunny day, a kettle at noon. That is solar energy the
car would otherwise miss, and it comes at the share the user chose, never below: a day whose
share is under the target spends nothing (docs/design.md, "The share budget").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from common.models import Mode
from controller.state import PolicyInputs, PolicySettings, PolicyState

#: A car that drew nothing for this long starts a new session, with an empty budget (the next
#: day, in practice: a passing cloud does not last six hours).
NEW_SESSION_S = 6 * 3600.0
#: A cycle further than this from the last booked one is not booked: the controller was not
#: running, and the gap's split is unknown.
MAX_BOOK_S = 120.0
#: The budget starts or holds min current only on a surplus of at least this share of it.
SHARE_FLOOR = 0.75
#: A start on the budget needs enough of it to pay for the shortfall this long.
START_HORIZON_S = 300.0
#: A hold keeps enough budget for min current this long: what a pause costs before it shows
#: (about the charger's latency). A budget spent to the last watt-hour left a 1.4 kW kettle
#: at the end of a hold to the stop that followed, below the target.
RESERVE_S = 10.0


def book(state: PolicyState, inputs: PolicyInputs, now: datetime) -> PolicyState:
    """The state with the time since the last cycle booked as solar or grid energy, in ``solar``
    mode (the window's mean stands for the interval: a budget needs no more)."""
    ch, grid_w = inputs.charger, inputs.grid_power_mean_w
    draw_w = ch.power_w if ch is not None and ch.drawing else 0.0
    if inputs.mode is not Mode.SOLAR:
        return state  # min_solar takes grid energy on purpose, manual is the user's
    if state.booked_at is None or grid_w is None:
        return replace(state, booked_at=now)
    dt_s = (now - state.booked_at).total_seconds()
    if not 0 < dt_s <= MAX_BOOK_S or draw_w <= 0:
        return replace(state, booked_at=now)
    if state.drew_at is not None and (now - state.drew_at).total_seconds() > NEW_SESSION_S:
        state = replace(state, share_solar_wh=0.0, share_grid_wh=0.0)
    from_grid_w = min(max(grid_w, 0.0), draw_w)
    return replace(
        state,
        share_solar_wh=state.share_solar_wh + (draw_w - from_grid_w) * dt_s / 3600.0,
        share_grid_wh=state.share_grid_wh + from_grid_w * dt_s / 3600.0,
        booked_at=now,
        drew_at=now,
    )


def budget_wh(state: PolicyState, target: float) -> float:
    """Grid energy the session may still take and keep its solar share at ``target``."""
    if target >= 1.0:
        return 0.0
    return state.share_solar_wh * (1.0 - target) / target - state.share_grid_wh


def shortfall_w(surplus_w: float, min_draw_w: float) -> float | None:
    """What min current would take from the grid on this surplus; None when the surplus is too
    small for the budget to make up (under ``SHARE_FLOOR`` of min current)."""
    if surplus_w < SHARE_FLOOR * min_draw_w:
        return None
    return max(min_draw_w - surplus_w, 0.0)


def can_start(state: PolicyState, s: PolicySettings, surplus_w: float, min_draw_w: float) -> bool:
    """Whether the budget pays for a start at min current on this partial surplus."""
    short_w = shortfall_w(surplus_w, min_draw_w)
    if short_w is None:
        return False
    need_wh = max(short_w * START_HORIZON_S, min_draw_w * RESERVE_S) / 3600.0
    return budget_wh(state, s.solar_share_target) > need_wh


def can_hold(state: PolicyState, s: PolicySettings, surplus_w: float, min_draw_w: float) -> bool:
    """Whether the budget pays for min current on this partial surplus one more cycle."""
    if shortfall_w(surplus_w, min_draw_w) is None:
        return False
    return budget_wh(state, s.solar_share_target) > min_draw_w * RESERVE_S / 3600.0
