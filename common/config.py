"""Configuration: one YAML file plus ``SCC_<SECTION>__<KEY>`` environment overrides.

Every key is declared once, in the frozen dataclasses below; their types drive validation, so a typo
or a wrong type fails at start with one line naming the key and the file (docs/design.md,
"Contracts") instead of surfacing hours later as a charger that never starts.
"""

from __future__ import annotations

import math
import os
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(Exception):
    """A bad configuration: the message is one line that names the key and the file."""


class Secret:
    """A string that never shows itself in a repr, a log line or a page."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class StoreConfig:
    backend: Literal["sqlite", "influxdb"] = "sqlite"
    sqlite_path: str = "scc.db"


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
    # Comma-separated host names the page answers to besides its own (toggle_app/hosts.py), e.g.
    # a reverse proxy's "solar.example.com"; names a website cannot rebind are always accepted.
    allowed_hosts: str | None = None
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For/-Proto/-Host
    # the app believes (toggle_app/proxy.py); every other peer's forwarded headers are ignored.
    trusted_proxies: str | None = None


@dataclass(frozen=True)
class LoggingConfig:
    file: str | None = None
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class HealthConfig:
    # Rewritten once per loop iteration by the collector and controller, for Docker's
    # HEALTHCHECK (common/heartbeat.py); None writes nothing.
    heartbeat_file: str | None = None


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
        raw: dict[str, dict[str, Any]] = {s: {} for s in _sections()}
        for dotted, value in overrides.items():
            section, _, name = dotted.partition(".")
            raw.setdefault(section, {})[name] = value
        return _build(raw, self.source, base=self)


_ENV_PREFIX = "SCC_"


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in fields(Config) if f.name != "source"}


def default_path() -> Path:
    return Path(os.environ.get("SCC_CONFIG") or "config.yaml")


def load_config(  # noqa: C901 (split in progress)
    path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
) -> Config:
    """Load ``path`` (else $SCC_CONFIG, else ./config.yaml), then apply env overrides.

    A missing file is fine only when no path was given explicitly: a first run works on defaults.
    """
    env = dict(os.environ if env is None else env)
    explicit = path is not None or bool(env.get("SCC_CONFIG"))
    p = Path(path) if path is not None else Path(env.get("SCC_CONFIG") or "config.yaml")
    source = str(p)
    raw: dict[str, Any] = {}
    if p.exists() or explicit:
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{source}: cannot read config file: {e.strerror or e}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or "invalid YAML"
            raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of sections")
        raw = loaded
    else:
        source = f"{p} (not found: defaults)"
    sections = _sections()
    merged: dict[str, dict[str, Any]] = {}
    for section, value in raw.items():
        if section not in sections:
            raise ConfigError(
                f"{source}: unknown section {section!r} (known: {', '.join(sections)})"
            )
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {section} must be a mapping of keys")
        merged[section] = dict(value)
    for name, value in sorted(env.items()):
        if not name.startswith(_ENV_PREFIX) or "__" not in name or name == "SCC_CONFIG":
            continue
        section, _, key = name[len(_ENV_PREFIX) :].partition("__")
        section, key = section.lower(), key.lower()
        if section not in sections:
            raise ConfigError(f"${name}: unknown section {section!r}")
        merged.setdefault(section, {})[key] = _EnvText(value)
    # Names the InfluxDB tools use, accepted where the SCC_ names are not set.
    for env_name, key in (
        ("INFLUXDB_V2_URL", "url"),
        ("INFLUXDB_V2_ORG", "org"),
        ("INFLUXDB_V2_TOKEN", "token"),
        ("INFLUXDB_V2_BUCKET", "bucket"),
    ):
        if env.get(env_name) and key not in merged.get("influxdb", {}):
            merged.setdefault("influxdb", {})[key] = env[env_name]
    cfg = _build(merged, source, base=Config(source=source))
    if cfg.store.backend == "influxdb":
        cfg.require("influxdb.token")
    return cfg


class _EnvText(str):
    """A value from the environment: text, typed only when its key wants a number or a bool.

    A password such as ``0755`` or ``12:30`` must reach the Wallbox cloud as typed, not as the
    number YAML would make of it.
    """

    __slots__ = ()


def _env_scalar(text: str) -> Any:
    """For number, bool and choice keys, environment values are YAML scalars (``60``, ``true``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, dict | list) else value


