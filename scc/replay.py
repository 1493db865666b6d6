"""``scc replay DAY.csv``: a day through the real controller in simulated time (docs/design.md).

What runs is what runs at home, on a simulated clock:
- the meter is sampled every second (the collector's cadence) and each reading goes through the
  collector's own ``ReadingWriter`` into a SQLite store, flushed every 2 s as the collector does;
- every ``interval_s`` the real ``Controller.run_cycle`` reads the window mean from that store,
  decides with the real policy, and drives the real ``WallboxCharger`` adapter (its rate limiter,
  token handling, the ``wallbox`` package) over real HTTP to the simulated Wallbox cloud, which
  enforces the cloud's limits and applies commands to the simulated charger after a latency;
- the meter's grid power includes what the simulated charger draws, so the controller sees its
  own charging as it does at home.

The one shortcut: the meter is sampled in-process rather than over HTTP. 86 400 HTTP polls would
take about a minute and a half; the collector's HTTP path has its own tests and benchmark, and the
controller sees only the readings in the store, which are the same either way.

``--policy naive`` runs the original scripts' rule through the same Controller (scc.naive),
``--policy seed`` and ``--policy evcc`` the two peers of the benchmark (scc.peers), each with its
own cadence and window; ``--policy perfect`` is the limit: current follows the instantaneous
surplus at whole amps within [min, max], no delay, no rate limit (computed, nothing to drive).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from collector.spool import Spool
from collector.writer import ReadingWriter
from common.config import Config
from common.models import Decision, Reading
from common.store.sqlite import SqliteStore
from controller.policy import PolicySettings
from controller.service import Controller
from controller.wallbox import WallboxCharger
from scc.peers import policy_for
from sim.clock import ManualClock, sim_day_start
from sim.metrics import DayMetrics, count_sessions, energy_balance, perfect_tracking_ev_w
from sim.profiles import Profile
from sim.rig import car_watts_per_amp, profile_origin, wallbox_config
from sim.wallbox_cloud import SimCharger, WallboxCloud

PolicyName = Literal["default", "naive", "seed", "evcc", "perfect"]
POLICIES: tuple[str, ...] = ("default", "naive", "seed", "evcc", "perfect")
#: The cloud passes a command on after 10-30 s (docs/design.md, "Surplus arithmetic"); the simulated
#: charger takes 15 s.
DEFAULT_LATENCY_S = 15.0
EXIT_BAD_INPUT = 2


@dataclass(frozen=True, slots=True)
class CarOptions:
    """The car and cloud as they are, whatever the config assumes (docs/design.md, "Replay and
    benchmarks"): its phases, a cloud that reports 0 kW now and then, OCPP mode, a taper."""

    #: 1 or 3; None: as ``charging.phases`` says.
    phases: int | None = None
    #: Every n-th status read of a charging car says 0 kW (0: never).
    zero_kw_every: int = 0
    #: The charger is in OCPP mode: remote actions (pause, resume) are refused with 403.
    ocpp_mode: bool = False
    #: The car takes less and less over its last this many kWh (with ``car_kwh``).
    taper_kwh: float = 0.0
    #: The controller has never measured a car here (its first day at home); by default it has
    #: charged this car before, as on every later day.
    first_day: bool = False


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    policy: PolicyName = "default"
    latency_s: float = DEFAULT_LATENCY_S
    #: kWh the car takes before it is full (status 181); None: it takes all it gets all day.
    car_kwh: float | None = None
    #: Keep the per-second series (for the plot); a benchmark can skip them.
    keep_series: bool = True
    car: CarOptions = field(default_factory=lambda: CarOptions())


@dataclass
class DaySeries:
    """Per-second samples from the profile's start: what the plot draws."""

    start_s: int
    pv_w: Sequence[float]
    house_w: Sequence[float]
    ev_w: Sequence[float]
    #: The charger's applied setpoint while it is enabled, else None (paused).
    setpoint_a: Sequence[int | None]


@dataclass
class ReplayResult:
    profile: str
    policy: str
    charging: dict[str, float]
    metrics: DayMetrics
    limit_solar_kwh: float
    duration_s: int
    runtime_s: float
    cloud_requests: int | None = None
    decisions: list[Decision] = field(default_factory=list)
    series: DaySeries | None = None

    @property
    def captured(self) -> float | None:
        """EV solar kWh as a fraction of the perfect-tracking limit's."""
        if self.limit_solar_kwh <= 0:
            return None
        return self.metrics.ev_solar_kwh / self.limit_solar_kwh

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"profile": self.profile, "policy": self.policy}
        out.update(self.metrics.to_json())
        out["limit_solar_kwh"] = round(self.limit_solar_kwh, 4)
        out["captured"] = None if self.captured is None else round(self.captured, 4)
        out["cloud_requests"] = self.cloud_requests
        out["duration_s"] = self.duration_s
        out["charging"] = self.charging
        out["runtime_s"] = round(self.runtime_s, 2)
        return out


