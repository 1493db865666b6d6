"""What the toggle app tests share: a settable clock, a seeded store's contents and a config.
Imported by name (``from tests.toggle.helpers import ...``); the fixtures stay in conftest.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common.config import ChargingConfig, Config, Secret, StoreConfig, ToggleAppConfig
from common.models import Action, ChargerState, Decision, Mode, Reading
from common.store.sqlite import SqliteStore

#: A fixed instant for the tests. 10:30 UTC is no time zone's midnight, so the seeded ten
#: minutes fall inside "today" wherever the tests run.
T0 = datetime(2025, 6, 1, 10, 30, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@dataclass
class FakeClock:
    """The app's clock: tests move it instead of sleeping."""

    now: datetime = T0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


def seed(store: SqliteStore, now: datetime, meter_age_s: float = 0.0) -> None:
    """Three minutes of 1 Hz readings exporting about 2.1 kW, the car at 10 A drawing 6.9 kW,
    and the controller's last decision 20 s ago. The page must show grid now -2 100 W, the
    2-min mean -2 040 W (readings 1..120 s old: -2100 + 60.5) and surplus 6900 + 2039.5 W."""
    last = now - timedelta(seconds=meter_age_s)
    store.write_readings(
        [
            Reading(
                ts=last - timedelta(seconds=i),
                active_power_w=-2100.0 + i,
                total_power_import_kwh=1000.0,
                total_power_export_kwh=500.0 + (180 - i) * 0.0006,
            )
            for i in range(180)
        ]
    )
    for k in range(10):  # ten minutes of charging at 10 A, decisions every 60 s
        ts = now - timedelta(seconds=20 + 60 * k)
        store.write_decision(
            Decision(
                ts=ts,
                mode=Mode.SOLAR,
                action=Action.ADJUST if k == 0 else Action.HOLD,
                reason="surplus-adjust" if k == 0 else "hold",
                target_a=10,
                grid_power_mean_w=-2040.0,
                surplus_w=8940.0,
            )
        )
        store.write_charger_state(
            ChargerState(
                ts=ts,
                charger_id="12345",
                status_id=194,
                status="Charging",
                current_a=10.0,
                power_w=6900.0,
                added_energy_kwh=1.2,
            )
        )


def make_config(tmp_path: Path, password: str | None = None, **charging: float) -> Config:
    return Config(
        store=StoreConfig(sqlite_path=str(tmp_path / "scc.db")),
        # The seeded numbers assume a 120 s window, a cycle a minute and 180/600 s delays; pinned
        # so they do not move with the defaults.
        charging=ChargingConfig(
            **{
                "window_s": 120.0,
                "interval_s": 60.0,
                "start_delay_s": 180.0,
                "stop_delay_s": 600.0,
                **charging,
            }
        ),
        toggle_app=ToggleAppConfig(password=Secret(password) if password else None),
    )
