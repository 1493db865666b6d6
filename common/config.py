"""Configuration: one YAML file plus ``SCC_<SECTION>__<KEY>`` environment overrides.

Every key is declared once, in the frozen dataclasses below; their types drive validation, so a typo
or a wrong type fails at start with one line naming the key and the file (docs/design.md,
"Contracts") instead of surfacing hours later as a charger that never starts.
"""

from __future__ import annotations

import contextlib
import math
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from common.config_file import ConfigFileError, read_config_file, yaml_scalar
from common.config_ranges import range_problem
from common.secret import Secret as Secret  # where it always was imported from


class ConfigError(Exception):
    """A bad configuration: the message is one line that names the key and the file."""


@dataclass(frozen=True)
class StoreConfig:
    backend: Literal["sqlite", "influxdb"] = "sqlite"
    sqlite_path: str = "scc.db"
    # SQLite retention (common/store/sqlite_retention.py); InfluxDB has its bucket's own.
    raw_days: float = 7.0
    rollup_days: float = 730.0


@dataclass(frozen=True)
class InfluxConfig:
    url: str = "http://localhost:8086"
    org: str = "solar"
    bucket: str = "solar"
    token: Secret | None = None


@dataclass(frozen=True)
class MeterConfig:
    url: str = "http://127.0.0.1:8081"
    api: Literal["v1", "v2"] = "v1"
    token: Secret | None = None
    verify_tls: bool = True
    poll_interval_s: float = 1.0
    timeout_s: float = 5.0
    spool_path: str = "scc-spool"


@dataclass(frozen=True)
class WallboxConfig:
    username: str | None = None
    password: Secret | None = None
    charger_id: str | None = None
    api_url: str = "https://api.wall-box.com/"
    auth_url: str = "https://user-api.wall-box.com/"
    timeout_s: float = 20.0


@dataclass(frozen=True)
class ChargingConfig:
    phases: Literal[1, 3] = 3
    # Line-to-line voltage for 3 phases (400 for 3N~400 V, 230 for Belgian 3x230 V delta);
    # phase voltage for 1 phase.
    voltage_v: float = 400.0
    watts_per_amp: float | None = None
    min_current_a: int = 6
    max_current_a: int = 16
    # Chosen with bench/policy_bench.py (README "Replay and the policy benchmark").
    window_s: float = 60.0
    interval_s: float = 60.0
    start_delay_s: float = 180.0
    stop_delay_s: float = 600.0

    @property
    def effective_watts_per_amp(self) -> float:
        """W per A of charging current: explicit override, else from phases and voltage."""
        if self.watts_per_amp is not None:
            return self.watts_per_amp
        if self.phases == 1:
            return self.voltage_v
        return math.sqrt(3) * self.voltage_v


@dataclass(frozen=True)
class ToggleAppConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    password: Secret | None = None
    secret_key: Secret | None = None
    allowed_hosts: str | None = None  # more host names, comma-separated (toggle_app/hosts.py)
    trusted_proxies: str | None = None  # proxies' networks, comma-separated (toggle_app/proxy.py)


@dataclass(frozen=True)
class LoggingConfig:
    file: str | None = None
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class HealthConfig:
    # Rewritten once per loop iteration by the collector and controller, for Docker's
    # HEALTHCHECK (common/heartbeat.py); None writes nothing.
    heartbeat_file: str | None = None
    # The collector stops beating when no reading has reached the store for this long (store
    # down, or refusing everything), so the healthcheck shows it instead of "healthy".
    store_stall_s: float = 60.0


