"""A fast stand-in for ``scc replay`` while tuning: the same policy functions, no I/O.

A full replay (SQLite, HTTP to the simulated cloud) takes 5-40 s a day; a sweep over ten days,
two grids and a few hundred settings needs something a hundred times faster. This loop keeps what
the policy sees and what the charger does, as the replay has them:

- one meter reading a second (grid = house - PV + charger), window means over
  ``[now - window_s, now)`` and over the readings since ``settled_since(state)``;
- a cycle every ``interval_s`` from the first interval on, the policy's state kept only when the
  commands went out;
- the charger applies a command ``latency_s`` after it was sent;
- the snapshot the adapter builds: a status read at most every 59 s (the cloud's limit, the
  read showing the charger as it is then), overlaid with commands sent after it or less than
  ``settle_s`` before it; at most 5 writes a minute (a cycle whose writes would exceed that fails
  and is retried, as the limiter refuses it).

It leaves out what costs time but does not change a decision: tokens, the 2 s flush of the
collector's batches, 429 answers (our limiter never lets one happen). Every number published is
from the real replay; this only ranks candidates (bench/realistic/README.md says how closely the
two agree).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from common.models import Mode
from common.snapshot import STATUS_CHARGING, STATUS_PAUSED, ChargerSnapshot
from controller.policy import (
    Command,
    Policy,
    PolicyInputs,
    PolicySettings,
    PolicyState,
    commands_for,
    settled_since,
)
from controller.rules import PROBE_LOOK_S
from controller.step import GridSeries, pending_step, series_start, settle_at_step
from sim.metrics import DayMetrics, count_sessions, energy_balance
from sim.profiles import Profile

T0 = datetime(2030, 6, 1, tzinfo=UTC)
READ_EVERY_S = 59.0
MAX_WRITES_PER_MIN = 5


@dataclass
class _Charger:
    latency_s: float
    setpoint_a: int
    paused: bool = True
    pending: deque[tuple[float, Command]] = field(default_factory=deque)

    def send(self, t: float, cmd: Command) -> None:
        self.pending.append((t + self.latency_s, cmd))

    def advance(self, t: float) -> None:
        while self.pending and self.pending[0][0] <= t:
            _, cmd = self.pending.popleft()
            if cmd.kind == "set_current":
                assert cmd.current_a is not None
                self.setpoint_a = cmd.current_a
            else:
                self.paused = cmd.kind == "pause"


@dataclass
class _Adapter:
    """What controller.wallbox.WallboxCharger reports: last read plus commands since."""

    settle_s: float
    wpa: float
    read_t: float | None = None
    read: tuple[int, int, float] | None = None  # status, setpoint, power
    sent_setpoint: tuple[float, int] | None = None
    sent_enabled: tuple[float, bool] | None = None
    writes: deque[float] = field(default_factory=deque)

    def maybe_read(self, t: float, ch: _Charger, wpa: float) -> None:
        if self.read_t is None or t - self.read_t >= READ_EVERY_S:
            power = 0.0 if ch.paused else ch.setpoint_a * wpa
            self.read = (STATUS_PAUSED if ch.paused else STATUS_CHARGING, ch.setpoint_a, power)
            self.read_t = t

    def snapshot(self, t: float) -> ChargerSnapshot:
        assert self.read is not None and self.read_t is not None
        status, setpoint, power = self.read
        estimated: set[str] = set()
        if self.sent_setpoint and self.read_t < self.sent_setpoint[0] + self.settle_s:
            setpoint = self.sent_setpoint[1]
            estimated.add("setpoint_a")
        if self.sent_enabled and self.read_t < self.sent_enabled[0] + self.settle_s:
            want = STATUS_CHARGING if self.sent_enabled[1] else STATUS_PAUSED
            if want != status:
                status = want
                estimated.add("status")
        if status != STATUS_CHARGING:
            power = 0.0
        elif estimated:
            power = setpoint * self.wpa
            estimated.add("power_w")
        return ChargerSnapshot(
            ts=T0 + timedelta(seconds=t),
            charger_id="1",
            status_id=status,
            setpoint_a=setpoint,
            power_w=power,
            read_at=T0 + timedelta(seconds=self.read_t),
            estimated=frozenset(estimated),
        )

    def allowed(self, t: float, n: int) -> bool:
        while self.writes and t - self.writes[0] >= 60.0:
            self.writes.popleft()
        return len(self.writes) + n <= MAX_WRITES_PER_MIN


@dataclass
class FastResult:
    metrics: DayMetrics
    ev_w: list[float]


class _Means:
    """Window means over the 1 s readings, by prefix sums."""

    def __init__(self) -> None:
        self.prefix = [0.0]
        self.values: list[float | None] = []

    def add(self, w: float) -> None:
        self.prefix.append(self.prefix[-1] + w)
        self.values.append(w)

    def settle(self, state: Any, now: datetime, t: int) -> Any:
        """``state`` settled at its command's step, as the controller finds it (controller.step)."""
        sent_at = pending_step(state, now) if isinstance(state, PolicyState) else None
        if sent_at is None:
            return state
        a = max(math.floor((series_start(sent_at) - T0).total_seconds()), 0)
        series = GridSeries(T0 + timedelta(seconds=a), tuple(self.values[a:t]))
        return settle_at_step(state, series, now)

    def mean(self, t: int, window_s: float, since_t: float | None) -> float | None:
        a = max(t - math.floor(window_s), 0)  # readings at a..t-1
        if since_t is not None:
            a = max(a, math.ceil(since_t))
        if a >= t:
            return None
        return (self.prefix[t] - self.prefix[a]) / (t - a)


