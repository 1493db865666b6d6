"""The simulated HomeWizard P1 meter itself: its counters and the JSON bodies it answers.

The bodies follow the real device field for field (docs/design.md, "The HomeWizard P1 meter": v1
names with the misspelled ``montly_power_peak_w``, v2 names, the local-time timestamps), so the
collector meets the same bytes it meets on a real meter. What the meter measures comes from a
provider callable (grid power in W at a given time, + import / - export), so a simulation of
house, PV and car can drive it. sim.meter_server serves these bodies over HTTP(S).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Grid power in W at a time: + import, - export (HomeWizard's ``active_power_w``).
GridPowerProvider = Callable[[datetime], float]
#: The same per phase (L1, L2, L3), when the simulation knows where its loads sit.
PhasePowerProvider = Callable[[datetime], tuple[float, float, float]]
Clock = Callable[[], datetime]

DEFAULT_SERIAL = "5c2fafa1b2c3"
DEFAULT_FIRMWARE = "6.0305"
V2_API_VERSION = "2.2.0"

#: The meter's local time (tariffs, timestamps): Belgium.
try:
    METER_TZ: Any = ZoneInfo("Europe/Brussels")
except ZoneInfoNotFoundError:  # no tz database: the meter's local time becomes UTC
    METER_TZ = UTC

# Phase shares of the total: a little imbalance, as on a real house (-4200 -> -1420/-1390/-1390).
_PHASE_SHARE = (0.338, 0.331, 0.331)
_QUARTER = timedelta(minutes=15)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Phase:
    power_w: float
    voltage_v: float
    current_a: float  # unsigned


class SimulatedP1:
    """The meter's state: energy counters, the quarter-hour average, this month's peak.

    Counters integrate the provider's power between requests, so totals grow as on a real meter
    (left Riemann sum over the request times, which is what a poller of a real meter sees too).
    Body variants are plain attributes, set by tests: ``null_fields`` and ``omit_fields`` (v1
    names; mapped for v2), ``phases`` (1 or 3), ``signed_currents`` (None: as the reference
    bodies, unsigned in v1 and signed in v2; real Belgian meters send unsigned in both).
    """

    def __init__(
        self,
        provider: GridPowerProvider,
        clock: Clock = _utcnow,
        *,
        phases: int = 3,
        serial: str = DEFAULT_SERIAL,
        firmware_version: str = DEFAULT_FIRMWARE,
        import_t1_kwh: float = 3921.554,
        import_t2_kwh: float = 2921.663,
        export_t1_kwh: float = 4388.12,
        export_t2_kwh: float = 822.788,
        monthly_peak_w: float = 3560.0,
        phase_provider: PhasePowerProvider | None = None,
    ) -> None:
        self.provider = provider
        self.phase_provider = phase_provider
        self.clock = clock
        self.phases = phases
        self.serial = serial
        self.firmware_version = firmware_version
        self.null_fields: set[str] = set()
        self.omit_fields: set[str] = set()
        self.signed_currents: bool | None = None
        self._import_kwh = [import_t1_kwh, import_t2_kwh]
        self._export_kwh = [export_t1_kwh, export_t2_kwh]
        self._peak_w = monthly_peak_w
        self._peak_at = datetime(2026, 5, 12, 16, 30, tzinfo=UTC)
        self._quarter_start: datetime | None = None
        self._quarter_import_ws = 0.0
        self._last: tuple[datetime, float] | None = None
        self._lock = threading.Lock()

    # -- state ----------------------------------------------------------------------------
    @staticmethod
    def tariff(ts: datetime) -> int:
        """Belgian day (1) / night (2) tariff: night 22:00-07:00 local and all weekend."""
        local = ts.astimezone(METER_TZ)
        return 2 if local.weekday() >= 5 or not 7 <= local.hour < 22 else 1

    def _advance(self, now: datetime) -> float:
        power_w = float(self.provider(now))
        if self._last is None or self._quarter_start is None:
            self._quarter_start = _quarter_of(now)
        else:
            then, last_w = self._last
            dt_s = max((now - then).total_seconds(), 0.0)
            t = self.tariff(then) - 1
            if last_w >= 0:
                self._import_kwh[t] += last_w * dt_s / 3.6e6
            else:
                self._export_kwh[t] += -last_w * dt_s / 3.6e6
            # The quarter-hour demand: import energy per quarter, split at the boundaries.
            import_w, start = max(last_w, 0.0), then
            while now >= self._quarter_start + _QUARTER:
                end = self._quarter_start + _QUARTER
                self._quarter_import_ws += import_w * max((end - start).total_seconds(), 0.0)
                self._close_quarter(end if now < end + _QUARTER else _quarter_of(now))
                start = max(start, end)
            self._quarter_import_ws += import_w * max((now - start).total_seconds(), 0.0)
        self._last = (now, power_w)
        return power_w

    def _close_quarter(self, next_start: datetime) -> None:
        """A quarter ended: a new monthly peak? A new month starts from zero."""
        assert self._quarter_start is not None
        avg_w = self._quarter_import_ws / _QUARTER.total_seconds()
        if avg_w > self._peak_w:
            self._peak_w, self._peak_at = avg_w, self._quarter_start + _QUARTER
        if next_start.astimezone(METER_TZ).month != self._quarter_start.astimezone(METER_TZ).month:
            self._peak_w, self._peak_at = 0.0, next_start
        self._quarter_start, self._quarter_import_ws = next_start, 0.0

    def _phases(self, power_w: float, now: datetime) -> list[_Phase | None]:
        total = round(power_w)
        if self.phases == 1:
            powers = [total]
        elif self.phase_provider is not None:
            powers = [round(p) for p in self.phase_provider(now)]
        else:
            l1, l2 = round(power_w * _PHASE_SHARE[0]), round(power_w * _PHASE_SHARE[1])
            powers = [l1, l2, total - l1 - l2]
        out: list[_Phase | None] = []
        for p in powers:
            # Voltage rises with export and sags with import, as on a weak LV feeder.
            v = round(235.0 - p * 0.0022, 1)
            out.append(_Phase(float(p), v, round(abs(p) / v, 2)))
        return out + [None] * (3 - len(out))

    def _avg_w(self, now: datetime) -> float:
        if self._quarter_start is None:
            return 0.0
        elapsed = (now - self._quarter_start).total_seconds()
        return round(self._quarter_import_ws / elapsed, 0) if elapsed > 0 else 0.0

    def _sample(self) -> tuple[datetime, float, list[_Phase | None], float]:
        with self._lock:
            now = self.clock()
            power_w = self._advance(now)
            return now, power_w, self._phases(power_w, now), self._avg_w(now)

    # -- bodies ---------------------------------------------------------------------------
    def device_v1(self) -> dict[str, Any]:
        return {
            "product_type": "HWE-P1",
            "product_name": "P1 meter",
            "serial": self.serial,
            "firmware_version": self.firmware_version,
            "api_version": "v1",
        }

    def device_v2(self) -> dict[str, Any]:
        return {
            "product_name": "P1 Meter",
            "product_type": "HWE-P1",
            "serial": self.serial,
            "firmware_version": self.firmware_version,
            "api_version": V2_API_VERSION,
        }

    def data_v1(self) -> dict[str, Any]:
        """``GET /api/v1/data`` as a Belgian L+G E360 on a HomeWizard P1 sends it."""
        now, power_w, ph, avg_w = self._sample()
        signed = bool(self.signed_currents)
        local = now.astimezone(METER_TZ)
        peak_local = self._peak_at.astimezone(METER_TZ)
        body: dict[str, Any] = {
            "wifi_ssid": "Proximus-Home-1A2B",
            "wifi_strength": 82,
            "smr_version": 50,
            "meter_model": "LGF5E360",
            "unique_id": "314C475A30353638363430383338",
            "active_tariff": self.tariff(now),
            "total_power_import_kwh": round(sum(self._import_kwh), 3),
            "total_power_import_t1_kwh": round(self._import_kwh[0], 3),
            "total_power_import_t2_kwh": round(self._import_kwh[1], 3),
            "total_power_export_kwh": round(sum(self._export_kwh), 3),
            "total_power_export_t1_kwh": round(self._export_kwh[0], 3),
            "total_power_export_t2_kwh": round(self._export_kwh[1], 3),
            "active_power_w": float(round(power_w)),
        }
        for i, p in enumerate(ph, 1):
            body[f"active_power_l{i}_w"] = None if p is None else p.power_w
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"active_voltage_l{i}_v"] = p.voltage_v
        body["active_current_a"] = round(sum(p.current_a for p in ph if p), 2)
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"active_current_l{i}_a"] = _current(p, signed)
        body.update(
            {
                "active_power_average_w": avg_w,
                "montly_power_peak_w": round(self._peak_w, 0),
                "montly_power_peak_timestamp": int(peak_local.strftime("%y%m%d%H%M%S")),
                "total_gas_m3": 1893.412,
                "gas_timestamp": int(_gas_time(local).strftime("%y%m%d%H%M%S")),
                "gas_unique_id": "37464C4C3130303334363937",
                "external": [
                    {
                        "unique_id": "37464C4C3130303334363937",
                        "type": "gas_meter",
                        "timestamp": int(_gas_time(local).strftime("%y%m%d%H%M%S")),
                        "value": 1893.412,
                        "unit": "m3",
                    }
                ],
            }
        )
        return self._variants(body, {})

    def measurement_v2(self) -> dict[str, Any]:
        """``GET /api/measurement`` (API v2): new names, ISO local timestamps, int powers."""
        now, power_w, ph, avg_w = self._sample()
        signed = True if self.signed_currents is None else self.signed_currents
        local = now.astimezone(METER_TZ)
        body: dict[str, Any] = {
            "protocol_version": 50,
            "meter_model": "LGF5E360",
            "unique_id": "314C475A30353638363430383338",
            "timestamp": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "tariff": self.tariff(now),
            "energy_import_kwh": round(sum(self._import_kwh), 3),
            "energy_import_t1_kwh": round(self._import_kwh[0], 3),
            "energy_import_t2_kwh": round(self._import_kwh[1], 3),
            "energy_export_kwh": round(sum(self._export_kwh), 3),
            "energy_export_t1_kwh": round(self._export_kwh[0], 3),
            "energy_export_t2_kwh": round(self._export_kwh[1], 3),
            "power_w": round(power_w),
        }
        for i, p in enumerate(ph, 1):
            body[f"power_l{i}_w"] = None if p is None else round(p.power_w)
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"voltage_l{i}_v"] = p.voltage_v
        body["current_a"] = round(sum(p.current_a for p in ph if p), 2)
        for i, p in enumerate(ph, 1):
            if p is not None:
                body[f"current_l{i}_a"] = _current(p, signed)
        body.update(
            {
                "average_power_15m_w": avg_w,
                "monthly_power_peak_w": round(self._peak_w, 0),
                "monthly_power_peak_timestamp": self._peak_at.astimezone(METER_TZ).strftime(
                    "%Y-%m-%dT%H:%M:%S"
                ),
                "external": [
                    {
                        "unique_id": "37464C4C3130303334363937",
                        "type": "gas_meter",
                        "timestamp": _gas_time(local).strftime("%Y-%m-%dT%H:%M:%S"),
                        "value": 1893.412,
                        "unit": "m3",
                    }
                ],
            }
        )
        return self._variants(body, V1_TO_V2)

    def _variants(self, body: dict[str, Any], rename: dict[str, str]) -> dict[str, Any]:
        for name in self.null_fields:
            key = rename.get(name, name)
            if key in body:
                body[key] = None
        for name in self.omit_fields:
            body.pop(rename.get(name, name), None)
        return body


def _quarter_of(ts: datetime) -> datetime:
    return ts.replace(minute=ts.minute - ts.minute % 15, second=0, microsecond=0)


def _current(p: _Phase, signed: bool) -> float:
    return -p.current_a if signed and p.power_w < 0 else p.current_a


def _gas_time(local: datetime) -> datetime:
    """Gas comes every 5 minutes on DSMR 5 meters."""
    return local.replace(minute=local.minute - local.minute % 5, second=0, microsecond=0)


#: v1 name -> v2 name for the fields a test may null or drop (HomeWizard's v2 mapping).
V1_TO_V2: dict[str, str] = {
    "smr_version": "protocol_version",
    "active_tariff": "tariff",
    "total_power_import_kwh": "energy_import_kwh",
    "total_power_export_kwh": "energy_export_kwh",
    "active_power_w": "power_w",
    "active_power_l1_w": "power_l1_w",
    "active_power_l2_w": "power_l2_w",
    "active_power_l3_w": "power_l3_w",
    "active_voltage_l1_v": "voltage_l1_v",
    "active_voltage_l2_v": "voltage_l2_v",
    "active_voltage_l3_v": "voltage_l3_v",
    "active_current_a": "current_a",
    "active_current_l1_a": "current_l1_a",
    "active_current_l2_a": "current_l2_a",
    "active_current_l3_a": "current_l3_a",
    "active_power_average_w": "average_power_15m_w",
    "montly_power_peak_w": "monthly_power_peak_w",
}