def _build(raw: dict[str, dict[str, Any]], source: str, base: Config) -> Config:
    sections = _sections()
    new_sections: dict[str, Any] = {}
    for section, values in raw.items():
        cls = sections.get(section)
        if cls is None:
            raise ConfigError(f"{source}: unknown section {section!r}")
        hints = typing.get_type_hints(cls)
        known = [f.name for f in fields(cls)]
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in hints:
                raise ConfigError(
                    f"{source}: unknown key {section}.{key} (known: {', '.join(known)})"
                )
            changes[key] = _coerce(value, hints[key], f"{section}.{key}", source)
        if changes:
            new_sections[section] = replace(getattr(base, section), **changes)
    cfg = replace(base, **new_sections)
    _check_ranges(cfg)
    return cfg


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, "a secret string" if tp is Secret else getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:  # noqa: C901 (split in progress)
    origin = typing.get_origin(tp)
    if isinstance(value, _EnvText):
        if tp is str or tp is Secret:
            if not value:
                raise _type_error(value, tp, key, source)
            return str(value) if tp is str else Secret(str(value))
        if origin not in (typing.Union, types.UnionType):
            value = _env_scalar(value)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if (value is None or value == "") and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source)
            except ConfigError:
                continue
        raise _type_error(value, tp, key, source)
    if origin is Literal:
        if isinstance(value, str) and value.upper() in typing.get_args(tp):
            return value.upper()  # logging levels: "info" means INFO
        if value in typing.get_args(tp) and type(value) in {type(a) for a in typing.get_args(tp)}:
            return value
        raise _type_error(value, tp, key, source)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif tp is str:
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # a numeric charger id or org is still an id
    elif tp is Secret:
        if isinstance(value, Secret):
            return value
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return Secret(str(value))
    raise _type_error(value, tp, key, source)


def _involves_secret(tp: Any) -> bool:
    return tp is Secret or any(_involves_secret(a) for a in typing.get_args(tp))


def _type_error(value: Any, tp: Any, key: str, source: str) -> ConfigError:
    secret = _involves_secret(tp) or any(w in key for w in ("password", "token", "secret"))
    shown = "a secret" if secret else repr(str(value) if isinstance(value, _EnvText) else value)
    return ConfigError(f"{source}: {key} must be {_type_name(tp)}, got {shown}")


def _check_ranges(cfg: Config) -> None:  # noqa: C901 (split in progress)
    c, s = cfg.charging, cfg.source

    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{s}: {key} {why}")

    if cfg.meter.poll_interval_s < 0.5:
        raise bad("meter.poll_interval_s", "must be at least 0.5 (HomeWizard's advised limit)")
    if cfg.meter.timeout_s <= 0:
        raise bad("meter.timeout_s", "must be positive")
    if cfg.wallbox.timeout_s <= 0:
        raise bad("wallbox.timeout_s", "must be positive")
    if c.min_current_a < 6:
        raise bad("charging.min_current_a", "must be at least 6 (the Wallbox minimum)")
    if c.max_current_a < c.min_current_a:
        raise bad("charging.max_current_a", f"must be at least min_current_a ({c.min_current_a})")
    if c.max_current_a > 32:
        raise bad("charging.max_current_a", "must be at most 32")
    if c.voltage_v <= 0:
        raise bad("charging.voltage_v", "must be positive")
    if c.watts_per_amp is not None and c.watts_per_amp <= 0:
        raise bad("charging.watts_per_amp", "must be positive")
    for key in ("window_s", "interval_s"):
        if getattr(c, key) <= 0:
            raise bad(f"charging.{key}", "must be positive")
    for key in ("start_delay_s", "stop_delay_s"):
        if getattr(c, key) < 0:
            raise bad(f"charging.{key}", "must not be negative")
    if not 0 < cfg.toggle_app.port < 65536:
        raise bad("toggle_app.port", "must be a TCP port (1-65535)")
