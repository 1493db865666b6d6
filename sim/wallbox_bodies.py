"""The JSON bodies of the simulated Wallbox cloud, shaped like the real cloud's.

The status body carries every key of a real ``chargers/status/{id}`` answer (docs/design.md, "The
Wallbox cloud"; tests/fixtures/wallbox holds recorded ones and a test keeps the key sets equal),
with the values the simulated charger has now; the ``PUT v2/charger/{id}`` answer is the charger
data with the accepted value, as the real cloud answers before the charger has applied it.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sim.charger import SimCharger

GROUP_ID = 289814


def charger_name(ch: SimCharger) -> str:
    return f"PulsarPlus SN {ch.charger_id}"


def groups_body(ch: SimCharger) -> dict[str, Any]:
    """``GET v3/chargers/groups``: one group with the one charger (the package reads the ids)."""
    return {
        "result": {
            "groups": [
                {
                    "id": GROUP_ID,
                    "name": "Thuis",
                    "chargers": [{"id": ch.charger_id, "name": charger_name(ch)}],
                }
            ]
        }
    }


def status_body(ch: SimCharger, now: datetime) -> dict[str, Any]:
    """``GET chargers/status/{id}`` with the charger as it is at ``now``."""
    status_id = ch.status_id(now)
    power_kw = round(ch.power_w(now) / 1000.0, 2)
    body = copy.deepcopy(_STATUS_TEMPLATE)
    body.update(
        {
            "last_sync": f"{now:%Y-%m-%d %H:%M:%S}",
            "status_id": status_id,
            "name": charger_name(ch),
            "charging_power": power_kw,
            "max_available_power": ch.max_available_a,
            "charging_speed": 41 if power_kw > 0 else 0,
            "added_range": round(ch.added_energy_kwh * 6.5),
            "added_energy": round(ch.added_energy_kwh, 3),
            "added_green_energy": 0,
            "added_grid_energy": 0,
            "charging_time": round(ch.charging_time_s),
            "finished": status_id in (161, 181),
        }
    )
    body["config_data"].update(
        {
            "charger_id": ch.charger_id,
            "serial_number": str(ch.charger_id),
            "name": charger_name(ch),
            "locked": ch.locked,
            "max_charging_current": ch.setpoint_a,
            "max_available_current": ch.max_available_a,
            "sync_timestamp": round(now.timestamp()),
        }
    )
    return body


def put_body(ch: SimCharger, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """Like the real PUT answer: the charger data with the accepted (not yet applied) value."""
    body = copy.deepcopy(_PUT_TEMPLATE)
    body["data"]["chargerData"].update(
        {
            "id": ch.charger_id,
            "serialNumber": str(ch.charger_id),
            "name": charger_name(ch),
            "status": ch.status_id(now),
            "maxAvailableCurrent": ch.max_available_a,
            "maxChargingCurrent": data.get("maxChargingCurrent", ch.setpoint_a),
            "locked": data.get("locked", ch.locked),
            "lastConnection": round(now.timestamp()),
        }
    )
    return body


_STATUS_TEMPLATE: dict[str, Any] = {
    "user_id": 286113,
    "user_name": "Jan",
    "car_id": 1,
    "car_plate": "",
    "depot_price": 0.32,
    "last_sync": "",
    "power_sharing_status": 0,
    "mid_status": 0,
    "status_id": 161,
    "name": "",
    "charging_power": 0,
    "max_available_power": 32,
    "depot_name": "Thuis",
    "charging_speed": 0,
    "added_range": 0,
    "added_energy": 0,
    "added_green_energy": 0,
    "added_discharged_energy": 0,
    "added_grid_energy": 0,
    "charging_time": 0,
    "finished": False,
    "cost": 0,
    "current_mode": 3,
    "preventive_discharge": False,
    "state_of_charge": None,
    "ocpp_status": 1,
    "config_data": {
        "charger_id": 0,
        "uid": "xyzUID123",
        "serial_number": "",
        "name": "",
        "locked": 0,
        "auto_lock": 0,
        "auto_lock_time": 60,
        "multiuser": 0,
        "max_charging_current": 16,
        "language": "EN",
        "icp_max_current": 0,
        "grid_type": 1,
        "energy_price": 0.32,
        "energyCost": {"value": 0.32, "inheritedGroupId": None},
        "unlock_user_id": 286113,
        "power_sharing_config": 256,
        "purchased_power": 0,
        "show_name": 1,
        "show_lastname": 1,
        "show_email": 1,
        "show_profile": 1,
        "show_default_user": 1,
        "gesture_status": 7,
        "home_sharing": 0,
        "dca_status": 0,
        "connection_type": 1,
        "max_available_current": 32,
        "live_refresh_time": 30,
        "update_refresh_time": 300,
        "owner_id": 286113,
        "remote_action": 0,
        "rfid_type": None,
        "charger_has_image": 0,
        "sha256_charger_image": None,
        "plan": {
            "plan_name": "Basic",
            "features": [
                "DEFAULT_FEATURE",
                "POWER_BOOST",
                "MOBILE_CONNECTIVITY",
                "AUTOMATIC_REPORTING",
                "STATISTICS",
            ],
        },
        "sync_timestamp": 0,
        "currency": {"id": 1, "name": "Euro Member Countries", "symbol": "€", "code": "EUR"},
        "charger_load_type": "Private",
        "contract_charging_available": False,
        "country": {"id": 21, "code": "BEL", "iso2": "BE", "name": "BELGICA", "phone_code": "32"},
        "state": None,
        "timezone": "Europe/Brussels",
        "part_number": "PLP1-0-2-4-9-002-E",
        "software": {
            "updateAvailable": False,
            "currentVersion": "6.7.38",
            "latestVersion": "6.7.38",
            "fileName": "plp1_6.7.38.tar",
        },
        "available": 1,
        "operation_mode": "wallbox",
        "ocpp_ready": "ocpp_1.6j",
        "tariffs": [],
        "mid_enabled": 0,
        "mid_margin": 1,
        "mid_margin_unit": 1,
        "mid_serial_number": "",
        "mid_status": 0,
        "session_segment_length": 0,
        "group_id": GROUP_ID,
        "user_socket_locking": 0,
        "sim_iccid": None,
        "ecosmart": {"enabled": False, "mode": 0, "percentage": 100},
    },
}

_PUT_TEMPLATE: dict[str, Any] = {
    "data": {
        "chargerData": {
            "id": 0,
            "uid": "xyzUID123",
            "uniqueIdentifier": "wsUnanQQ",
            "serialNumber": "",
            "name": "",
            "group": GROUP_ID,
            "groupUid": "xyzGROUP",
            "chargerType": "PulsarPlus",
            "softwareVersion": "6.7.38",
            "softwareUpdatedAt": 1774000000,
            "status": 0,
            "statusDescription": "",
            "ocppConnectionStatus": 1,
            "ocppReady": "ocpp_1.6j",
            "stateOfCharge": None,
            "maxChgCurrent": None,
            "maxAvailableCurrent": 32,
            "maxChargingCurrent": 16,
            "locked": 0,
            "lastConnection": 0,
            "lastSync": {"date": "", "timezone_type": 3, "timezone": "UTC"},
            "midEnabled": 0,
            "midMargin": 1,
            "midMarginUnit": 1,
            "midSerialNumber": "",
            "midStatus": 0,
            "wifiSignal": 62,
            "connectionType": "wifi",
            "chargerLoadName": "Private",
            "chargerLoadId": 2,
            "chargingType": "AC",
            "connectorType": "Type 2/Socket",
            "protocolCommunication": "wifi",
            "accessType": "guest",
            "powerSharingStatus": 0,
            "resume": {
                "totalUsers": 1,
                "totalSessions": 212,
                "chargingTime": None,
                "totalEnergy": 3120.4,
                "totalMidEnergy": 0,
                "energyUnit": "kWh",
            },
        },
        "users": [
            {
                "id": 286113,
                "avatar": None,
                "name": "Jan",
                "surname": "Peeters",
                "email": "jan@example.be",
                "profile": "super-admin",
                "assigned": True,
                "createdByUser": False,
            }
        ],
    }
}