def _charging_summary(config: Config, policy: str, car: CarOptions) -> dict[str, float]:
    c = config.charging if policy == "perfect" else policy_for(policy, config.charging)[1]
    out: dict[str, float] = {
        "watts_per_amp": round(c.effective_watts_per_amp, 1),
        "car_watts_per_amp": round(car_watts_per_amp(c, car.phases), 1),
        "min_current_a": c.min_current_a,
        "max_current_a": c.max_current_a,
    }
    if policy != "perfect":
        out["interval_s"] = c.interval_s
        out["window_s"] = c.window_s
    if policy not in ("naive", "seed"):
        out["start_delay_s"] = c.start_delay_s
        out["stop_delay_s"] = c.stop_delay_s
    return out


def limit_ev_w(profile: Profile, config: Config, car: CarOptions | None = None) -> list[float]:
    """The perfect-tracking limit for the car as it is (its own watts per ampere)."""
    c = config.charging
    wpa = car_watts_per_amp(c, None if car is None else car.phases)
    return perfect_tracking_ev_w(
        profile.pv_w, profile.house_w, wpa, c.min_current_a, c.max_current_a
    )


def replay(profile: Profile, config: Config, options: ReplayOptions | None = None) -> ReplayResult:
    """Run ``profile`` through ``options.policy``; see the module docstring."""
    options = options or ReplayOptions()
    if options.policy not in POLICIES:
        raise ValueError(f"unknown policy {options.policy!r} ({', '.join(POLICIES)})")
    started = time.perf_counter()
    limit = limit_ev_w(profile, config, options.car)
    limit_m = energy_balance(profile.pv_w, profile.house_w, limit)
    if options.policy == "perfect":
        starts, stops = count_sessions(limit)
        changes = sum(1 for a, b in itertools.pairwise(limit) if a > 0 and b > 0 and a != b)
        metrics = replace(limit_m, starts=starts, stops=stops, current_changes=changes)
        series = None
        if options.keep_series:
            wpa = car_watts_per_amp(config.charging, options.car.phases)
            series = DaySeries(
                profile.start_s,
                profile.pv_w,
                profile.house_w,
                limit,
                [round(e / wpa) if e > 0 else None for e in limit],
            )
        return ReplayResult(
            profile=profile.name,
            policy="perfect",
            charging=_charging_summary(config, "perfect", options.car),
            metrics=metrics,
            limit_solar_kwh=limit_m.ev_solar_kwh,
            duration_s=len(profile),
            runtime_s=time.perf_counter() - started,
            series=series,
        )
    result = _run_controller(profile, config, options)
    result.limit_solar_kwh = limit_m.ev_solar_kwh
    result.runtime_s = time.perf_counter() - started
    return result


def _reading(now: datetime, base_w: float, car_w: tuple[float, float, float]) -> Reading:
    """What the P1 meter reads: the house and a 3-phase inverter spread evenly over the phases,
    the car on its own (so a 1-phase car shows on L1 only)."""
    phases = [round(base_w / 3 + w, 1) for w in car_w]
    return Reading(
        ts=now,
        active_power_w=float(round(base_w + sum(car_w))),
        active_power_l1_w=phases[0],
        active_power_l2_w=phases[1],
        active_power_l3_w=phases[2],
    )


