"""A simulated HomeWizard P1 meter on a plausible Belgian house, to run on its own.

The meter (counters and bodies) is sim.p1; the HTTP(S) server with its faults is sim.meter_server;
this module gives them a house to measure and a command line, so a user can try ``scc collector``
without hardware::

    python -m sim.meter --port 8081 --export-w 4200

Its names are the ones the rest of the code imports as ``sim.meter``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from common.stopping import Stopping
from sim.meter_server import Fault, MeterServer
from sim.p1 import METER_TZ, V1_TO_V2, GridPowerProvider, SimulatedP1
from sim.tls import make_test_pki

log = logging.getLogger(__name__)

__all__ = [
    "V1_TO_V2",
    "Fault",
    "GridPowerProvider",
    "MeterServer",
    "SimulatedP1",
    "belgian_house",
    "main",
    "steady",
]


def steady(grid_power_w: float, noise_w: float = 30.0, seed: int = 1) -> GridPowerProvider:
    """A steady grid power with a little noise (e.g. -4200 W: a sunny noon, car not charging)."""

    def provider(now: datetime) -> float:
        rng = random.Random(seed * 1_000_003 + int(now.timestamp()))
        return grid_power_w + rng.uniform(-noise_w, noise_w)

    return provider


def belgian_house(pv_peak_w: float = 4500.0, seed: int = 1) -> GridPowerProvider:
    """House load minus PV over the local day: night base load, a sunny midday, a kettle."""

    def provider(now: datetime) -> float:
        local = now.astimezone(METER_TZ)
        hour = local.hour + local.minute / 60 + local.second / 3600
        rng = random.Random(seed * 1_000_003 + int(now.timestamp()))
        pv = pv_peak_w * max(0.0, math.sin(math.pi * (hour - 6.5) / 14.5)) ** 1.5
        house = 320.0 + rng.uniform(-40, 40)
        if local.minute % 47 < 3:  # a kettle, a fridge cycle, a dishwasher heat-up
            house += 2000.0
        if 18 <= local.hour < 20:
            house += 900.0  # cooking
        return house - pv

    return provider


class CarDraw:
    """The car's draw as the simulated Wallbox cloud in another process reports it
    (``/sim/draw``), added to the house's grid power so that the controller's commands show in
    the meter: the demo compose stack's closed loop. Read by a thread every ``every_s``, so a
    slow cloud never delays a meter reply; a failed read keeps the last value."""

    def __init__(self, url: str, timeout_s: float = 2.0, every_s: float = 1.0) -> None:
        self.url, self.timeout_s, self.every_s = url, timeout_s, every_s
        self.power_w = 0.0
        self.failures = 0

    def __call__(self) -> float:
        return self.power_w

    def read(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as r:
                self.power_w = float(json.load(r)["power_w"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            self.failures += 1
            if self.failures == 1:
                log.warning("car draw from %s: %s; keeping %.0f W", self.url, e, self.power_w)

    def start(self) -> CarDraw:
        def loop() -> None:
            while True:
                self.read()
                time.sleep(self.every_s)

        threading.Thread(target=loop, name="car-draw", daemon=True).start()
        return self


def with_car(provider: GridPowerProvider, draw: Callable[[], float]) -> GridPowerProvider:
    return lambda now: provider(now) + draw()


def power_text(args: argparse.Namespace, now_w: float) -> str:
    """Without --export-w the meter follows the time of day: at night it imports, which a
    user trying it in the evening should not mistake for a broken simulator."""
    car = f", plus the car's draw from {args.car_draw_url}" if args.car_draw_url else ""
    if args.export_w is not None or args.import_w is not None:
        return f"steady {now_w:+.0f} W (negative: export){car}"
    return (
        f"a house under a 4.5 kWp roof at this time of day, now {now_w:+.0f} W "
        "(negative: export; it exports around midday only; --export-w 4200 for a steady "
        f"export){car}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.meter",
        description="Serve a simulated HomeWizard P1 meter (Belgian 3-phase house).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="TCP port (0: any free port)")
    power = parser.add_mutually_exclusive_group()
    power.add_argument("--export-w", type=float, help="steady export in W (e.g. 4200)")
    power.add_argument("--import-w", type=float, help="steady import in W")
    parser.add_argument("--phases", type=int, choices=(1, 3), default=3)
    parser.add_argument("--api", choices=("v1", "v2"), default="v1")
    parser.add_argument("--token", help="v2 bearer token (default: a random one, printed)")
    parser.add_argument(
        "--car-draw-url",
        metavar="URL",
        help="add the car's draw the simulated Wallbox cloud reports (its /sim/draw)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    if args.export_w is not None:
        provider = steady(-abs(args.export_w))
    elif args.import_w is not None:
        provider = steady(abs(args.import_w))
    else:
        provider = belgian_house()
    if args.car_draw_url:
        provider = with_car(provider, CarDraw(args.car_draw_url).start())
    meter = SimulatedP1(provider, phases=args.phases)
    tls, token = None, None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if args.api == "v2":
        tmp = tempfile.TemporaryDirectory(prefix="sim-meter-")
        tls = make_test_pki(Path(tmp.name), f"appliance/p1dongle/{meter.serial}")
        token = args.token or secrets.token_hex(16).upper()
    try:
        server = MeterServer(meter, args.api, host=args.host, port=args.port, token=token, tls=tls)
    except OSError as e:
        print(f"sim meter: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    stop = Stopping()  # a flag, no lock, in the handler (common.stopping)
    stop.on_signals((signal.SIGINT, signal.SIGTERM))
    with server:
        print(f"Simulated HomeWizard P1 (API {args.api}) on {server.url}", flush=True)
        print(f"  grid power: {power_text(args, provider(datetime.now(UTC)))}", flush=True)
        env = f"SCC_METER__URL={server.url}"
        if tls is not None:
            print(
                f"  token: {token}\n  its certificate is signed by a test CA ({tls.ca_cert}), "
                "not HomeWizard's: set meter.verify_tls: false to use it",
                flush=True,
            )
            env += f" SCC_METER__API=v2 SCC_METER__TOKEN={token} SCC_METER__VERIFY_TLS=false"
        print(f"  try: {env} scc collector --once", flush=True)
        while not stop.wait(3600.0):
            pass
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