@dataclass(frozen=True)
class Config:
    store: StoreConfig = field(default_factory=StoreConfig)
    influxdb: InfluxConfig = field(default_factory=InfluxConfig)
    meter: MeterConfig = field(default_factory=MeterConfig)
    wallbox: WallboxConfig = field(default_factory=WallboxConfig)
    charging: ChargingConfig = field(default_factory=ChargingConfig)
    toggle_app: ToggleAppConfig = field(default_factory=ToggleAppConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    #: Where the config came from, for error messages ("config.yaml (not found: defaults)" when
    #: no file exists, so the message also says where a setting would go).
    source: str = "<defaults>"

    def require(self, *dotted_keys: str) -> None:
        """Fail with a ConfigError for the first key that a component needs but is unset."""
        for key in dotted_keys:
            section, name = key.split(".")
            value = getattr(getattr(self, section), name)
            if value is None or (isinstance(value, str | Secret) and not value):
                env = f"SCC_{section.upper()}__{name.upper()}"
                raise ConfigError(f"{self.source}: {key} is required (set it there or in ${env})")

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with ``section.key`` values replaced, validated like the file (for --set)."""
        raw: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
        for dotted, value in overrides.items():
            section, _, name = dotted.partition(".")
            raw.setdefault(section, {})[name] = value
        return _build(raw, self.source, base=self)


_ENV_PREFIX = "SCC_"
#: INFLUXDB_V2_URL, _ORG, _TOKEN, _BUCKET: the InfluxDB tools' names, used where SCC_ ones are not.
_INFLUX_ENV = {f"INFLUXDB_V2_{key.upper()}": key for key in ("url", "org", "token", "bucket")}
_UNIONS = (typing.Union, types.UnionType)
_SECTIONS = {k: t for k, t in typing.get_type_hints(Config).items() if k != "source"}


def default_path() -> Path:
    return Path(os.environ.get("SCC_CONFIG") or "config.yaml")


def load_config(
    path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
) -> Config:
    """Load ``path`` (else $SCC_CONFIG, else ./config.yaml), then apply env overrides.

    A missing file is fine only when no path was given explicitly: a first run works on defaults.
    """
    env = dict(os.environ if env is None else env)
    explicit = path is not None or bool(env.get("SCC_CONFIG"))
    p = Path(path) if path is not None else Path(env.get("SCC_CONFIG") or "config.yaml")
    if p.exists() or explicit:
        source, raw = str(p), _read_yaml(p)
    else:
        source, raw = f"{p} (not found: defaults)", {}
    merged = _file_sections(raw, source)
    _apply_env(env, merged)
    cfg = _build(merged, source, base=Config(source=source))
    if cfg.store.backend == "influxdb":
        cfg.require("influxdb.token")
    return cfg


def _read_yaml(p: Path) -> dict[str, Any]:
    try:
        return read_config_file(p)
    except ConfigFileError as e:
        raise ConfigError(str(e)) from None


def _file_sections(raw: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    merged = {}
    for section, value in raw.items():
        if section not in _SECTIONS:
            known = ", ".join(_SECTIONS)
            raise ConfigError(f"{source}: unknown section {section!r} (known: {known})")
        if not isinstance(value, dict | None):
            raise ConfigError(f"{source}: {section} must be a mapping of keys")
        merged[section] = dict(value or {})
    return merged


def _apply_env(env: dict[str, str], merged: dict[str, dict[str, Any]]) -> None:
    """``SCC_<SECTION>__<KEY>`` over the file's values (text, typed by the key's type later)."""
    for name, value in sorted(env.items()):
        if not name.startswith(_ENV_PREFIX) or name == "SCC_CONFIG":
            continue
        if "__" not in name:
            _check_one_underscore(name)
            continue
        section, _, key = name[len(_ENV_PREFIX) :].lower().partition("__")
        if section not in _SECTIONS:
            raise ConfigError(f"${name}: unknown section {section!r}")
        merged.setdefault(section, {})[key] = _EnvText(value, name)
    influx = merged.setdefault("influxdb", {})
    for env_name, key in _INFLUX_ENV.items():
        if env.get(env_name) and key not in influx:
            influx[key] = env[env_name]


def _check_one_underscore(name: str) -> None:
    """``SCC_CHARGING_MIN_CURRENT_A`` (one underscore) would be ignored without a word; other
    ``SCC_`` names (``SCC_VENV`` of the scripts) are not ours and stay ignored."""
    rest = name[len(_ENV_PREFIX) :].lower()
    for section in _SECTIONS:
        if rest.startswith(section + "_") and len(rest) > len(section) + 1:
            meant = f"{_ENV_PREFIX}{section.upper()}__{rest[len(section) + 1 :].upper()}"
            raise ConfigError(
                f"${name}: did you mean {meant}? (two underscores between section and key)"
            )


class _EnvText(str):
    """A value from the environment: text, typed only when its key wants a number or a bool (a
    password such as ``0755`` or ``12:30`` must reach the Wallbox cloud as typed). It keeps the
    variable's name, so that an error names the variable, not the config file."""

    var: str

    def __new__(cls, text: str, var: str) -> _EnvText:
        self = super().__new__(cls, text)
        self.var = var
        return self


def _where(value: Any, key: str, source: str) -> str:  # who set key: "$VAR:" or "FILE: key"
    return f"${value.var}:" if isinstance(value, _EnvText) else f"{source}: {key}"


def _env_scalar(text: str) -> Any:
    """For number, bool and choice keys, environment values are YAML scalars (``60``, ``true``)."""
    try:
        value = yaml_scalar(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, dict | list) else value


