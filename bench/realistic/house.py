"""A Belgian household's load, second by second, from appliance signatures fitted to measurements.

The signatures in bench/realistic/appliances/ are ANTgen's (MIT): each is an AMBAL model, a
sequence of segments (constant, linear, exponential decay, logarithmic growth) fitted to the
measured power trace of one real appliance run, from the ECO data set (ETH Zurich, households in
Switzerland: ``ECO-H1``) and tracebase (TU Darmstadt: ``dev_*``). A kettle is thus a 1.9 kW
heating curve that sags as the element warms, a washing machine a 2.2 kW heating phase followed
by an hour of drum motor pulses, a fridge a compressor cycle with its start-up spike.

A day is a seeded schedule of such runs over a standby base: fridge and freezer cycling all day,
breakfast (coffee, kettle, toaster), cooking at noon and in the evening, a washing machine, a
dishwasher, some days a dryer (more in winter), vacuum cleaner or iron, a PC in the day, TV and
lights in the evening (lights: plain blocks, no trace is shipped for them). No heat pump: no
measured heat pump trace ships in a package (see bench/realistic/README.md).
"""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

APPLIANCES = Path(__file__).resolve().parent / "appliances"
DAY_S = 86_400


def _value(load: ET.Element, tag: str, default: float | None = None) -> float:
    el = load.find(tag)
    if el is None:
        if default is None:
            raise ValueError(f"segment {load.get('type')} has no {tag}")
        return default
    return float(el.get("value", "0"))


def _segment(load: ET.Element, n: int) -> list[float]:
    kind = load.get("type")
    if kind == "ON_OFF":
        return [_value(load, "onPower")] * n
    if kind == "LINEAR":
        a, b = _value(load, "startPower"), _value(load, "endPower")
        return [a + (b - a) * i / max(n - 1, 1) for i in range(n)]
    if kind == "ON_OFF_DECAY":
        on, peak, rate = (
            _value(load, "activePower"),
            _value(load, "peakPower"),
            _value(load, "decayRate"),
        )
        return [on + (peak - on) * math.exp(-rate * i) for i in range(n)]
    if kind == "ON_OFF_GROWTH":
        base, growth = _value(load, "basePower"), _value(load, "growthRate")
        stretch = _value(load, "stretchFactor", 1.0)
        return [base + growth * math.log(stretch * (i + 1)) for i in range(n)]
    raise ValueError(f"unknown segment type {kind!r}")


@cache
def signature(kind: str, device: str, mode: str) -> tuple[float, ...]:
    """One run of an appliance at 1 s, in watts (never negative)."""
    root = ET.parse(APPLIANCES / kind / device / mode).getroot()
    total = int(float(root.get("duration", "0")))
    out: list[float] = []
    for load in root.iter("load"):
        n = round(float(load.find("duration").get("value", "0")) * total)  # type: ignore[union-attr]  # every segment has one
        out += _segment(load, n)
    return tuple(max(v, 0.0) for v in out)


@dataclass(frozen=True, slots=True)
class Appliance:
    kind: str
    device: str
    modes: tuple[str, ...]

    def run(self, rng: random.Random) -> tuple[float, ...]:
        return signature(self.kind, self.device, rng.choice(self.modes))


def _modes(n: int, skip: tuple[int, ...] = ()) -> tuple[str, ...]:
    return tuple(f"mode{i}" for i in range(n) if i not in skip)


KETTLE = Appliance("KETTLE", "ECO-H1", _modes(4))
COFFEE = Appliance("COFFEEMAKER", "ECO-H1", _modes(2))
TOASTER = Appliance("TOASTER", "dev_98ABD2", _modes(2))
MICROWAVE = Appliance("MICROWAVE", "dev_98A0D3", _modes(2))
STOVE = Appliance("COOKINGSTOVE", "dev_D33097", _modes(4))
DISHWASHER = Appliance("DISHWASHER", "dev_995BAC", _modes(1))
WASHER = Appliance("WASHINGMACHINE", "ECO-H1", ("mode2", "mode3"))
DRYER = Appliance("DRYER", "ECO-H1", _modes(3))
FREEZER = Appliance("FREEZER", "ECO-H1", _modes(10))
FRIDGE = Appliance("REFRIGERATOR", "dev20111228", _modes(2))
TV = Appliance("TV", "dev_B80E51", _modes(3))
PC = Appliance("PC", "ECO-H1", _modes(2))
VACUUM = Appliance("VACUUMCLEANER", "device_B7E2F8", _modes(1))
IRON = Appliance("IRON", "dev_D337C2", _modes(2))


