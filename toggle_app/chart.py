"""The last hour at a glance: grid power, the surplus and the car's draw as an inline SVG.

A person would rather look than read: a car line that follows the surplus line says "it works"
faster than any number. Drawn on the server from ``Store.power_series`` (one mean a minute), as
SVG path data the template puts inline and the page's script swaps in from ``/api/history``, so
nothing comes from a CDN, nothing runs inline (the CSP allows neither) and the chart is there with
JavaScript off. Pure: points, span and size in, strings out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from common.store import PowerPoint
from common.store.base import MAX_STEP_S
from common.timeutil import format_duration
from toggle_app.text import clock_time, format_kw

#: The chart's span and resolution.
SPAN_S = 3600.0
STEP_S = 60.0
#: The viewBox; the SVG scales to the tile's width.
WIDTH, HEIGHT = 320.0, 120.0
LEFT, RIGHT, TOP, BOTTOM = 34.0, 4.0, 6.0, 16.0
#: Where the template puts the axis and the labels.
FRAME = {
    "width": WIDTH,
    "height": HEIGHT,
    "x0": LEFT,
    "x1": WIDTH - RIGHT,
    "label_x": LEFT - 4,
    "top_label_y": TOP + 8,
    "bottom_label_y": HEIGHT - BOTTOM,
    "time_label_y": HEIGHT - 3,
    "middle_x": (LEFT + WIDTH - RIGHT) / 2,
}
#: The lines, in drawing order: (PowerPoint field, key, legend label).
LINES = (
    ("grid_power_w", "grid", "Grid"),
    ("surplus_w", "surplus", "Surplus"),
    ("ev_power_w", "car", "Car"),
)
#: Per-cycle values (the controller writes them once per cycle) hold until the next one, for at
#: most as long as a charger point counts for the day's kWh; the 1 s grid power does not hold.
HOLDS = {"grid_power_w": 0.0, "surplus_w": MAX_STEP_S, "ev_power_w": MAX_STEP_S}


def _held(points: Sequence[PowerPoint], field: str, step_s: float) -> list[tuple[datetime, float]]:
    """One value per bucket, a missing one filled from the previous within its hold."""
    out: list[tuple[datetime, float]] = []
    last: tuple[datetime, float] | None = None
    hold = timedelta(seconds=HOLDS[field])
    for p in points:
        value = getattr(p, field)
        if value is not None:
            last = (p.ts, value)
        elif last is None or p.ts - last[0] > hold:
            continue
        out.append((p.ts + timedelta(seconds=step_s / 2), value if value is not None else last[1]))
    return out


def _scale(values: Sequence[float]) -> tuple[float, float]:
    """Whole kilowatts around the values and zero, at least 1 kW tall."""
    top = max([0.0, *values])
    bottom = min([0.0, *values])
    top_w = math.ceil(top / 1000) * 1000
    bottom_w = math.floor(bottom / 1000) * 1000
    return (top_w if top_w > bottom_w else bottom_w + 1000.0), bottom_w


class Scale:
    """Watts to the viewBox's y (down is smaller)."""

    def __init__(self, top_w: float, bottom_w: float) -> None:
        self.top_w, self.bottom_w = top_w, bottom_w

    def __call__(self, w: float) -> float:
        return TOP + (self.top_w - w) / (self.top_w - self.bottom_w) * (HEIGHT - TOP - BOTTOM)


def _path(
    series: Sequence[tuple[datetime, float]],
    start: datetime,
    span_s: float,
    y: Scale,
    step_s: float,
) -> str:
    """SVG path data; the line breaks where a bucket is missing."""
    parts = []
    previous: datetime | None = None
    for ts, value in series:
        x = LEFT + (ts - start).total_seconds() / span_s * (WIDTH - LEFT - RIGHT)
        x = min(max(x, LEFT), WIDTH - RIGHT)  # the buckets at either end stick out by half a step
        gap = previous is None or (ts - previous).total_seconds() > step_s * 1.5
        parts.append(f"{'M' if gap else 'L'}{x:.1f} {y(value):.1f}")
        previous = ts
    return "".join(parts)


def build(
    points: Sequence[PowerPoint], stop: datetime, span_s: float = SPAN_S, step_s: float = STEP_S
) -> dict[str, object]:
    """Everything the chart shows: path data per line, the zero line, labels and a summary."""
    start = stop - timedelta(seconds=span_s)
    series = {field: _held(points, field, step_s) for field, _, _ in LINES}
    values = [v for s in series.values() for _, v in s]
    y = Scale(*_scale(values))
    paths = {key: _path(series[field], start, span_s, y, step_s) for field, key, _ in LINES}
    middle = start + timedelta(seconds=span_s / 2)
    return {
        "paths": paths,
        "zero_y": f"{y(0.0):.1f}",
        "frame": FRAME,
        "labels": {
            "top": format_kw(y.top_w),
            "bottom": format_kw(y.bottom_w),
            "start": clock_time(start),
            "middle": clock_time(middle),
            "stop": "now",
        },
        "summary": summary(series, span_s),
        "empty": not values,
    }


def summary(series: dict[str, list[tuple[datetime, float]]], span_s: float) -> str:
    """What the chart says, in one sentence, for a screen reader and for the empty case."""
    if not any(series.values()):
        return f"No data in the last {format_duration(span_s)}."
    parts = []
    for field, _, label in LINES:
        vs = [v for _, v in series[field]]
        if vs:
            parts.append(f"{label.lower()} {format_kw(min(vs), 1)} to {format_kw(max(vs), 1)}")
    return "Last hour: " + ", ".join(parts) + "."
