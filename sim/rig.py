"""Wiring simulated devices to the real components: a house on a profile, and the config that
points the real ``wallbox`` package at the simulated cloud.

Used by the replay, the demo and the tests, so all three simulate the same house the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from common.config import Secret, WallboxConfig
from sim.profiles import Profile
from sim.wallbox_cloud import DEFAULT_PASSWORD, DEFAULT_USERNAME, WallboxCloud

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ``ts_s`` at or above this is a Unix time (a recorded day), below it seconds since midnight.
EPOCH_THRESHOLD_S = 1_000_000_000


def profile_origin(profile: Profile, day_start: datetime) -> datetime:
    """The datetime of ``ts_s`` = 0: the Unix epoch for recorded days, else ``day_start``."""
    return EPOCH if profile.start_s >= EPOCH_THRESHOLD_S else day_start


class DrawsPower(Protocol):
    """A simulated charger as the meter sees it (the cloud's, or the OCPP Pulsar)."""

    def power_w(self, now: datetime) -> float: ...


class SimHouse:
    """PV and house load from a profile, and a charger: what a P1 meter at the connection sees.

    ``grid_power_w`` is + import / - export and includes what the simulated charger draws at
    that moment, as a real meter's reading does.
    """

    def __init__(self, profile: Profile, charger: DrawsPower, origin: datetime) -> None:
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
