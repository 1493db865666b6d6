"""What the policy takes and carries: its settings, one cycle's inputs, the state between cycles.

Kept apart from the rules so ``controller.rules`` and ``controller.policy`` can both use them;
``controller.policy`` re-exports them, and that is where callers import them from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from common.config import ChargingConfig
from common.models import Mode
from common.snapshot import ChargerSnapshot

#: How long after a command the grid readings reflect it (cloud latency 10-30 s, docs/design.md,
#: "Surplus arithmetic").
DEFAULT_SETTLE_S = 30.0
#: A charger that stayed Scheduled when asked to start is asked again after this long.
START_RETRY_S = 3600.0
#: The dip start the controller state file keeps (controller.localstate) follows the dip's,
#: which the sun moves on (controller.rules_solar), once it is this much younger: a write a
#: cycle while the sun forgives a dip would be many a day. The kept start is never the younger
#: one, so a restart judges the dip as old or older.
DIP_KEEP_STEP_S = 30.0
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
    #: The session's solar share a partial surplus may spend down to (controller.share).
    solar_share_target: float = ChargingConfig.solar_share_target
    #: What a car on one phase draws per ampere on this connection, when that is less than
    #: ``watts_per_amp`` (a 3-phase connection whose car is not known yet); None: no less.
    one_phase_watts_per_amp: float | None = None

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
            solar_share_target=c.solar_share_target,
            one_phase_watts_per_amp=one_phase_watts_per_amp(c),
        )

    def target_a(self, surplus_w: float, watts_per_amp: float | None = None) -> int:
        """Whole amps the surplus pays for (unclamped; may be negative), at the car's measured
        watts per ampere when given, else the configured."""
        return math.floor(surplus_w / (watts_per_amp or self.watts_per_amp) + _EPS)

    def clamp(self, current_a: int) -> int:
        return min(max(current_a, self.min_current_a), self.max_current_a)

    def max_a(self, charger: ChargerSnapshot | None) -> int:
        """``max_current_a``, capped by what the installation allows when the status says."""
        avail = None if charger is None else charger.max_available_a
        if avail is None or avail < self.min_current_a:
            return self.max_current_a  # an odd value must not stop charging altogether
        return min(self.max_current_a, avail)


def one_phase_watts_per_amp(c: ChargingConfig) -> float | None:
    """A 1-phase car behind a 3-phase connection draws at one phase's voltage: 230.9 W/A on
    3N~400 V, 230 W/A between two lines of the Belgian 3 x 230 V delta. None when the config
    already says one phase, or sets ``watts_per_amp`` itself (then the user knows the car)."""
    if c.phases == 1 or c.watts_per_amp is not None:
        return None
    star = c.voltage_v > 300
    return c.voltage_v / math.sqrt(3) if star else c.voltage_v


@dataclass(frozen=True, slots=True)
class CarWatts:
    """What the car draws per ampere of setpoint, as the controller measured it
    (controller.measure; docs/design.md, "Surplus arithmetic")."""

    #: Measured in this session (charger status, or the meter's step at a command); None: not
    #: yet, the configured value stands.
    measured_w_per_a: float | None = None
    #: For the start threshold while nothing is measured this session: the lightest car this
    #: household was measured charging, when that drew on fewer phases than configured (a start
    #: at min current then measures the car); None: the configured value.
    start_w_per_a: float | None = None


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    """One cycle's view. ``grid_power_mean_w`` is the mean over the whole window (None: no reading,
    the data is stale); ``settled_mean_w`` the mean over the readings since ``settled_since``
    (None: none yet, the last change is still settling). ``store_failed``: the means are None
    because the store did not answer, not because the meter sent nothing."""

    mode: Mode
    grid_power_mean_w: float | None
    settled_mean_w: float | None
    charger: ChargerSnapshot | None
    car: CarWatts = CarWatts()
    store_failed: bool = False
    #: The grid mean of the last few seconds (``PROBE_LOOK_S``): all of them while a start measures
    #: the car (its step is what it looks for), else settled readings only, on which a running
    #: car's current follows the sun down.
    recent_mean_w: float | None = None


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What the policy carries from one cycle to the next."""

    mode: Mode | None = None
    #: When the surplus first covered min current while the charger was off (start delay).
    surplus_since: datetime | None = None
    #: When the surplus first came within ``SMALL_DIP_W`` of min current while the charger was
    #: off (the longer start delay of a start that is nearly covered).
    near_since: datetime | None = None
    #: When the surplus first fell short while charging (stop delay), moved on by the sun that
    #: forgave part of the dip since (controller.rules_solar).
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
    #: How the grid should step when that command takes effect, while it is looked for in the
    #: meter's readings (controller.step); None: not looked for.
    step_w: float | None = None
    #: How long the last commands took to show in the meter (controller.step), oldest first.
    latencies_s: tuple[float, ...] = ()
    #: Cycles in a row whose store reads failed (the grace before the stale rule).
    store_misses: int = 0
    #: When a start at min current began measuring the car (its watts per ampere unknown).
    probing_since: datetime | None = None
    #: The grid mean that start was decided on: the meter's step from it shows what the car
    #: draws within seconds (controller.rules.probe_overdrawn).
    probe_before_w: float | None = None
    #: A start was tried on this Ready episode (one per episode; docs/design.md, "Decision rules").
    ready_probed: bool = False
    #: When the sun first covered a start while the charger said Ready (the probe's start delay).
    ready_sun_since: datetime | None = None
    #: When our last start (a resume) went out, until a read shows the charger left Scheduled:
    #: only a start of ours can be refused by a schedule.
    start_sent_at: datetime | None = None
    #: The charger stayed Scheduled when asked to start: no new start before this.
    start_refused_until: datetime | None = None
    #: The status id of the last status read (not our estimate): shows a schedule starting the
    #: car (from Scheduled, or from Ready when the app has a schedule).
    seen_status_id: int | None = None
    #: The Wallbox app's schedule charges the car: left alone until it stops.
    schedule_charging: bool = False
    #: The car's energy this session as the meter split it (controller.share), booked up to
    #: ``booked_at``; ``drew_at`` is the last cycle the car drew.
    share_solar_wh: float = 0.0
    share_grid_wh: float = 0.0
    booked_at: datetime | None = None
    drew_at: datetime | None = None
    #: Since when the session holds min current on the share budget (controller.share); a
    #: session living on it pauses after ``rules_solar.SUNLESS_STOP_S`` once the budget no longer
    #: pays, not after the stop delay.
    budget_since: datetime | None = None
    #: While a dip is pending: the last cycle that counted for it, one short of min current or
    #: one of sun that forgave part of it (controller.rules_solar, ``SUN_FORGIVES_S``).
    dip_seen_at: datetime | None = None