def _build(raw: dict[str, dict[str, Any]], source: str, base: Config) -> Config:
    new_sections: dict[str, Any] = {}
    origins: dict[str, str] = {}  # dotted key -> who set it, for range errors
    for section, values in raw.items():
        cls = _SECTIONS.get(section)
        if cls is None:
            raise ConfigError(f"{source}: unknown section {section!r}")
        hints = typing.get_type_hints(cls)
        known = [f.name for f in fields(cls)]
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in hints:
                who = f"${value.var}:" if isinstance(value, _EnvText) else f"{source}:"
                raise ConfigError(f"{who} unknown key {section}.{key} (known: {', '.join(known)})")
            changes[key] = _coerce(value, hints[key], f"{section}.{key}", source)
            origins[f"{section}.{key}"] = _where(value, f"{section}.{key}", source)
        if changes:
            new_sections[section] = replace(getattr(base, section), **changes)
    cfg = replace(base, **new_sections)
    _check_ranges(cfg, origins)
    return cfg


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in _UNIONS:
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return _TYPES[tp][0] if tp in _TYPES else getattr(tp, "__name__", str(tp))


#: What a coercer returns for a value its type cannot take (None is a value: "unset").
_INVALID: Any = object()


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    """``value`` as the key's type ``tp``, or a ConfigError naming the key and the file."""
    origin = typing.get_origin(tp)
    if origin in _UNIONS:
        return _coerce_optional(value, tp, key, source)
    raw = value
    if isinstance(value, _EnvText):
        # Text keys take the text as typed; the others read it as a YAML scalar ("60", "true").
        value = str(value) if tp in (str, Secret) else _env_scalar(value)
    if origin is Literal:
        result = _to_choice(value, typing.get_args(tp))
    else:
        result = _TYPES[tp][1](value) if tp in _TYPES else _INVALID
    if result is _INVALID:
        raise _type_error(raw, tp, key, source)
    return result


def _coerce_optional(value: Any, tp: Any, key: str, source: str) -> Any:
    """``X | None``: empty means unset; otherwise the first member type that takes the value."""
    args = typing.get_args(tp)
    if (value is None or value == "") and type(None) in args:
        return None
    for arg in (a for a in args if a is not type(None)):
        with contextlib.suppress(ConfigError):
            return _coerce(value, arg, key, source)
    raise _type_error(value, tp, key, source)


def _to_choice(value: Any, choices: tuple[Any, ...]) -> Any:
    if isinstance(value, str) and value.upper() in choices:
        return value.upper()  # logging levels: "info" means INFO
    if value in choices and type(value) in {type(c) for c in choices}:
        return value
    return _INVALID


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_str(value: Any) -> Any:
    if isinstance(value, str) and value:
        return value
    return str(value) if _is_number(value) else _INVALID  # a numeric charger id is still an id


def _to_secret(value: Any) -> Any:
    if isinstance(value, Secret):
        return value
    text = isinstance(value, str | int) and not isinstance(value, bool) and str(value)
    return Secret(str(value)) if text else _INVALID


#: Per plain type a key may have: its name in messages and its coercer (``Literal`` choices and
#: ``X | None`` are above).
_TYPES: dict[Any, tuple[str, Callable[[Any], Any]]] = {
    bool: ("true or false", lambda v: v if isinstance(v, bool) else _INVALID),
    int: ("an integer", lambda v: v if _is_number(v) and isinstance(v, int) else _INVALID),
    float: ("a number", lambda v: float(v) if _is_number(v) and math.isfinite(v) else _INVALID),
    str: ("a string", _to_str),
    Secret: ("a string", _to_secret),
}


def _involves_secret(tp: Any) -> bool:
    return tp is Secret or any(_involves_secret(a) for a in typing.get_args(tp))


#: What a secret's value is, in an error that must not show the value.
_KINDS: dict[type, str] = {
    **{bool: "true or false", int: "a number", float: "a number"},
    **{list: "a list", dict: "a mapping"},
}


def _type_error(value: Any, tp: Any, key: str, source: str) -> ConfigError:
    if _involves_secret(tp) or any(w in key for w in ("password", "token", "secret")):
        kind = _KINDS.get(type(value), type(value).__name__)
        shown = f"{kind} (put it in quotes; it is a secret, so its value is not shown)"
    else:
        shown = repr(str(value) if isinstance(value, _EnvText) else value)
    return ConfigError(f"{_where(value, key, source)} must be {_type_name(tp)}, got {shown}")


def _check_ranges(cfg: Config, origins: dict[str, str]) -> None:
    """``origins``: who set a key (``$SCC_...:`` for a variable); else the config file."""
    problem = range_problem(cfg, origins)
    if problem is not None:
        raise ConfigError(problem)
