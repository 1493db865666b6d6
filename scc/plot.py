"""``scc replay --plot day.png``: the day in one picture, so a person sees what the controller did.

Top: PV, house load, EV draw and the grid (+ import, - export) in kW. Bottom: the charger's
current setpoint while it is enabled (gaps: paused) between the min and max current.
matplotlib is an optional extra (``pip install 'solar-car-charge[plot]'``): nothing else needs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scc.replay import ReplayResult

#: Seconds per plotted point: a day becomes 2 880 points, sharp enough for 10-30 s cloud edges.
BIN_S = 30
INSTALL_HINT = "pip install 'solar-car-charge[plot]' (or: pip install matplotlib)"


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


def plot_day(result: ReplayResult, path: str | Path) -> Path:
    check_available()
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    s = result.series
    if s is None:
        raise ValueError("the replay kept no series (ReplayOptions.keep_series=False)")
    m = result.metrics
    n = BIN_S
    recorded = s.start_s >= 10**9  # Unix time: plot the UTC time of day
    offset = s.start_s % 86400 if recorded else s.start_s
    hours = [(offset + i) / 3600 for i in range(0, len(s.pv_w), n)]
    pv = [v / 1000 for v in _means(s.pv_w, n)]
    house = [v / 1000 for v in _means(s.house_w, n)]
    ev = [v / 1000 for v in _means(s.ev_w, n)]
    grid = [h + e - p for p, h, e in zip(pv, house, ev, strict=True)]
    amps = _setpoints(s.setpoint_a, n)

    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(13, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}, dpi=100
    )
    ax.fill_between(hours, pv, color="#f6c344", alpha=0.45, lw=0, label="PV")
    ax.plot(hours, pv, color="#d99a00", lw=0.8)
    ax.fill_between(hours, ev, color="#2e9d5b", alpha=0.55, lw=0, label="EV (charger draw)")
    ax.plot(hours, house, color="#555555", lw=0.9, label="house load")
    ax.plot(hours, grid, color="#2463c4", lw=1.0, label="grid (+ import / - export)")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("power (kW)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", ncol=4, fontsize=9, framealpha=0.9)
    share = "-" if m.solar_share is None else f"{m.solar_share:.0%}"
    captured = "-" if result.captured is None else f"{result.captured:.0%}"
    ax.set_title(
        f"{result.profile}, policy {result.policy}: EV {m.ev_kwh:.1f} kWh, solar share {share}, "
        f"captured {captured} of the limit's {result.limit_solar_kwh:.1f} kWh solar, "
        f"{m.starts} starts, {m.charger_writes} charger writes",
        fontsize=10.5,
    )

    lo, hi = result.charging["min_current_a"], result.charging["max_current_a"]
    ax2.step(hours, amps, where="post", color="#2e9d5b", lw=1.4, label="setpoint (gap: paused)")
    ax2.axhline(lo, color="#999999", lw=0.8, ls="--")
    ax2.axhline(hi, color="#999999", lw=0.8, ls="--")
    ax2.set_ylim(0, hi + 2)
    ax2.set_ylabel("current (A)")
    ax2.set_xlabel("time of day (h, UTC)" if recorded else "time of day (h)")
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="upper left", fontsize=9)
    # Nights say nothing: show the hours with sun, and half an hour either side.
    sunny = [h for h, p in zip(hours, pv, strict=True) if p > 0.05]
    first, last = hours[0], hours[-1]
    if sunny:
        first, last = max(first, sunny[0] - 0.5), min(last, sunny[-1] + 0.5)
    ax2.set_xlim(first, last)
    if last - first > 6:
        ax2.set_xticks(range(math.ceil(first), math.floor(last) + 1, 2))
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
