"""The simulated Pulsar's messages as data: what it sends, its timestamps and its sampled values
(strings with units, location Outlet, per phase for currents and voltages, as the real one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: The measurands it can sample, and their units.
MEASURAND_UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Power.Active.Import": "W",
    "Current.Import": "A",
    "Current.Offered": "A",
    "Power.Offered": "W",
    "Voltage": "V",
}

#: Configuration keys as a Pulsar reports them before a central system changes any (firmware
#: 6.x adds ChargeProfileMaxStackLevel).
DEFAULT_CONFIG = {
    "MeterValuesSampledData": "Energy.Active.Import.Register",
    "MeterValueSampleInterval": "60",
    "HeartbeatInterval": "60",
    "ChargingScheduleAllowedChargingRateUnit": "Current",
    "MaxChargingProfilesInstalled": "10",
    "ConnectorSwitch3to1PhaseSupported": "false",
    "AuthorizeRemoteTxRequests": "false",
}


@dataclass(frozen=True)
class Outgoing:
    """A message the charge point sends: the OCPP action and its payload (snake_case)."""

    action: str
    payload: dict[str, Any] = field(default_factory=dict)


def boot_payload(serial: str, firmware: str) -> dict[str, Any]:
    """A Pulsar Plus's BootNotification."""
    return {
        "charge_point_vendor": "Wall Box Chargers",
        "charge_point_model": "PLP1-0-2-4-9-002",
        "charge_point_serial_number": serial,
        "firmware_version": firmware,
        "meter_type": "Internal NON compliant",
    }


def ocpp_time(ts: datetime) -> str:
    """UTC, whole seconds, ``Z``: the Pulsar's timestamps."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sampled_values(
    wanted: set[str],
    context: str,
    *,
    energy_wh: float,
    power_w: float,
    offered_a: float,
    current_a: tuple[float, ...],
    voltage_v: float,
) -> list[dict[str, Any]]:
    """The ``sampledValue`` list of one MeterValue, with only the ``wanted`` measurands."""
    values: list[dict[str, Any]] = []

    def add(measurand: str, value: float, phase: str | None = None) -> None:
        if measurand in wanted:
            sv = {"value": f"{value:.1f}", "context": context, "measurand": measurand}
            sv.update({"location": "Outlet", "unit": MEASURAND_UNITS[measurand]})
            values.append(sv if phase is None else {**sv, "phase": phase})

    add("Energy.Active.Import.Register", energy_wh)
    add("Power.Active.Import", power_w)
    add("Current.Offered", offered_a)
    add("Power.Offered", offered_a * voltage_v * len(current_a))
    for i, a in enumerate(current_a, 1):
        add("Current.Import", a, f"L{i}")
        add("Voltage", voltage_v, f"L{i}-N")
    return values