@dataclass(frozen=True, slots=True)
class Household:
    """What kind of day it is for the house (the season changes lights and the dryer)."""

    winter: bool
    weekend: bool


class _Day:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.load = [0.0] * DAY_S

    def add(self, at_s: float, trace: tuple[float, ...] | list[float]) -> int:
        """Add a run starting at ``at_s``; returns when it ends."""
        start = int(at_s)
        for i, w in enumerate(trace):
            if 0 <= start + i < DAY_S:
                self.load[start + i] += w
        return start + len(trace)

    def at(self, hour: float, spread_min: float) -> float:
        return hour * 3600 + self.rng.uniform(-spread_min, spread_min) * 60

    def cycling(self, appliance: Appliance, off_s: tuple[int, int]) -> None:
        """A thermostat appliance: a run, a pause, a run, all day."""
        t = self.rng.uniform(0, off_s[1])
        while t < DAY_S:
            t = self.add(t, appliance.run(self.rng)) + self.rng.uniform(*off_s)

    def block(self, start_h: float, end_h: float, watts: float) -> None:
        for t in range(int(start_h * 3600), min(int(end_h * 3600), DAY_S)):
            self.load[t] += watts


def house_day_w(house: Household, seed: str) -> list[float]:
    """The house's load for one day (W at each second from midnight)."""
    d = _Day(random.Random(seed))
    rng = d.rng
    for t in range(DAY_S):  # standby: router, boiler electronics, chargers, clocks
        d.load[t] = 140.0 + rng.gauss(0.0, 6.0)
    d.cycling(FRIDGE, (1200, 2400))
    d.cycling(FREEZER, (1800, 3600))
    _meals(d, house)
    _chores(d, house)
    _evening(d, house)
    return [round(max(w, 0.0), 1) for w in d.load]


def _meals(d: _Day, house: Household) -> None:
    rng = d.rng
    breakfast = 8.5 if house.weekend else 7.0
    end = d.add(d.at(breakfast, 15), COFFEE.run(rng))
    d.add(end + rng.uniform(0, 300), KETTLE.run(rng))
    if rng.random() < 0.6:
        d.add(d.at(breakfast + 0.2, 10), TOASTER.run(rng))
    for hour in (10.5, 13.5, 16.0):
        if rng.random() < 0.5:
            d.add(d.at(hour, 40), KETTLE.run(rng))
    if house.weekend or rng.random() < 0.3:  # lunch at home
        t = d.at(12.3, 20)
        for _ in range(rng.randint(2, 3)):
            t = d.add(t, STOVE.run(rng)) + rng.uniform(0, 120)
    else:
        d.add(d.at(12.5, 20), MICROWAVE.run(rng))
    t = d.at(18.3, 25)
    for _ in range(rng.randint(3, 5)):
        t = d.add(t, STOVE.run(rng)) + rng.uniform(0, 90)


def _chores(d: _Day, house: Household) -> None:
    rng = d.rng
    if rng.random() < 0.7:  # a wash, started by hand in the morning or by its timer at noon
        end = d.add(d.at(rng.choice((9.5, 11.0, 13.0)), 45), WASHER.run(rng))
        if house.winter and rng.random() < 0.7:
            d.add(end + rng.uniform(300, 1800), DRYER.run(rng))
    d.add(d.at(rng.choice((13.8, 20.5)), 30), DISHWASHER.run(rng))
    if rng.random() < 0.4:
        d.add(d.at(10.0, 60), VACUUM.run(rng))
    if rng.random() < 0.3:
        d.add(d.at(15.0, 60), IRON.run(rng))
        d.add(d.at(15.2, 60), IRON.run(rng))
    if not house.weekend:  # home office
        t = d.at(8.8, 20)
        while t < 17 * 3600:
            t = d.add(t, PC.run(rng)) + rng.uniform(60, 900)


def _evening(d: _Day, house: Household) -> None:
    rng = d.rng
    t = d.at(19.5, 30)
    while t < 22.8 * 3600:
        t = d.add(t, TV.run(rng)) + rng.uniform(0, 60)
    dusk = 17.0 if house.winter else 21.0
    d.block(dusk + rng.uniform(-0.3, 0.3), 23.2, 120.0)  # lights
    if house.winter:
        d.block(6.7, 8.3, 100.0)
