"""``scc replay DAY.csv``: a day through the real controller in simulated time (docs/design.md).

What runs is what runs at home, on a simulated clock:
- the meter is sampled every second (the collector's cadence) and each reading goes through the
  collector's own ``ReadingWriter`` into a SQLite store, flushed every 2 s as the collector does;
- every ``interval_s`` the real ``Controller.run_cycle`` reads the window mean from that store,
  decides with the real policy, and drives the real ``WallboxCharger`` adapter (its rate limiter,
  token handling, the ``wallbox`` package) over real HTTP to the simulated Wallbox cloud, which
  enforces the cloud's limits and applies commands to the simulated charger after a latency;
  with ``charger.kind: ocpp`` (``--charger ocpp``) the real ``OcppCharger`` and central system
  steer the simulated Pulsar over a websocket instead (scc.simcharger);
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
from controller.chargers import policy_settings
from controller.service import Controller
from scc.peers import policy_for
from scc.simcharger import CarOptions, simulated_charger
from sim.clock import ManualClock, sim_day_start
from sim.metrics import DayMetrics, count_sessions, energy_balance, perfect_tracking_ev_w
from sim.profiles import Profile
from sim.rig import car_watts_per_amp, profile_origin

PolicyName = Literal["default", "naive", "seed", "evcc", "perfect"]
POLICIES: tuple[str, ...] = ("default", "naive", "seed", "evcc", "perfect")
#: From a command to the car's current: through the cloud 10-30 s (docs/design.md, "Surplus
#: arithmetic"), simulated as 15 s; locally over OCPP a few seconds, simulated as 4 s.
DEFAULT_LATENCY_S = {"wallbox_cloud": 15.0, "ocpp": 4.0}
EXIT_BAD_INPUT = 2


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    policy: PolicyName = "default"
    #: None: the charger kind's (DEFAULT_LATENCY_S).
    latency_s: float | None = None
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
    #: Requests to the charger in all (cloud HTTP requests, or OCPP calls); None for "perfect".
    cloud_requests: int | None = None
    charger: str | None = None
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
        out["charger"] = self.charger
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
    names = (
        "controller",
        "controller.wallbox",
        "controller.ocpp",
        "sim.ocpp_cp",
        "writer",
        "poll",
    )
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
    config = replace(config, charging=c)
    settings = policy_settings(config)
    start = profile_origin(profile, sim_day_start()) + timedelta(seconds=profile.start_s)
    clock = ManualClock(start)
    n = len(profile)
    pv, house = profile.pv_w, profile.house_w
    ev_w = [0.0] * n
    setpoints: list[int | None] = [None] * n
    decisions: list[Decision] = []
    kind = config.charger.kind
    latency_s = DEFAULT_LATENCY_S[kind] if options.latency_s is None else options.latency_s
    with (
        tempfile.TemporaryDirectory(prefix="scc-replay-") as tmp,
        _quiet_controller(config),  # first: the central system's start is no news either
        simulated_charger(
            kind,
            clock,
            c,
            latency_s=latency_s,
            car=options.car,
            car_kwh=options.car_kwh,
            timeout_s=config.wallbox.timeout_s,
        ) as charger,
    ):
        store = SqliteStore(":memory:")
        spool = Spool(Path(tmp) / "spool.sqlite")
        writer = ReadingWriter(lambda: store, spool, clock=lambda: clock().timestamp())
        controller = Controller(store, charger.adapter, settings, policy=policy)
        if not options.car.first_day:
            controller.car.remember(charger.car_w_per_a)
        interval = timedelta(seconds=c.interval_s)
        # The controller starts with the collector; its first window is mostly empty, as at home.
        next_cycle = start + interval
        next_look: datetime | None = None
        one_s = timedelta(seconds=1)
        now = start
        try:
            for i in range(n):
                clock.t = now
                charger.step(now)
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
                setpoints[i] = charger.setpoint_on()
                now += one_s
            writer.flush(final=True)
        finally:
            writer.close()  # closes the store too
            spool.close()
        counts = charger.counts()
    starts, stops = count_sessions(ev_w)
    metrics = replace(
        energy_balance(pv, house, ev_w),
        starts=starts,
        stops=stops,
        current_changes=counts.current_changes,
        charger_writes=counts.writes,
        charger_reads=counts.reads,
        rate_limited=counts.rate_limited,
    )
    return ReplayResult(
        profile=profile.name,
        policy=options.policy,
        charging=_charging_summary(config, options.policy, options.car),
        metrics=metrics,
        limit_solar_kwh=0.0,
        duration_s=n,
        runtime_s=0.0,
        cloud_requests=counts.requests,
        charger=kind,
        decisions=decisions,
        series=DaySeries(profile.start_s, pv, house, ev_w, setpoints)
        if options.keep_series
        else None,
    )
