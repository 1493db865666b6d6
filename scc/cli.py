"""The ``scc`` command: the composition root, the one place that knows every component.

Components are imported only when their subcommand runs, so ``scc status`` never loads Flask or
the Wallbox package. Starting, config errors and exit codes are ``common.entry``'s, shared with
``python -m collector`` and friends. The contracts (commands, options) are in docs/design.md,
"Contracts".
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from collector.cli import COMMAND as COLLECTOR
from common.charger_words import charger_note, control_lines
from common.config import Config
from common.entry import EXIT_CONFIG, Command, add_global_options, run_command
from common.models import Status, to_jsonable
from common.store.base import StoreInfo
from common.timeutil import format_age, local_day_start
from controller.cli import COMMAND as CONTROLLER
from toggle_app.cli import COMMAND as TOGGLE

__all__ = ["EXIT_CONFIG", "build_parser", "main"]


def _status_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object")


def _demo_arguments(demo: argparse.ArgumentParser) -> None:
    _car_arguments(demo)
    demo.add_argument("--speed", type=float, default=20.0, help="simulated seconds per real second")
    demo.add_argument("--port", type=int, default=8080, help="phone page port")
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the phone page listens on (default 127.0.0.1: this machine only; "
        "0.0.0.0: every network, e.g. a Pi over SSH; no password, the charger is simulated)",
    )
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


def _car_arguments(p: argparse.ArgumentParser) -> None:
    """The simulated car and cloud as they are, whatever the config assumes."""
    p.add_argument(
        "--car-phases",
        type=int,
        choices=(1, 3),
        help="the car charges on 1 or 3 phases (default: as charging.phases says)",
    )
    p.add_argument(
        "--zero-kw-every",
        type=int,
        default=0,
        metavar="N",
        help="every N-th status read of a charging car says 0 kW, as the real cloud sometimes does",
    )
    p.add_argument(
        "--ocpp-mode",
        action="store_true",
        help="the charger is in OCPP mode: the cloud refuses pause and resume (403)",
    )


def _replay_arguments(replay: argparse.ArgumentParser) -> None:
    _car_arguments(replay)
    replay.add_argument(
        "--taper-kwh",
        type=float,
        metavar="KWH",
        help="with --car-kwh: the car takes less and less current over its last KWH",
    )
    replay.add_argument(
        "--first-day",
        action="store_true",
        help="the controller has never measured a car (default: it charged this car before)",
    )
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
        choices=("default", "naive", "seed", "evcc", "perfect"),
        help="default: ours; naive: the original scripts' rule; seed, evcc: the benchmark's peers; "
        "perfect: the tracking limit",
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


def _run_demo(config: Config, args: argparse.Namespace) -> int:
    from scc.demo import run_cli

    return run_cli(config, args)


def _run_replay(config: Config, args: argparse.Namespace) -> int:
    from scc.replay_cli import run_cli

    return run_cli(config, args)


def _run_status(config: Config, args: argparse.Namespace) -> int:
    return status(config, as_json=args.json)


def _check_env_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--env-file",
        default=".env",
        metavar="FILE",
        help="the compose settings to check (default ./.env; - reads them from stdin)",
    )
    p.add_argument("--no-meter", action="store_true", help="do not try to reach the meter")


def _run_check_env(config: Config, args: argparse.Namespace) -> int:
    from scc.envcheck import run_cli

    return run_cli(args)


COMMANDS: tuple[Command, ...] = (
    COLLECTOR,
    CONTROLLER,
    TOGGLE,
    Command(
        "status",
        "show the latest reading, window mean, mode, decision and charger",
        _status_arguments,
        _run_status,
    ),
    Command(
        "demo", "run the whole system on a simulated meter and charger", _demo_arguments, _run_demo
    ),
    Command(
        "replay",
        "score a recorded or synthetic day (CSV ts_s,pv_w,house_w)",
        _replay_arguments,
        _run_replay,
    ),
    Command(
        "check-env",
        "check the docker compose settings in .env, all at once, and that the meter answers",
        _check_env_arguments,
        _run_check_env,
    ),
)


def _version() -> str:
    try:
        return importlib.metadata.version("solar-car-charge")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scc", description="Solar Car Charge: charge the car from solar surplus only."
    )
    parser.add_argument("--version", action="version", version=f"scc {_version()}")
    add_global_options(parser)  # before the command (scc --config FILE status) or after it
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        add_global_options(p, after_command=True)
        cmd.add_arguments(p)
        p.set_defaults(run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.captureWarnings(True)
    args = build_parser().parse_args(argv)
    return run_command(args.command, args, args.run)


def status(config: Config, as_json: bool) -> int:
    from common.store import StoreError, build_status, open_store

    now = datetime.now(UTC)
    store_line, missing = describe_store(config)
    info: StoreInfo | None = None
    if missing:  # nothing recorded yet: say so without creating an empty store file
        st = Status(now, None, None, config.charging.window_s, None, None, None, None)
    else:
        try:
            store = open_store(config)
            try:
                st = build_status(store, now, config.charging.window_s, local_day_start(now))
                info = store.info(now)
            finally:
                store.close()
        except StoreError as e:
            print(f"scc status: store unavailable ({store_line}): {e}", file=sys.stderr)
            return 1
    if as_json:
        extra = {} if info is None else {"store_info": to_jsonable(info)}
        print(json.dumps({"store": store_line, **st.to_json(), **extra}, indent=2))
        return 0
    print(f"Store:     {store_line}\n{format_status(st)}\n{format_store_info(info)}")
    return 0


def describe_store(config: Config) -> tuple[str, bool]:
    """The store ``scc status`` reads, in words, and whether it is a SQLite file not made yet."""
    if config.store.backend == "influxdb":
        i = config.influxdb
        return f"InfluxDB {i.url}, org {i.org}, bucket {i.bucket}", False
    path = config.store.sqlite_path
    if path == ":memory:":
        return "SQLite in memory", False
    where = Path(path).resolve()
    if where.exists():
        return f"SQLite {where}", False
    hint = "it does not exist yet: nothing recorded there; scc collector creates it"
    return f"SQLite {where} ({hint}; set store.sqlite_path for another one)", True


def format_store_info(info: StoreInfo | None) -> str:
    """``Size:`` (on disk, what is kept how long) and ``Readings:`` (the span held) lines."""
    if info is None:
        return "Readings:  none"
    size = "not told by the store" if info.size_bytes is None else f"{info.size_bytes / 1e6:.1f} MB"
    lines = [f"Size:      {size}; {info.retention}"]
    if info.oldest_reading is None or info.newest_reading is None:
        return "\n".join([*lines, "Readings:  none"])

    def day(ts: datetime) -> str:
        return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    span = f"Readings:  {day(info.oldest_reading)} to {day(info.newest_reading)}"
    if info.raw_since is not None:
        span += f" (1-minute means before {day(info.raw_since)}, 1 s after)"
    return "\n".join([*lines, span])


def _w(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} W"


def format_status(st: Status) -> str:
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
    car = "" if c is None or c.watts_per_amp is None else f", car {c.watts_per_amp:.1f} W/A"
    lines.append(
        "Charger:   unknown"
        if c is None
        else f"Charger:   {c.status} ({c.status_id}), {c.current_a or 0:.0f} A, {_w(c.power_w)}"
        + car
    )
    note = charger_note(c, d)
    if note:
        lines.append(f"           {note}")
    lines += [f"Problem:   {text}" for text in control_lines(c)]
    if st.today is not None:
        t = st.today
        share = "-" if t.solar_share is None else f"{t.solar_share:.0%}"
        lines.append(f"Today:     EV {t.ev_kwh:.2f} kWh, solar share {share}, starts {t.starts}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
