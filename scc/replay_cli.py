"""``scc replay``'s command line: options, ``--set`` overrides and the printed table.

The replay itself is scc.replay; this module only turns arguments into ``ReplayOptions`` and a
``ReplayResult`` into text or JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import yaml

from common.config import Config, ConfigError
from scc.replay import (
    DEFAULT_LATENCY_S,
    EXIT_BAD_INPUT,
    POLICIES,
    CarOptions,
    PolicyName,
    ReplayOptions,
    ReplayResult,
    replay,
)
from sim.profiles import ProfileError, load_csv


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["charging.start_delay_s=60"]`` -> ``{"charging.start_delay_s": 60}`` (YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or "." not in key:
            raise ConfigError(f"--set {item}: expected SECTION.KEY=VALUE")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        out[key] = text if isinstance(value, dict | list) else value
    return out


def apply_sets(config: Config, items: Sequence[str]) -> Config:
    """The config with ``--set`` overrides, validated like the file; errors name the --set."""
    for key, value in parse_sets(items).items():
        try:
            config = config.with_overrides({key: value})
        except ConfigError as e:
            msg = str(e)
            prefix = f"{config.source}: "
            msg = msg[len(prefix) :] if msg.startswith(prefix) else msg
            raise ConfigError(f"--set {key}={value}: {msg}") from None
    return config


def car_options(args: argparse.Namespace) -> CarOptions:
    """The simulated car and cloud from ``--car-phases`` and friends (scc replay and scc demo)."""
    car = CarOptions(
        phases=getattr(args, "car_phases", None),
        zero_kw_every=getattr(args, "zero_kw_every", None) or 0,
        ocpp_mode=bool(getattr(args, "ocpp_mode", False)),
        taper_kwh=getattr(args, "taper_kwh", None) or 0.0,
        first_day=bool(getattr(args, "first_day", False)),
    )
    if car.phases not in (None, 1, 3):
        raise ValueError("--car-phases must be 1 or 3")
    if car.zero_kw_every < 0 or car.taper_kwh < 0:
        raise ValueError("--zero-kw-every and --taper-kwh must not be negative")
    return car


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def format_table(r: ReplayResult) -> str:
    m = r.metrics
    settings = ", ".join(f"{k} {v:g}" for k, v in r.charging.items())
    lines = [
        f"Replay of {r.profile} ({r.duration_s / 3600:.1f} h), policy {r.policy}",
        f"  {settings}",
        "",
        f"  {'PV':<34}{m.pv_kwh:8.2f} kWh",
        f"  {'house':<34}{m.house_kwh:8.2f} kWh",
        f"  {'surplus (PV above house)':<34}{m.surplus_kwh:8.2f} kWh",
        f"  {'EV':<34}{m.ev_kwh:8.2f} kWh",
        f"  {'  from solar':<34}{m.ev_solar_kwh:8.2f} kWh   solar share {_pct(m.solar_share)}",
        f"  {'  from the grid':<34}{m.ev_grid_kwh:8.2f} kWh",
        f"  {'grid import':<34}{m.import_kwh:8.2f} kWh",
        f"  {'grid export':<34}{m.export_kwh:8.2f} kWh",
        f"  {'limit (perfect tracking), solar':<34}{r.limit_solar_kwh:8.2f} kWh   "
        f"captured {_pct(r.captured)}",
        "",
        f"  {'starts / stops':<34}{m.starts:>4} / {m.stops}",
        f"  {'current changes':<34}{m.current_changes:>4}",
    ]
    if r.cloud_requests is not None:
        lines += [
            f"  {'charger writes':<34}{m.charger_writes:>4}",
            f"  {'status reads':<34}{m.charger_reads:>4}",
            f"  {'429 answers from the cloud':<34}{m.rate_limited:>4}",
            f"  {'cloud requests in all':<34}{r.cloud_requests:>4}",
        ]
    lines.append(f"\nReplayed in {r.runtime_s:.1f} s")
    return "\n".join(lines)


def _options(args: argparse.Namespace) -> ReplayOptions:
    """The replay's options from the arguments; ValueError with the line to print."""
    policy = getattr(args, "policy", "default") or "default"
    if policy not in POLICIES:
        raise ValueError(f"--policy must be one of {', '.join(POLICIES)}")
    latency_s = getattr(args, "latency_s", None)
    latency_s = DEFAULT_LATENCY_S if latency_s is None else latency_s
    car_kwh = getattr(args, "car_kwh", None)
    if not 0 <= latency_s <= 600 or (car_kwh is not None and car_kwh <= 0):
        raise ValueError("--latency-s must be 0-600 and --car-kwh positive")
    car = car_options(args)
    if car.taper_kwh > 0 and car_kwh is None:
        raise ValueError("--taper-kwh needs --car-kwh: the taper is the last kWh before full")
    _check_plot_path(getattr(args, "plot", None))
    return ReplayOptions(
        policy=cast(PolicyName, policy),
        latency_s=latency_s,
        car_kwh=car_kwh,
        keep_series=bool(getattr(args, "plot", None)),
        car=car,
    )


def _check_plot_path(plot_path: str | None) -> None:
    """A replay takes half a minute: a PNG that cannot be written is said before, not after."""
    if not plot_path:
        return
    folder = Path(plot_path).parent
    if not folder.is_dir():
        raise ValueError(f"--plot {plot_path}: no folder {folder}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--plot {plot_path}: cannot write into {folder}")
    if Path(plot_path).is_dir():
        raise ValueError(f"--plot {plot_path} is a folder; give a file name, e.g. day.png")


def run_cli(config: Config, args: argparse.Namespace) -> int:
    config = apply_sets(config, getattr(args, "set", None) or [])
    try:
        options = _options(args)
    except ValueError as e:
        print(f"scc replay: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    plot_path = getattr(args, "plot", None)
    if plot_path:
        from scc.plot import PlotUnavailable, check_available

        try:
            check_available()
        except PlotUnavailable as e:
            print(f"scc replay: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        profile = load_csv(args.profile)
    except ProfileError as e:
        print(f"scc replay: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = replay(profile, config, options)
    if plot_path:
        from scc.plot import plot_day

        try:
            plot_day(result, plot_path, config.charging, options.latency_s)
        except OSError as e:
            print(f"scc replay: cannot write {plot_path}: {e.strerror or e}", file=sys.stderr)
            return 1
    if getattr(args, "json", False):
        print(json.dumps(result.to_json()))
    else:
        print(format_table(result))
        if plot_path:
            print(f"Plot: {plot_path}")
    return 0
