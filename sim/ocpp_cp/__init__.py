"""A simulated Wallbox Pulsar Plus on OCPP 1.6J: ``pulsar`` is the charger and car, ``client`` its
OCPP side on one connection, ``runner`` its network life (connect, reconnect, reboot, a clock
of its own or the caller's). ``python -m sim.ocpp_cp --url ws://HOST:8887/ID`` runs one."""

from sim.ocpp_cp.pulsar import FW5, FW6, Pulsar
from sim.ocpp_cp.runner import SimChargePoint

__all__ = ["FW5", "FW6", "Pulsar", "SimChargePoint"]
