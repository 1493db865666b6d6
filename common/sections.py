"""The configuration's sections: every key once, with its type and default (common/config.py
loads them from the file and the environment, and checks them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from common.secret import Secret


@dataclass(frozen=True)
class StoreConfig:
    backend: Literal["sqlite", "influxdb"] = "sqlite"
    sqlite_path: str = "scc.db"
    # SQLite retention (common/store/sqlite_retention.py); InfluxDB has its bucket's own.
    raw_days: float = 7.0
    rollup_days: float = 730.0


@dataclass(frozen=True)
class InfluxConfig:
    url: str = "http://localhost:8086"
    org: str = "solar"
    bucket: str = "solar"
    token: Secret | None = None


@dataclass(frozen=True)
class MeterConfig:
    url: str = "http://127.0.0.1:8081"
    api: Literal["v1", "v2"] = "v1"
    token: Secret | None = None
    verify_tls: bool = True
    poll_interval_s: float = 1.0
    timeout_s: float = 5.0
    spool_path: str = "scc-spool"


@dataclass(frozen=True)
class WallboxConfig:
    username: str | None = None
    password: Secret | None = None
    charger_id: str | None = None
    api_url: str = "https://api.wall-box.com/"
    auth_url: str = "https://user-api.wall-box.com/"
    timeout_s: float = 20.0


@dataclass(frozen=True)
class ChargerConfig:
    # wallbox_cloud: through the Wallbox cloud with the wallbox section's account. ocpp: the
    # charger connects to the controller over OCPP 1.6J on the LAN (the ocpp section); no account.
    kind: Literal["wallbox_cloud", "ocpp"] = "wallbox_cloud"


@dataclass(frozen=True)
class OcppConfig:
    host: str = "0.0.0.0"
    port: int = 8887
    # Accept only this charge point identity (the last segment of the URL the charger calls).
    charge_point_id: str | None = None
    # HTTP Basic password the charger must send (OCPP security profile 1); none: a warning.
    password: Secret | None = None


#: Charging keys whose default depends on ``charger.kind``. The cycle reads the meter from the
#: store and finds a command's effect in the meter's readings (controller.step), so even the
#: cloud (one status read a minute, writes only on change, 10-30 s to pass a command on) runs a
#: 10 s cycle, on a 15 s window (chosen on the realistic days); a local charge point reports
#: every 10 s and keeps the 20 s window its own benchmark chose. A value set in the file, the
#: environment or an override wins either way.
KIND_DEFAULTS: dict[str, dict[str, float]] = {
    "wallbox_cloud": {"interval_s": 10.0, "window_s": 15.0},
    "ocpp": {"interval_s": 10.0, "window_s": 20.0},
}


@dataclass(frozen=True)
class ChargingConfig:
    phases: Literal[1, 3] = 3
    # Line-to-line voltage for 3 phases (400 for 3N~400 V, 230 for Belgian 3x230 V delta);
    # phase voltage for 1 phase.
    voltage_v: float = 400.0
    watts_per_amp: float | None = None
    min_current_a: int = 6
    max_current_a: int = 16
    # Chosen with bench/policy_bench.py (README "Replay and the policy benchmark").
    window_s: float = 15.0
    interval_s: float = 10.0
    start_delay_s: float = 60.0
    stop_delay_s: float = 180.0
    # The share of the car's energy that must come from the sun; what it allows above that buys
    # min current on a partial surplus (docs/design.md, "The share budget"). 1 spends nothing.
    solar_share_target: float = 0.975

    @property
    def effective_watts_per_amp(self) -> float:
        """W per A of charging current: explicit override, else from phases and voltage."""
        if self.watts_per_amp is not None:
            return self.watts_per_amp
        if self.phases == 1:
            return self.voltage_v
        return math.sqrt(3) * self.voltage_v


@dataclass(frozen=True)
class ToggleAppConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    password: Secret | None = None
    secret_key: Secret | None = None
    allowed_hosts: str | None = None  # more host names, comma-separated (toggle_app/hosts.py)
    trusted_proxies: str | None = None  # proxies' networks, comma-separated (toggle_app/proxy.py)


@dataclass(frozen=True)
class LoggingConfig:
    file: str | None = None
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class HealthConfig:
    # Rewritten once per loop iteration by the collector and controller, for Docker's
    # HEALTHCHECK (common/heartbeat.py); None writes nothing.
    heartbeat_file: str | None = None
    # The collector stops beating when no reading has reached the store for this long (store
    # down, or refusing everything), so the healthcheck shows it instead of "healthy".
    store_stall_s: float = 60.0
