"""The ``scc`` command: one entry point for every component (DESIGN.md section 9).

Components are imported only when their subcommand runs, so a broken optional dependency of one
(say the Wallbox package) never stops another (the collector) from starting. A bad config is the
only reason to exit 2; it prints one line naming the key and the file, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from common.config import Config, ConfigError, load_config
from common.logs import setup_logging
from common.timeutil import format_age, local_day_start

EXIT_CONFIG = 2

# subcommand -> (module, function taking (config, args) and returning an exit code)
_COMPONENTS: dict[str, tuple[str, str]] = {
    "collector": ("collector.service", "run_cli"),
    "controller": ("controller.service", "run_cli"),
    "toggle": ("toggle_app.server", "run_cli"),
    "demo": ("common.sim.demo", "run_cli"),
    "replay": ("common.sim.replay", "run_cli"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scc", description="Solar Car Charge: charge the car from solar surplus only."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--config", metavar="FILE", help="YAML config (default: $SCC_CONFIG or ./config.yaml)"
        )
        return p

    add("collector", "poll the P1 meter and write readings to the store").add_argument(
        "--once", action="store_true", help="poll once, write, print the reading, exit"
    )
    add("controller", "steer the Wallbox from the solar surplus").add_argument(
        "--once", action="store_true", help="run one control cycle and exit"
    )
    add("toggle", "serve the phone page and JSON API").add_argument(
        "--debug", action="store_true", help="Flask development server instead (not for a network)"
    )
    add("status", "show the latest reading, window mean, mode, decision and charger").add_argument(
        "--json", action="store_true", help="one JSON object"
    )
    demo = add("demo", "run the whole system on a simulated meter and charger")
    demo.add_argument("--speed", type=float, default=20.0, help="simulated seconds per real second")
    demo.add_argument("--port", type=int, default=8080, help="phone page port")
    demo.add_argument(
        "--profile", help="CSV day ts_s,pv_w,house_w (default: built-in broken-cloud day)"
    )
    demo.add_argument("--duration", type=float, help="stop after this many real seconds")
    demo.add_argument(
        "--start",
        metavar="HH:MM",
        help="simulated time of day to start at (default: just before "
        "the profile's first sunny spell)",
    )
    replay = add("replay", "score a recorded or synthetic day (CSV ts_s,pv_w,house_w)")
    replay.add_argument("profile", metavar="PROFILE.csv")
    replay.add_argument("--json", action="store_true", help="one JSON object of metrics")
    replay.add_argument("--plot", metavar="PNG", help="draw the day to this PNG file")
    replay.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. charging.start_delay_s=60 (repeatable)",
    )
    replay.add_argument(
        "--policy",
        default="default",
        choices=("default", "naive", "perfect"),
        help="default: ours; naive: the original scripts' rule; perfect: the tracking limit",
    )
    replay.add_argument(
        "--car-kwh",
        type=float,
        metavar="KWH",
        help="the car is full after this many kWh (default: it takes all it gets all day)",
    )
    replay.add_argument(
        "--latency-s",
        type=float,
        default=15.0,
        metavar="S",
        help="seconds the charger takes to follow a command through the cloud (default 15)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        setup_logging(config.logging, args.command)
        if args.command == "status":
            return status(config, as_json=args.json)
        module_name, func_name = _COMPONENTS[args.command]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                print(
                    f"scc {args.command}: not built yet ({module_name} is missing)", file=sys.stderr
                )
                return EXIT_CONFIG
            raise
        func: Callable[[Config, argparse.Namespace], int] = getattr(module, func_name)
        return func(config, args)
    except ConfigError as e:
        print(f"scc: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def status(config: Config, as_json: bool) -> int:
    from common.store import StoreError, build_status, open_store

    now = datetime.now(UTC)
    try:
        store = open_store(config)
        try:
            st = build_status(store, now, config.charging.window_s, local_day_start(now))
        finally:
            store.close()
    except StoreError as e:
        print(f"scc status: store unavailable: {e}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(st.to_json(), indent=2))
        return 0
    print(format_status(st))
    return 0


def _w(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} W"


def format_status(st: object) -> str:
    from common.models import Status

    assert isinstance(st, Status)

    def ago(ts: datetime) -> str:
        return format_age((st.now - ts).total_seconds())

    lines = []
    r = st.latest_reading
    lines.append(
        "Meter:     no reading yet"
        if r is None
        else f"Meter:     {_w(r.active_power_w)} ({ago(r.ts)}; + import, - export)"
    )
    lines.append(f"Mean:      {_w(st.grid_power_mean_w)} over {st.window_s:.0f} s")
    lines.append(
        "Mode:      solar (default, never set)"
        if st.mode is None
        else f"Mode:      {st.mode.mode.value} (set by {st.mode.source}, {ago(st.mode.ts)})"
    )
    d = st.last_decision
    lines.append(
        "Decision:  none yet"
        if d is None
        else f"Decision:  {d.action.value} {d.target_a} A, {d.reason} ({ago(d.ts)})"
    )
    c = st.charger
    lines.append(
        "Charger:   unknown"
        if c is None
        else f"Charger:   {c.status} ({c.status_id}), {c.current_a or 0:.0f} A, {_w(c.power_w)}"
    )
    if st.today is not None:
        t = st.today
        share = "-" if t.solar_share is None else f"{t.solar_share:.0%}"
        lines.append(f"Today:     EV {t.ev_kwh:.2f} kWh, solar share {share}, starts {t.starts}")
    return "\n".join(lines)


def entry(command: str) -> None:
    """``python -m collector`` and friends: the same as ``scc <command>``."""
    logging.captureWarnings(True)
    sys.exit(main([command, *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
