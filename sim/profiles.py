"""Days of PV production and house load, from CSV (``ts_s,pv_w,house_w``) or synthesised.

Synthetic days let anyone replay and tune without a year of their own data. They are built from a
clear-sky bell for a Belgian rooftop in late spring and a seeded cloud process, so the same seed
gives the same day on every machine (the benchmark's numbers are reproducible):
- ``clear``: an unbroken bell; peak about 6.4 kW (an 8 kWp roof).
- ``broken``: cumulus passing: clear spells of 2-20 min and cloud shadows of 20 s-8 min that cut
  PV to 25-45 % within 10-30 s; the day that tests hysteresis.
- ``overcast``: diffuse light at 15-35 % of clear sky, drifting slowly; little surplus.
House load (all days): a 250 W base with noise, a fridge cycling 90 W, and appliances at fixed
times (kettle, washing machine heating phases, dishwasher, oven): about 11 kWh a day.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DAY_S = 86_400
SUNRISE_S = 5.5 * 3600  # local solar time, late May in Belgium
SUNSET_S = 21.5 * 3600
PEAK_PV_W = 6400.0


class ProfileError(ValueError):
    """A profile CSV that cannot be used; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One value per second from ``start_s``: PV production and house consumption (W, >= 0)."""

    name: str
    start_s: int
    pv_w: tuple[float, ...]
    house_w: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.pv_w)

    def at(self, t_s: float) -> tuple[float, float]:
        """(pv_w, house_w) at ``t_s`` seconds (held between samples, clamped at the ends)."""
        i = min(max(int(t_s) - self.start_s, 0), len(self.pv_w) - 1)
        return self.pv_w[i], self.house_w[i]


def load_csv(path: str | Path) -> Profile:
    """Read ``ts_s,pv_w,house_w``; samples may be sparser than 1 s and are held until the next."""
    path = Path(path)
    try:
        f = path.open(newline="", encoding="utf-8")
    except OSError as e:
        raise ProfileError(f"{path}: cannot read: {e.strerror or e}") from None
    with f:
        points = _read_points(path, csv.reader(f))
    if len(points) < 2:
        raise ProfileError(f"{path}: needs at least two samples")
    pv_w, house_w = _per_second(points)
    return Profile(path.stem, points[0][0], pv_w, house_w)


_Point = tuple[int, float, float]  # ts_s, pv_w, house_w


def _read_points(path: Path, reader: Iterator[list[str]]) -> list[_Point]:
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:3]] != ["ts_s", "pv_w", "house_w"]:
        raise ProfileError(f"{path}: line 1 must be the header ts_s,pv_w,house_w")
    points: list[_Point] = []
    for lineno, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        point = _point(row, f"{path}: line {lineno}")
        if points and point[0] <= points[-1][0]:
            raise ProfileError(f"{path}: line {lineno}: ts_s must increase")
        points.append(point)
    return points


def _point(row: list[str], where: str) -> _Point:
    try:
        ts, pv, house = int(float(row[0])), float(row[1]), float(row[2])
    except (ValueError, IndexError):
        raise ProfileError(f"{where}: expected numbers ts_s,pv_w,house_w") from None
    if not (math.isfinite(pv) and math.isfinite(house)) or pv < 0 or house < 0:
        raise ProfileError(f"{where}: pv_w and house_w must be >= 0")
    return ts, pv, house


def _per_second(points: list[_Point]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Each sample holds until the next, as the last reading of a polled meter does."""
    pv_w: list[float] = []
    house_w: list[float] = []
    j = 0
    for t in range(points[0][0], points[-1][0] + 1):
        while j + 1 < len(points) and points[j + 1][0] <= t:
            j += 1
        pv_w.append(points[j][1])
        house_w.append(points[j][2])
    return tuple(pv_w), tuple(house_w)


def write_csv(profile: Profile, path: str | Path) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["ts_s", "pv_w", "house_w"])
        for i, (pv, house) in enumerate(zip(profile.pv_w, profile.house_w, strict=True)):
            w.writerow([profile.start_s + i, round(pv), round(house)])


def clear_sky_w(t_s: float) -> float:
    if not SUNRISE_S < t_s < SUNSET_S:
        return 0.0
    x = (t_s - SUNRISE_S) / (SUNSET_S - SUNRISE_S)
    return PEAK_PV_W * math.sin(math.pi * x) ** 1.4


def _cloud_factor_broken(rng: random.Random) -> Iterator[float]:
    """Per-second transmission: clear spells and cloud shadows with 10-30 s edges."""
    level = 1.0
    while True:
        clear_s = rng.randint(120, 1200)
        for _ in range(clear_s):
            yield level
        shadow = rng.uniform(0.25, 0.45)
        edge_s = rng.randint(10, 30)
        for k in range(edge_s):
            yield 1.0 + (shadow - 1.0) * (k + 1) / edge_s
        for _ in range(rng.randint(20, 480)):
            yield shadow * rng.uniform(0.95, 1.05)
        for k in range(edge_s):
            yield shadow + (1.0 - shadow) * (k + 1) / edge_s


def _cloud_factor_overcast(rng: random.Random) -> Iterator[float]:
    level = 0.25
    while True:
        target = rng.uniform(0.15, 0.35)
        steps = rng.randint(300, 1800)
        for k in range(steps):
            yield level + (target - level) * (k + 1) / steps
        level = target


def house_load_w(rng: random.Random) -> list[float]:
    load = [250.0 + rng.gauss(0, 25) for _ in range(DAY_S)]
    for start in range(0, DAY_S, 3600):  # fridge: 20 min on every hour
        for t in range(start + 600, start + 1800):
            load[t] += 90.0

    def appliance(at_h: float, dur_min: float, watts: float) -> None:
        a = int(at_h * 3600)
        for t in range(a, min(a + int(dur_min * 60), DAY_S)):
            load[t] += watts

    for h in (7.2, 10.5, 13.1, 16.4, 20.0):
        appliance(h, 3, 2000)  # kettle
    appliance(10.0, 15, 2000)  # washing machine heating
    appliance(10.25, 75, 250)  # washing machine motor
    appliance(11.6, 12, 1800)  # hob
    appliance(14.0, 20, 2100)  # dishwasher heating
    appliance(14.33, 60, 120)
    appliance(18.0, 45, 2400)  # oven
    appliance(19.0, 120, 150)  # television and lights
    return [max(v, 0.0) for v in load]


def synthetic_day(kind: str, seed: int = 1) -> Profile:
    """A whole day at 1 s resolution: ``clear``, ``broken`` or ``overcast``."""
    rng = random.Random(f"{kind}-{seed}")
    if kind == "clear":
        factors: Iterator[float] = iter(lambda: 1.0, None)
    elif kind == "broken":
        factors = _cloud_factor_broken(rng)
    elif kind == "overcast":
        factors = _cloud_factor_overcast(rng)
    else:
        raise ValueError(f"unknown synthetic day {kind!r} (clear, broken, overcast)")
    pv = [clear_sky_w(t) * next(factors) for t in range(DAY_S)]
    return Profile(kind, 0, tuple(pv), tuple(house_load_w(rng)))
