"""The ranges every numeric config key must lie in, checked once the types are right
(common/config.py). Durations are bounded on both sides: below, a typo such as ``interval_s:
0.001`` (9 581 decisions in 10 s); above, one such as ``1e12`` that overflows a date later on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = tuple[str, Callable[[Any, Any], bool], str]


def _below(limit: float) -> Callable[[Any, Any], bool]:
    return lambda value, section: value < limit


def _above(limit: float) -> Callable[[Any, Any], bool]:
    return lambda value, section: value > limit


def _duration(key: str, low: float, high: float, why_low: str = "") -> tuple[Check, Check]:
    return (
        (key, _below(low), f"must be at least {low:g}{why_low}"),
        (key, _above(high), f"must be at most {high:g}"),
    )


#: (key, bad(value, its section), why), checked in this order; the first bad value is reported.
#: ``why`` may name the key's section as ``{s}``.
RANGES: tuple[Check, ...] = (
    *_duration("meter.poll_interval_s", 0.5, 3600, " (HomeWizard's advised limit)"),
    *_duration("meter.timeout_s", 0.1, 60),
    *_duration("wallbox.timeout_s", 1, 300),
    ("charging.min_current_a", _below(6), "must be at least 6 (the Wallbox minimum)"),
    (
        "charging.max_current_a",
        lambda v, s: v < s.min_current_a,
        "must be at least min_current_a ({s.min_current_a})",
    ),
    ("charging.max_current_a", _above(32), "must be at most 32"),
    ("charging.voltage_v", lambda v, s: v <= 0, "must be positive"),
    ("charging.watts_per_amp", lambda v, s: v is not None and v <= 0, "must be positive"),
    *_duration("charging.window_s", 1, 3600),
    *_duration("charging.interval_s", 1, 3600),
    *_duration("charging.start_delay_s", 0, 86400),
    *_duration("charging.stop_delay_s", 0, 86400),
    (
        "charging.solar_share_target",
        lambda v, s: not 0.5 <= v <= 1,
        "must be between 0.5 and 1 (a share: 0.97 is 97 %)",
    ),
    ("toggle_app.port", lambda v, s: not 0 < v < 65536, "must be a TCP port (1-65535)"),
    ("ocpp.port", lambda v, s: not 0 < v < 65536, "must be a TCP port (1-65535)"),
    *_duration("store.raw_days", 1, 3650),
    (
        "store.rollup_days",
        lambda v, s: v < s.raw_days,
        "must be at least raw_days ({s.raw_days:g})",
    ),
    ("store.rollup_days", _above(36500), "must be at most 36500"),
    *_duration("health.store_stall_s", 5, 86400),
)


def range_problem(cfg: Any, origins: dict[str, str]) -> str | None:
    """The line for the first value out of its range; ``origins``: who set a key (``$VAR:`` or
    ``FILE: key``), else the config's file."""
    for key, bad, why in RANGES:
        section_name, name = key.split(".")
        section = getattr(cfg, section_name)
        if bad(getattr(section, name), section):
            return _blame(cfg, origins, key, why.format(s=section))
    return None


def _blame(cfg: Any, origins: dict[str, str], key: str, why: str) -> str:
    """A rule between two keys broken by the one that was set (``min_current_a: 20`` against the
    default ``max_current_a``) names who set that one, and the other as a default."""
    if key in origins:
        return f"{origins[key]} {why}"
    section_name, name = key.split(".")
    setters = [
        where
        for other, where in origins.items()
        if other.startswith(section_name + ".") and other.split(".")[1] in why
    ]
    if not setters:
        return f"{cfg.source}: {key} {why}"
    who = setters[0] if setters[0].startswith("$") else f"{cfg.source}:"
    return f"{who} {key} ({getattr(getattr(cfg, section_name), name):g} by default) {why}"
