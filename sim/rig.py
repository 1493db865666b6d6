"""Wiring simulated devices to the real components: a house on a profile, and the config that
points the real ``wallbox`` package at the simulated cloud.

Used by the replay, the demo and the tests, so all three simulate the same house the same way.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from common.config import ChargingConfig, Secret, WallboxConfig
from sim.profiles import Profile
from sim.wallbox_cloud import DEFAULT_PASSWORD, DEFAULT_USERNAME, SimCharger, WallboxCloud

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ``ts_s`` at or above this is a Unix time (a recorded day), below it seconds since midnight.
EPOCH_THRESHOLD_S = 1_000_000_000


def profile_origin(profile: Profile, day_start: datetime) -> datetime:
    """The datetime of ``ts_s`` = 0: the Unix epoch for recorded days, else ``day_start``."""
    return EPOCH if profile.start_s >= EPOCH_THRESHOLD_S else day_start


class SimHouse:
    """PV and house load from a profile, and a charger: what a P1 meter at the connection sees.

    ``grid_power_w`` is + import / - export and includes what the simulated charger draws at
    that moment, as a real meter's reading does.
    """

    def __init__(self, profile: Profile, charger: SimCharger, origin: datetime) -> None:
        self.profile = profile
        self.charger = charger
        self.origin = origin

    def t_s(self, now: datetime) -> float:
        return (now - self.origin).total_seconds()

    def pv_house_w(self, now: datetime) -> tuple[float, float]:
        return self.profile.at(self.t_s(now))

    def grid_power_w(self, now: datetime) -> float:
        pv, house = self.pv_house_w(now)
        return house - pv + self.charger.power_w(now)

    def phase_powers_w(self, now: datetime) -> tuple[float, float, float]:
        """Per phase: house and a 3-phase inverter spread evenly, the car on its own phases."""
        pv, house = self.pv_house_w(now)
        base = (house - pv) / 3
        car = self.charger.phase_powers_w(now)
        return (base + car[0], base + car[1], base + car[2])


def car_watts_per_amp(charging: ChargingConfig, car_phases: int | None) -> float:
    """What a car on ``car_phases`` draws per ampere on the connection the config describes.

    The car, not the config: a 1-phase car behind a 3N~400 V connection draws at the phase
    voltage (230.9 W/A), behind the Belgian 3 x 230 V delta between two lines (230 W/A).
    """
    wpa = charging.effective_watts_per_amp
    if car_phases is None or car_phases == charging.phases:
        return wpa
    if car_phases == 1:  # on a 3-phase connection
        star = charging.voltage_v > 300
        return charging.voltage_v / math.sqrt(3) if star else charging.voltage_v
    return 3 * charging.voltage_v  # a 3-phase car on a 1-phase config: three such phases


def wallbox_config(cloud: WallboxCloud, **kw: Any) -> WallboxConfig:
    """A ``wallbox`` config section pointing at the simulated cloud, with its test account."""
    values: dict[str, Any] = dict(
        username=DEFAULT_USERNAME,
        password=Secret(DEFAULT_PASSWORD),
        api_url=cloud.api_url,
        auth_url=cloud.auth_url,
        timeout_s=2.0,
    )
    values.update(kw)
    return WallboxConfig(**values)
