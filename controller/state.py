"""What the policy takes and carries: its settings, one cycle's inputs, the state between cycles.

Kept apart from the rules so ``controller.rules`` and ``controller.policy`` can both use them;
``controller.policy`` re-exports them, and that is where callers import them from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from common.config import ChargingConfig
from common.models import Mode
from common.snapshot import ChargerSnapshot

#: How long after a command the grid readings reflect it (cloud latency 10-30 s, docs/design.md,
#: "Surplus arithmetic").
DEFAULT_SETTLE_S = 30.0
#: Guards floor() against float noise: 6 x 692.82 W must give 6 A, not 5.
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """The policy's knobs; the defaults are the config's (one source: ChargingConfig)."""

    watts_per_amp: float
    min_current_a: int = ChargingConfig.min_current_a
    max_current_a: int = ChargingConfig.max_current_a
    start_delay_s: float = ChargingConfig.start_delay_s
    stop_delay_s: float = ChargingConfig.stop_delay_s
    window_s: float = ChargingConfig.window_s
    settle_s: float = DEFAULT_SETTLE_S

    def __post_init__(self) -> None:
        if self.watts_per_amp <= 0:
            raise ValueError("watts_per_amp must be positive")
        if not 0 < self.min_current_a <= self.max_current_a:
            raise ValueError("need 0 < min_current_a <= max_current_a")

    @classmethod
    def from_config(cls, c: ChargingConfig, settle_s: float = DEFAULT_SETTLE_S) -> PolicySettings:
        return cls(
            watts_per_amp=c.effective_watts_per_amp,
            min_current_a=c.min_current_a,
            max_current_a=c.max_current_a,
            start_delay_s=c.start_delay_s,
            stop_delay_s=c.stop_delay_s,
            window_s=c.window_s,
            settle_s=settle_s,
        )

    def target_a(self, surplus_w: float) -> int:
        """Whole amps the surplus pays for (unclamped; may be negative)."""
        return math.floor(surplus_w / self.watts_per_amp + _EPS)

    def clamp(self, current_a: int) -> int:
        return min(max(current_a, self.min_current_a), self.max_current_a)

    def max_a(self, charger: ChargerSnapshot | None) -> int:
        """``max_current_a``, capped by what the installation allows when the status says."""
        avail = None if charger is None else charger.max_available_a
        if avail is None or avail < self.min_current_a:
            return self.max_current_a  # an odd value must not stop charging altogether
        return min(self.max_current_a, avail)


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """One cycle's view. ``grid_power_mean_w`` is the mean over the whole window (None: no reading,
    the data is stale); ``settled_mean_w`` the mean over the readings since ``settled_since``
    (None: none yet, the last change is still settling)."""

    mode: Mode
    grid_power_mean_w: float | None
    settled_mean_w: float | None
    charger: ChargerSnapshot | None


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What the policy carries from one cycle to the next."""

    mode: Mode | None = None
    #: When the surplus first covered min current while the charger was off (start delay).
    surplus_since: datetime | None = None
    #: When the surplus first fell short while charging (stop delay).
    short_since: datetime | None = None
    #: Whether this charging session has had surplus (else a shortfall stops it at once).
    had_surplus: bool = False
    #: Readings from this time on were taken with the charger's current draw (the yo-yo rule).
    settled_from: datetime | None = None
    #: Whether the charger should be drawing after our last decision; a read that disagrees
    #: reveals a change we did not cause.
    expected_drawing: bool | None = None
    released: bool = False
    last_command_at: datetime | None = None
    #: What the charger drew when our last command went out: until the command takes effect it
    #: may still draw that (docs/design.md, "The settle rule").
    prev_draw_w: float | None = None


def settled_since(state: PolicyState) -> datetime | None:
    """The ``since`` to pass to ``Store.grid_power_mean`` for ``PolicyInputs.settled_mean_w``."""
    return state.settled_from
