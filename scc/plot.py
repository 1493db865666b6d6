"""``scc replay --plot day.png``: the day in one picture, so a person sees what the controller did.

Top: PV, house load and the car's draw in kW (30 s means), and the grid (+ import, - export) as
the meter saw it: a light band spanning each 30 s of the per-second values, under the trailing
``window_s`` mean the controller decides on. Bottom: the charger's current setpoint while it is
enabled (gaps: paused) between the labelled min and max current. The title says which day and
policy and what it scored; the line under the axes says with which settings (the grid connection,
W per A, the current range, the window, cycle and delays, the charger's command latency).
matplotlib is an optional extra (``pip install 'solar-car-charge[plot]'``): nothing else needs it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from common.config import ChargingConfig
    from scc.replay import DaySeries, ReplayResult

#: Seconds per plotted point: a day becomes 2 880 points, sharp enough for 10-30 s cloud edges.
BIN_S = 30
INSTALL_HINT = "pip install 'solar-car-charge[plot]' (or: pip install matplotlib)"
GRID_COLOR = "#2463c4"


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def check_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(
            f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from None


def _means(values: Sequence[float], n: int) -> list[float]:
    return [sum(values[i : i + n]) / len(values[i : i + n]) for i in range(0, len(values), n)]


def _setpoints(values: Sequence[int | None], n: int) -> list[float]:
    """The last setpoint in each bin; NaN (a gap in the line) where the charger was paused."""
    out = []
    for i in range(0, len(values), n):
        v = values[min(i + n, len(values)) - 1]
        out.append(math.nan if v is None else float(v))
    return out


def trailing_means(values: Sequence[float], window: int, n: int) -> list[float]:
    """At the end of each bin of ``n`` values, the mean of the last ``window`` values (fewer at
    the start): the grid power as the controller averages it."""
    sums = [0.0, *itertools.accumulate(values)]
    out = []
    for i in range(0, len(values), n):
        end = min(i + n, len(values))
        start = max(end - window, 0)
        out.append((sums[end] - sums[start]) / (end - start))
    return out


@dataclass(frozen=True, slots=True)
class Binned:
    """The day in kW per ``BIN_S`` bin, as drawn."""

    hours: list[float]
    pv: list[float]
    house: list[float]
    ev: list[float]
    grid_low: list[float]
    grid_high: list[float]
    grid_mean: list[float]
    amps: list[float]


def bin_day(s: DaySeries, window_s: float, n: int = BIN_S) -> Binned:
    recorded = s.start_s >= 10**9  # Unix time: plot the UTC time of day
    offset = s.start_s % 86400 if recorded else s.start_s
    grid = [h + e - p for p, h, e in zip(s.pv_w, s.house_w, s.ev_w, strict=True)]
    chunks = [grid[i : i + n] for i in range(0, len(grid), n)]
    return Binned(
        hours=[(offset + i) / 3600 for i in range(0, len(grid), n)],
        pv=[v / 1000 for v in _means(s.pv_w, n)],
        house=[v / 1000 for v in _means(s.house_w, n)],
        ev=[v / 1000 for v in _means(s.ev_w, n)],
        grid_low=[min(c) / 1000 for c in chunks],
        grid_high=[max(c) / 1000 for c in chunks],
        grid_mean=[v / 1000 for v in trailing_means(grid, max(round(window_s), 1), n)],
        amps=_setpoints(s.setpoint_a, n),
    )


def day_text(s: DaySeries) -> str:
    """Which day: its date for a recorded one (Unix time), else that the file has no date."""
    if s.start_s >= 10**9:
        return f"{datetime.fromtimestamp(s.start_s, UTC):%A %d %B %Y}"
    return "a day without a date (the file gives the time of day only)"


def settings_text(
    charging: dict[str, float], connection: ChargingConfig | None, latency_s: float | None
) -> str:
    """The settings the day was replayed with, in one line under the figure."""
    wpa, lo, hi = charging["watts_per_amp"], charging["min_current_a"], charging["max_current_a"]
    parts = [
        f"grid {_connection(connection, wpa)}, so {lo:g} A = {lo * wpa / 1000:.2f} kW",
        f"current {lo:g}-{hi:g} A",
    ]
    if "window_s" in charging:
        parts.append(f"window {charging['window_s']:g} s, cycle {charging['interval_s']:g} s")
    if "start_delay_s" in charging:
        delays = charging["start_delay_s"], charging["stop_delay_s"]
        parts.append(f"start delay {delays[0]:g} s, stop delay {delays[1]:g} s")
    if latency_s is not None:
        parts.append(f"charger follows commands after {latency_s:g} s")
    return f"Replayed {date.today():%Y-%m-%d} with: " + "; ".join(parts)


def _connection(c: ChargingConfig | None, wpa: float) -> str:
    if c is None or c.watts_per_amp is not None:
        return f"{wpa:g} W/A"
    phases = "1 phase" if c.phases == 1 else "3 phases"
    return f"{phases} at {c.voltage_v:g} V ({wpa:g} W/A)"


def plot_day(
    result: ReplayResult,
    path: str | Path,
    charging: ChargingConfig | None = None,
    latency_s: float | None = None,
) -> Path:
    """Draw ``result`` (replayed with ``charging`` and a charger ``latency_s``) to ``path``."""
    import matplotlib.pyplot as plt

    fig = draw_day(result, charging, latency_s)
    out = Path(path)
    try:
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out


def draw_day(
    result: ReplayResult, charging: ChargingConfig | None = None, latency_s: float | None = None
) -> Any:
    """The figure ``plot_day`` saves (a matplotlib Figure; the caller closes it)."""
    check_available()
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    s = result.series
    if s is None:
        raise ValueError("the replay kept no series (ReplayOptions.keep_series=False)")
    window_s = float(result.charging.get("window_s", 60.0))
    b = bin_day(s, window_s)
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(13, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}, dpi=100
    )
    _draw_power(ax, b, window_s)
    ax.set_title(_title(result, s), fontsize=10.5, loc="left")
    _draw_current(ax2, b, result.charging["min_current_a"], result.charging["max_current_a"])
    ax2.set_xlabel("time of day (h, UTC)" if s.start_s >= 10**9 else "time of day (h)")
    _set_hours(ax2, b)
    latency = None if result.policy == "perfect" else latency_s
    fig.text(0.01, 0.012, settings_text(result.charging, charging, latency), fontsize=9,
             color="#333333")  # fmt: skip
    fig.tight_layout(rect=(0, 0.025, 1, 1))
    return fig


def _title(result: ReplayResult, s: DaySeries) -> str:
    m = result.metrics
    share = "-" if m.solar_share is None else f"{m.solar_share:.0%}"
    captured = "-" if result.captured is None else f"{result.captured:.0%}"
    return (
        f"{result.profile}, {day_text(s)}: policy {result.policy}\n"
        f"EV {m.ev_kwh:.1f} kWh, solar share {share}, captured {captured} of the limit's "
        f"{result.limit_solar_kwh:.1f} kWh solar, {m.starts} starts, "
        f"{m.charger_writes} charger writes"
    )


def _draw_power(ax: Any, b: Binned, window_s: float) -> None:
    ax.fill_between(b.hours, b.pv, color="#f6c344", alpha=0.45, lw=0, label="PV")
    ax.plot(b.hours, b.pv, color="#d99a00", lw=0.8)
    ax.fill_between(b.hours, b.ev, color="#2e9d5b", alpha=0.55, lw=0, label="EV (charger draw)")
    ax.plot(b.hours, b.house, color="#555555", lw=0.9, label="house load")
    ax.fill_between(b.hours, b.grid_low, b.grid_high, color=GRID_COLOR, alpha=0.3, lw=0,
                    label="grid, each second (+ import / - export)")  # fmt: skip
    ax.plot(b.hours, b.grid_mean, color=GRID_COLOR, lw=1.1,
            label=f"grid, {window_s:g} s mean (what the controller sees)")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("power (kW)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", ncol=3, fontsize=9, framealpha=0.9)


def _draw_current(ax2: Any, b: Binned, lo: float, hi: float) -> None:
    ax2.step(b.hours, b.amps, where="post", color="#2e9d5b", lw=1.4, label="setpoint (gap: paused)")
    for amps, what in ((lo, "min"), (hi, "max")):
        ax2.axhline(amps, color="#999999", lw=0.8, ls="--")
        ax2.annotate(f"{what} {amps:g} A", (1, amps), xycoords=("axes fraction", "data"),
                     xytext=(-4, 2), textcoords="offset points", ha="right", va="bottom",
                     fontsize=8.5, color="#555555")  # fmt: skip
    ax2.set_ylim(0, hi + 4)
    ax2.set_ylabel("current (A)")
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="upper left", fontsize=9)


def _set_hours(ax2: Any, b: Binned) -> None:
    """Nights say nothing: show the hours with sun, and half an hour either side."""
    sunny = [h for h, p in zip(b.hours, b.pv, strict=True) if p > 0.05]
    first, last = b.hours[0], b.hours[-1]
    if sunny:
        first, last = max(first, sunny[0] - 0.5), min(last, sunny[-1] + 0.5)
    ax2.set_xlim(first, last)
    if last - first > 6:
        ax2.set_xticks(range(math.ceil(first), math.floor(last) + 1, 2))
