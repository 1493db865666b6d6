"""The OCPP rig for tests: our central system and the simulated Pulsar over a real websocket on
127.0.0.1, on one simulated clock that the test moves (the charge point is driven by ``tick``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from controller.ocpp import CentralSystem, OcppCharger, OcppSettings, Timing
from sim.ocpp_cp import Pulsar, SimChargePoint
from tests.controller.ctl_helpers import WPA, ManualClock

#: Short real-time waits: a test must not sit out the Pulsar's 5 s boot grace.
FAST = Timing(boot_wait_s=0.3, call_timeout_s=3.0)
CP_ID = "PLP1-123456"


@dataclass
class OcppRig:
    clock: ManualClock
    central: CentralSystem
    pulsar: Pulsar
    sim: SimChargePoint
    charger: OcppCharger

    def run(self, seconds: float, step_s: float = 1.0) -> None:
        """Move the clock, letting the charge point send what falls due each step."""
        for _ in range(round(seconds / step_s)):
            self.clock.advance(step_s)
            self.sim.tick()

    def url(self, identity: str = CP_ID) -> str:
        return f"ws://127.0.0.1:{self.central.port}/ocpp/{identity}"


@contextmanager
def ocpp_rig(
    clock: ManualClock,
    *,
    settings: OcppSettings | None = None,
    timing: Timing = FAST,
    identity: str = CP_ID,
    password: str | None = None,
    wait: bool = True,
    charger_kw: dict[str, Any] | None = None,
    sim_kw: dict[str, Any] | None = None,
    stop: Callable[[], bool] | None = None,
    **pulsar_kw: Any,
) -> Iterator[OcppRig]:
    """A central system on a free port, the simulated Pulsar connected to it, and the adapter;
    ``wait`` for the charge point to have booted and been set up; ``stop`` is the central
    system's stop flag (SIGTERM)."""
    settings = settings or OcppSettings(host="127.0.0.1", port=0)
    with CentralSystem(settings, clock=clock, timing=timing, stop=stop) as central:
        pulsar = Pulsar(clock, **pulsar_kw)
        url = f"ws://127.0.0.1:{central.port}/ocpp/{identity}"
        sim = SimChargePoint(
            url, pulsar, clock, password=password, realtime=False, **(sim_kw or {})
        )
        with sim:
            charger = OcppCharger(central, WPA, **(charger_kw or {}))
            rig = OcppRig(clock, central, pulsar, sim, charger)
            if wait:
                central.wait_ready(5.0)
                rig.run(1)  # the first status and sample
            yield rig
