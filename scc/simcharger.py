"""A simulated charger behind the real adapter, reached either way the controller can reach one:

- ``wallbox_cloud``: the simulated charger behind the simulated Wallbox cloud, steered by
  ``WallboxCharger`` and the real ``wallbox`` package over HTTP (its rate limits, its latency);
- ``ocpp``: the simulated Pulsar connecting over a websocket to our own central system, steered by
  ``OcppCharger`` (10 s samples, a few seconds of latency, no cloud in between).

The replay and the demo drive a day through either with the same loop: ``power_w`` is what the
meter sees the car draw, ``step`` lets the device act up to a time (the simulated Pulsar sends its
samples and status only when stepped, so a replay on a simulated clock stays in order), and
``counts`` says how much talking it took.

The car is the car, not the config (``CarOptions``): its phases set what it draws per ampere and
on which meter phases, whichever way the charger is reached. The cloud's own quirks (0 kW
reports, OCPP mode's refusals) exist only behind the cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from common.config import ChargingConfig
from common.ports import Charger
from controller.wallbox import WallboxCharger
from sim.charger import SimCharger
from sim.rig import car_watts_per_amp, wallbox_config
from sim.wallbox_cloud import WallboxCloud

ChargerKind = Literal["wallbox_cloud", "ocpp"]
CHARGER_KINDS: tuple[str, ...] = ("wallbox_cloud", "ocpp")
#: The simulated Pulsar's identity (the last segment of the URL it calls).
SIM_CHARGE_POINT_ID = "sim-pulsar"
#: The OCPP calls that command the charger (the rest set it up or ask for a sample).
_COMMANDS = ("SetChargingProfile", "RemoteStartTransaction")


@dataclass(frozen=True, slots=True)
class CarOptions:
    """The car and cloud as they are, whatever the config assumes (docs/design.md, "Replay and
    benchmarks"): its phases, a cloud that reports 0 kW now and then, OCPP mode, a taper, and
    whether the controller has met a car before."""

    #: 1 or 3; None: as ``charging.phases`` says.
    phases: int | None = None
    #: Every n-th status read of a charging car says 0 kW (0: never). The cloud's only.
    zero_kw_every: int = 0
    #: The charger is in OCPP mode: the cloud refuses remote actions (pause, resume) with 403.
    #: The cloud's only: under local control OCPP mode is how the charger is reached.
    ocpp_mode: bool = False
    #: The car takes less and less over its last this many kWh (with ``car_kwh``).
    taper_kwh: float = 0.0
    #: The controller has never measured a car here (its first day at home); by default it has
    #: charged this car before, as on every later day.
    first_day: bool = False

    def check(self, kind: str) -> None:
        """ValueError with the line to print for options that do not fit ``kind``."""
        if self.phases not in (None, 1, 3):
            raise ValueError("--car-phases must be 1 or 3")
        if self.zero_kw_every < 0 or self.taper_kwh < 0:
            raise ValueError("--zero-kw-every and --taper-kwh must not be negative")
        if kind == "ocpp" and (self.zero_kw_every or self.ocpp_mode):
            raise ValueError(
                "--zero-kw-every and --ocpp-mode simulate the Wallbox cloud, "
                "not local control (--charger ocpp)"
            )


@dataclass(frozen=True, slots=True)
class ChargerCounts:
    """What steering the charger cost: commands, reads asked for, refusals, calls in all."""

    writes: int
    reads: int
    rate_limited: int
    requests: int
    current_changes: int


@dataclass
class SimulatedCharger:
    kind: ChargerKind
    adapter: Charger
    #: What the car really draws per ampere of limit (its phases), whatever the config says.
    car_w_per_a: float
    power_w: Callable[[datetime], float]
    #: What the car draws on L1, L2, L3 (the meter's phases).
    phase_powers_w: Callable[[datetime], tuple[float, float, float]]
    step: Callable[[datetime], None]
    #: The limit the charger applies while it lets the car charge, else None (the plot's line).
    setpoint_on: Callable[[], int | None]
    counts: Callable[[], ChargerCounts]
    #: One line for a banner: where the simulated charger is.
    where: str


@contextmanager
def simulated_charger(
    kind: ChargerKind,
    clock: Callable[[], datetime],
    charging: ChargingConfig,
    *,
    latency_s: float,
    car: CarOptions | None = None,
    car_kwh: float | None = None,
    realtime: bool = False,
    timeout_s: float = 2.0,
) -> Iterator[SimulatedCharger]:
    """A car plugged in and not charging, behind the adapter of ``kind``; the adapter assumes
    what ``charging`` says, the car is as ``car`` says."""
    car = car or CarOptions()
    car.check(kind)
    sim = _SimCar(
        watts_per_amp=car_watts_per_amp(charging, car.phases),
        phases=car.phases or charging.phases,
        kwh_to_full=car_kwh,
        taper_kwh=car.taper_kwh,
    )
    if kind == "ocpp":
        with _ocpp(clock, charging, sim, latency_s, realtime) as c:
            yield c
    else:
        with _cloud(clock, charging, sim, car, latency_s, timeout_s) as c:
            yield c


@dataclass(frozen=True, slots=True)
class _SimCar:
    watts_per_amp: float
    phases: int
    kwh_to_full: float | None
    taper_kwh: float


@contextmanager
def _cloud(
    clock: Callable[[], datetime],
    charging: ChargingConfig,
    car: _SimCar,
    quirks: CarOptions,
    latency_s: float,
    timeout_s: float,
) -> Iterator[SimulatedCharger]:
    device = SimCharger(
        clock,
        watts_per_amp=car.watts_per_amp,
        latency_s=latency_s,
        setpoint_a=charging.max_current_a,
        paused=True,
        car_connected=True,
        kwh_to_full=car.kwh_to_full,
        phases=car.phases,
        taper_kwh=car.taper_kwh,
    )
    with WallboxCloud(
        clock, charger=device, ocpp_mode=quirks.ocpp_mode, zero_kw_every=quirks.zero_kw_every
    ) as cloud:
        adapter = WallboxCharger(
            wallbox_config(cloud, timeout_s=timeout_s, charger_id=str(device.charger_id)),
            charging.effective_watts_per_amp,
            clock=clock,
        )

        def counts() -> ChargerCounts:
            commands = cloud.commands()
            return ChargerCounts(
                writes=len(commands),
                reads=cloud.count(method="GET", path_contains="chargers/status"),
                rate_limited=cloud.count(status=429),
                requests=len(cloud.requests),
                current_changes=sum(1 for c in commands if c.startswith("current(")),
            )

        yield SimulatedCharger(
            kind="wallbox_cloud",
            adapter=adapter,
            car_w_per_a=car.watts_per_amp,
            power_w=device.power_w,
            phase_powers_w=device.phase_powers_w,
            step=lambda now: None,  # the simulated cloud's charger catches up when asked
            setpoint_on=lambda: None if device.paused else device.setpoint_a,
            counts=counts,
            where=f"Wallbox cloud at {cloud.api_url} (car plugged in, charger paused)",
        )


@contextmanager
def _ocpp(
    clock: Callable[[], datetime],
    charging: ChargingConfig,
    car: _SimCar,
    latency_s: float,
    realtime: bool,
) -> Iterator[SimulatedCharger]:
    # Imported here: the cloud's replay and demo need none of the OCPP stack.
    from common.asyncloop import LoopThread
    from controller.ocpp import CentralSystem, OcppCharger, OcppSettings, Timing
    from sim.ocpp_cp import Pulsar, SimChargePoint

    settings = OcppSettings(host="127.0.0.1", port=0, charge_point_id=SIM_CHARGE_POINT_ID)
    # One event loop for both ends: a message between them costs no thread switch (a replay sends
    # 8 640 samples a day); for the same reason the schema checks run in the loop, not in a pool.
    thread = LoopThread("ocpp-sim")
    timing = Timing(boot_wait_s=1.0)
    with (
        _validation_in_loop(),
        CentralSystem(settings, clock=clock, timing=timing, thread=thread) as central,
    ):
        pulsar = Pulsar(
            clock,
            latency_s=latency_s,
            max_current_a=charging.max_current_a,
            kwh_to_full=car.kwh_to_full,
            car_phases=car.phases,
            voltage_v=car.watts_per_amp / car.phases,
            taper_kwh=car.taper_kwh,
        )
        url = f"ws://127.0.0.1:{central.port}/{SIM_CHARGE_POINT_ID}"
        with SimChargePoint(url, pulsar, clock, realtime=realtime, thread=thread) as sim:
            central.wait_ready(10.0)
            adapter = OcppCharger(central, charging.effective_watts_per_amp)

            def step(now: datetime) -> None:
                if not realtime and pulsar.has_due(now):
                    sim.tick(now)

            def setpoint_on() -> int | None:
                on = pulsar.transaction_id is not None and pulsar.offered_a > 0
                return round(pulsar.offered_a) if on else None

            def counts() -> ChargerCounts:
                calls = [e[1:] for e in sim.journal if e.startswith("<")]
                limits = [c for c in pulsar.commands if c.startswith("limit ")]
                return ChargerCounts(
                    writes=sum(c in _COMMANDS for c in calls),
                    reads=adapter.triggers,
                    rate_limited=0,
                    requests=len(calls),
                    current_changes=sum(1 for c in limits if c != "limit 0"),
                )

            yield SimulatedCharger(
                kind="ocpp",
                adapter=adapter,
                car_w_per_a=car.watts_per_amp,
                power_w=pulsar.power_w,
                phase_powers_w=pulsar.phase_powers_w,
                step=step,
                setpoint_on=setpoint_on,
                counts=counts,
                where=f"Pulsar on OCPP at {url} (car plugged in, waiting for a start)",
            )


@contextmanager
def _validation_in_loop() -> Iterator[None]:
    """The ``ocpp`` package checks each message's schema in a thread pool by default; a hop
    there and back is most of a message's cost when both ends run in one process."""
    from ocpp import messages as ocpp_messages

    before = ocpp_messages.ASYNC_VALIDATION
    ocpp_messages.ASYNC_VALIDATION = False
    try:
        yield
    finally:
        ocpp_messages.ASYNC_VALIDATION = before
