"""``python -m sim.ocpp_cp --url ws://127.0.0.1:8887/ID``: a simulated Pulsar Plus with a car,
connecting to a central system in real time (try ``scc controller`` with ``charger.kind: ocpp``
without the hardware)."""

from __future__ import annotations

import argparse
import logging
import signal
from datetime import UTC, datetime

from common.stopping import Stopping
from sim.ocpp_cp.pulsar import FW5, FW6, Pulsar
from sim.ocpp_cp.runner import SimChargePoint


def _now() -> datetime:
    return datetime.now(UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sim.ocpp_cp",
        description="A simulated Wallbox Pulsar Plus on OCPP 1.6J (real time).",
    )
    p.add_argument("--url", required=True, help="central system URL ending in the charge point id")
    p.add_argument("--password", help="HTTP Basic password (the charge point id is the user)")
    p.add_argument(
        "--firmware", default=FW6, help=f"firmware version: {FW6} (6.x) or {FW5} (5.x quirks)"
    )
    p.add_argument(
        "--ignores-limit", action="store_true", help="accept charging profiles and ignore them"
    )
    p.add_argument("--car-phases", type=int, choices=(1, 2, 3), default=3)
    p.add_argument("--car-max-a", type=float, default=32.0, help="the most the car takes per phase")
    p.add_argument("--latency-s", type=float, default=4.0, help="from a limit to the car's current")
    p.add_argument("--no-car", action="store_true", help="start without a car plugged in")
    p.add_argument("--kwh-to-full", type=float, help="the car is full after this many kWh")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    pulsar = Pulsar(
        _now,
        firmware=args.firmware,
        ignores_limit=args.ignores_limit,
        car_phases=args.car_phases,
        car_max_current_a=args.car_max_a,
        latency_s=args.latency_s,
        car_connected=not args.no_car,
        kwh_to_full=args.kwh_to_full,
    )
    # A flag, not an Event: Event.set() in a handler can wait for a lock its own thread holds.
    stopping = Stopping()
    stopping.on_signals((signal.SIGTERM, signal.SIGINT))
    try:
        with SimChargePoint(args.url, pulsar, _now, password=args.password):
            hello = f"Simulated Pulsar ({args.firmware}) calling {args.url}; Ctrl-C stops"
            print(hello, flush=True)
            while not stopping.wait(3600):
                pass
    finally:
        stopping.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
