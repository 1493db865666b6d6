"""The realistic days: measured clouds over a Belgian roof, and a house of real appliance runs.

Each day names its measured irradiance file (bench/realistic/irradiance/, sources in
bench/realistic/README.md), the air temperature for the modules, the kind of household day, and
whether it is held out: ``HELD_OUT`` days are never looked at while tuning the policy and are
reported apart, so a rule that only fits the tuning days shows there.

``build(name)`` is deterministic (seeded by the day's name): the same CSV on every machine.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.realistic.house import Household, house_day_w
from bench.realistic.solar import Minute, pv_day_w
from sim.profiles import Profile

IRRADIANCE = Path(__file__).resolve().parent / "irradiance"


@dataclass(frozen=True, slots=True)
class DaySpec:
    name: str
    source: str  # file stem in irradiance/
    sky: str  # what the measured day looks like, for the tables
    air_temp_c: float
    weekend: bool
    held_out: bool = False

    @property
    def doy(self) -> int:
        y, m, d = (int(x) for x in self.source.rsplit("-", 3)[-3:])
        return date(y, m, d).timetuple().tm_yday

    @property
    def winter(self) -> bool:
        return self.doy < 80 or self.doy > 290


DAYS: tuple[DaySpec, ...] = (
    DaySpec("jun-clear", "payerne-2016-06-23", "clear", 24.0, weekend=False),
    DaySpec("jun-broken", "payerne-2016-06-26", "broken cumulus", 22.0, weekend=True),
    DaySpec("jun-overcast", "payerne-2016-06-03", "overcast", 15.0, weekend=False),
    DaySpec("jun-mixed", "payerne-2016-06-15", "mixed", 18.0, weekend=False),
    DaySpec("oct-clear", "tucson-2018-10-18", "clear", 14.0, weekend=False),
    DaySpec("oct-mixed", "nwtc-2018-10-14", "mixed", 11.0, weekend=True),
    DaySpec("jan-clear", "golden-2022-01-20", "clear, some haze", 3.0, weekend=False),
    DaySpec("jun-broken-b", "payerne-2016-06-17", "broken cumulus", 20.0, False, held_out=True),
    DaySpec("jun-mixed-b", "payerne-2016-06-19", "mixed", 19.0, True, held_out=True),
    DaySpec("jan-clear-b", "alamosa-2016-01-01", "clear", 2.0, False, held_out=True),
)
BY_NAME = {d.name: d for d in DAYS}
HELD_OUT = tuple(d.name for d in DAYS if d.held_out)


def read_minutes(path: Path) -> list[Minute]:
    out = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.append(
                Minute(
                    solar_min=float(row["solar_min"]),
                    kc=float(row["kc"]),
                    lo=float(row["kc_min"]) if row["kc_min"] else None,
                    hi=float(row["kc_max"]) if row["kc_max"] else None,
                )
            )
    return out


def build(name: str) -> Profile:
    """The day as a replayable profile: 86 400 s from local midnight."""
    spec = BY_NAME[name]
    minutes = read_minutes(IRRADIANCE / f"{spec.source}.csv")
    pv = pv_day_w(minutes, spec.doy, spec.air_temp_c, seed=f"pv-{name}")
    house = house_day_w(Household(winter=spec.winter, weekend=spec.weekend), seed=f"house-{name}")
    return Profile(name, 0, tuple(pv), tuple(house))