def run(
    profile: Profile,
    policy: Policy,
    settings: PolicySettings,
    interval_s: float,
    latency_s: float = 15.0,
    state: Any = None,
) -> FastResult:
    """One day through ``policy``; ``state`` is its first state (``PolicyState()``)."""
    n = len(profile)
    ch = _Charger(latency_s, settings.max_current_a)
    ad = _Adapter(settings.settle_s, settings.watts_per_amp)
    means = _Means()
    state = PolicyState() if state is None else state
    ev_w = [0.0] * n
    next_cycle = interval_s
    for t in range(n):
        ch.advance(t)
        e = 0.0 if ch.paused else ch.setpoint_a * settings.watts_per_amp
        ev_w[t] = e
        means.add(profile.house_w[t] - profile.pv_w[t] + e)
        if t < next_cycle:
            continue
        next_cycle += interval_s
        state = _cycle(t, ch, ad, means, policy, state, settings)
    starts, stops = count_sessions(ev_w)
    m = replace(energy_balance(profile.pv_w, profile.house_w, ev_w), starts=starts, stops=stops)
    return FastResult(m, ev_w)


def _cycle(
    t: int,
    ch: _Charger,
    ad: _Adapter,
    means: _Means,
    policy: Policy,
    state: Any,
    s: PolicySettings,
) -> Any:
    ad.maybe_read(t, ch, s.watts_per_amp)
    snap = ad.snapshot(t)
    now = T0 + timedelta(seconds=t)
    state = means.settle(state, now, t)
    since = settled_since(state)
    since_t = None if since is None else (since - T0).total_seconds()
    full = means.mean(t, s.window_s, None)
    settled = full if since_t is None else means.mean(t, s.window_s, since_t)
    inputs = PolicyInputs(
        mode=Mode.SOLAR, grid_power_mean_w=full, settled_mean_w=settled, charger=snap
    )
    probing = isinstance(state, PolicyState) and state.probing_since is not None
    recent_w = means.mean(t, PROBE_LOOK_S, None if probing else since_t)
    inputs = replace(inputs, recent_mean_w=recent_w)
    decision, new_state = policy(inputs, state, s, now)
    cmds = commands_for(decision, snap)
    if not ad.allowed(t, len(cmds)):
        return state
    for cmd in cmds:
        ch.send(t, cmd)
        ad.writes.append(t)
        if cmd.kind == "set_current":
            assert cmd.current_a is not None
            ad.sent_setpoint = (t, cmd.current_a)
        else:
            ad.sent_enabled = (t, cmd.kind == "resume")
    return new_state