@contextlib.contextmanager
def _quiet_controller(config: Config) -> Iterator[None]:
    """1 440 cycle lines a day are for ``logging.level: DEBUG``; warnings still show."""
    names = ("controller", "controller.wallbox", "writer", "poll")
    loggers = [logging.getLogger(n) for n in names]
    before = [lg.level for lg in loggers]
    if config.logging.level != "DEBUG":
        for lg in loggers:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before, strict=True):
            lg.setLevel(level)


def _next_look(controller: Controller, now: datetime) -> datetime | None:
    look_s = controller.look_in_s()
    return None if look_s is None else now + timedelta(seconds=look_s)


def _run_controller(profile: Profile, config: Config, options: ReplayOptions) -> ReplayResult:
    policy, c = policy_for(options.policy, config.charging)
    settings = PolicySettings.from_config(c)
    wpa = settings.watts_per_amp
    start = profile_origin(profile, sim_day_start()) + timedelta(seconds=profile.start_s)
    clock = ManualClock(start)
    car = options.car
    charger = SimCharger(
        clock,
        watts_per_amp=car_watts_per_amp(c, car.phases),
        latency_s=options.latency_s,
        setpoint_a=c.max_current_a,
        paused=True,
        car_connected=True,
        kwh_to_full=options.car_kwh,
        phases=car.phases or c.phases,
        taper_kwh=car.taper_kwh,
    )
    n = len(profile)
    pv, house = profile.pv_w, profile.house_w
    ev_w = [0.0] * n
    setpoints: list[int | None] = [None] * n
    decisions: list[Decision] = []
    with (
        tempfile.TemporaryDirectory(prefix="scc-replay-") as tmp,
        WallboxCloud(
            clock, charger=charger, ocpp_mode=car.ocpp_mode, zero_kw_every=car.zero_kw_every
        ) as cloud,
        _quiet_controller(config),
    ):
        store = SqliteStore(":memory:")
        spool = Spool(Path(tmp) / "spool.sqlite")
        writer = ReadingWriter(lambda: store, spool, clock=lambda: clock().timestamp())
        adapter = WallboxCharger(
            wallbox_config(
                cloud, timeout_s=config.wallbox.timeout_s, charger_id=str(charger.charger_id)
            ),
            wpa,
            clock=clock,
            settle_s=settings.settle_s,
        )
        controller = Controller(store, adapter, settings, policy=policy)
        if not car.first_day:
            controller.car.remember(charger.watts_per_amp)
        interval = timedelta(seconds=c.interval_s)
        # The controller starts with the collector; its first window is mostly empty, as at home.
        next_cycle = start + interval
        next_look: datetime | None = None
        one_s = timedelta(seconds=1)
        now = start
        try:
            for i in range(n):
                clock.t = now
                e = charger.power_w(now)
                ev_w[i] = e
                writer.add(_reading(now, house[i] - pv[i], charger.phase_powers_w(now)))
                if writer.due():
                    writer.flush()
                if now >= next_cycle:
                    decisions.append(controller.run_cycle(now))
                    next_cycle += interval
                    next_look = _next_look(controller, now)
                elif next_look is not None and now >= next_look:
                    looked = controller.look(now)  # as run_loop does between cycles
                    decisions.extend([] if looked is None else [looked])
                    next_look = _next_look(controller, now)
                if not charger.paused:
                    setpoints[i] = charger.setpoint_a
                now += one_s
            writer.flush(final=True)
        finally:
            writer.close()  # closes the store too
            spool.close()
        commands = cloud.commands()
        starts, stops = count_sessions(ev_w)
        metrics = replace(
            energy_balance(pv, house, ev_w),
            starts=starts,
            stops=stops,
            current_changes=sum(1 for cmd in commands if cmd.startswith("current(")),
            charger_writes=len(commands),
            charger_reads=cloud.count(method="GET", path_contains="chargers/status"),
            rate_limited=cloud.count(status=429),
        )
        requests = len(cloud.requests)
    return ReplayResult(
        profile=profile.name,
        policy=options.policy,
        charging=_charging_summary(config, options.policy, options.car),
        metrics=metrics,
        limit_solar_kwh=0.0,
        duration_s=n,
        runtime_s=0.0,
        cloud_requests=requests,
        decisions=decisions,
        series=DaySeries(profile.start_s, pv, house, ev_w, setpoints)
        if options.keep_series
        else None,
    )
