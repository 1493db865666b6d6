"""Local control of the charger over OCPP 1.6J: we are the central system the Wallbox connects to
(docs/design.md, "Local control (OCPP)").

- ``server``: the websocket server (its own asyncio thread), who may connect, the sync bridge.
- ``chargepoint``: one connection: answers to the charge point, our calls, setup after boot.
- ``state``: what is known of the charge point, kept across its connections.
- ``samples``: MeterValues read into typed samples, and which to believe.
- ``adapter``: ``OcppCharger``, the ``common.ports.Charger`` the controller loop uses.
"""

from controller.ocpp.adapter import OcppCharger
from controller.ocpp.chargepoint import CommandRefused, Timing
from controller.ocpp.server import CentralSystem, OcppSettings

__all__ = ["CentralSystem", "CommandRefused", "OcppCharger", "OcppSettings", "Timing"]