def settled_since(state: PolicyState) -> datetime | None:
    """The ``since`` to pass to ``Store.grid_power_mean`` for ``PolicyInputs.settled_mean_w``."""
    return state.settled_from


def after_clock_step(state: PolicyState, now: datetime, settings: PolicySettings) -> PolicyState:
    """The state with no time in the future: a wall clock that stepped back an hour must not make
    a start or stop delay, or the settle window, last an hour more (docs/design.md, "Fail-safe")."""
    settle = timedelta(seconds=settings.settle_s)

    def clamp(t: datetime | None, latest: datetime) -> datetime | None:
        return None if t is None else min(t, latest)

    return replace(
        state,
        surplus_since=clamp(state.surplus_since, now),
        near_since=clamp(state.near_since, now),
        short_since=clamp(state.short_since, now),
        dip_seen_at=clamp(state.dip_seen_at, now),
        settled_from=clamp(state.settled_from, now + settle),
        last_command_at=clamp(state.last_command_at, now),
        start_sent_at=clamp(state.start_sent_at, now),
        probing_since=clamp(state.probing_since, now),
        ready_sun_since=clamp(state.ready_sun_since, now),
        start_refused_until=clamp(
            state.start_refused_until, now + timedelta(seconds=START_RETRY_S)
        ),
    )
