"""``scc check-env``: every missing or malformed value of the compose settings (``.env``) at
once, and whether the meter answers, before ``docker compose up``.

docker compose names one missing ``${NAME:?}`` value per run, inside a dump of the environment,
and knows nothing of what a value must look like; the services then stop on a bad one, one at a
time. This check reads the file as compose does (comments, quotes, ``$`` substitution outside
single quotes), checks each value with the rules the services apply (``common.config`` for the
values that become ``SCC_`` variables), and lists every problem in one run. It needs no Docker:
it runs in the project's virtualenv, or in the image with the file on stdin. ``SETTINGS``
mirrors docker-compose.yml; tests/test_check_env.py holds the two together.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from collector.errors import MeterError
from collector.homewizard import HomeWizardClient, normalize_url
from collector.service import format_reading
from common.config import ConfigError, load_config

EXIT_PROBLEMS = 1
EXIT_BAD_INPUT = 2
METER_TIMEOUT_S = 5.0

Values = Mapping[str, str]
#: A rule: the value and all values (for rules across two) -> what is wrong, or None.
Check = Callable[[str, Values], str | None]


@dataclass(frozen=True, slots=True)
class Setting:
    """One name in ``.env``: what goes there, and the rule its value must follow."""

    name: str
    what: str
    required: bool = False
    #: The ``SCC_`` variable docker-compose.yml hands the value to, checked as the service does.
    variable: str | None = None
    check: Check | None = None
    secret: bool = False


@dataclass(frozen=True, slots=True)
class EnvValue:
    text: str
    line: int
    #: Single-quoted: compose takes it literally (no ``$`` substitution).
    literal: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    text: str

    def __str__(self) -> str:
        return f"  {self.where:<24} {self.text}"


# -- rules -------------------------------------------------------------------------------------


def _config_rule(variable: str) -> Check:
    """The check the service's config makes of ``$variable`` (types, choices, ranges)."""

    def check(text: str, values: Values) -> str | None:
        try:
            load_config(os.devnull, env={variable: text})  # no config file, as in the image
        except ConfigError as e:
            why = str(e).removeprefix(f"${variable}: ")
            return re.sub(r", got .*$", "", why)  # the value is shown once, by the caller
        return None

    return check


def _meter_url(text: str, values: Values) -> str | None:
    try:
        normalize_url(text, values.get("METER_API") or "v1")
    except ValueError as e:  # "meter.url 'x': why" -> "why"
        return re.sub(r"^meter\.url '[^']*'(: )?", "", str(e))
    return None


def _email(text: str, values: Values) -> str | None:
    return None if "@" in text else "the myWallbox login is an e-mail address"


def _influx_token(text: str, values: Values) -> str | None:
    if any(c.isspace() for c in text):
        return "must not contain spaces"
    if len(text) < 8:  # InfluxDB's setup refuses shorter passwords, and this is its password too
        return (
            "too short: InfluxDB's first start also makes it the admin password, which needs "
            "8 characters at least; make one with: openssl rand -hex 32"
        )
    return None


def _meter_api(text: str, values: Values) -> str | None:
    if text == "v2" and not values.get("METER_TOKEN"):
        return "v2 needs METER_TOKEN (the token the meter gives after its button is pressed)"
    return _config_rule("SCC_METER__API")(text, values)


def _timezone(text: str, values: Values) -> str | None:
    if not zoneinfo.available_timezones():
        return None  # no time zone data here to check against (a slim image)
    if text in zoneinfo.available_timezones():
        return None
    return "not a time zone name (like Europe/Brussels)"


def _retention(text: str, values: Values) -> str | None:
    if re.fullmatch(r"0|(\d+(ns|us|µs|ms|s|m|h|d|w))+", text):
        return None
    return "not an InfluxDB duration (like 104w, 30d or 0 for forever)"


def _port(text: str, values: Values) -> str | None:
    if text.isdigit() and 0 < int(text) < 65536:
        return None
    return "not a TCP port (1-65535)"


def _ports_differ(text: str, values: Values) -> str | None:
    if values.get("GRAFANA_PORT", "3000") == text:
        return "the same port as GRAFANA_PORT: both are published on this machine"
    return _port(text, values)


def _bool(text: str, values: Values) -> str | None:
    ok = {"1", "t", "T", "true", "TRUE", "True", "0", "f", "F", "false", "FALSE", "False"}
    return None if text in ok else "must be true or false"


#: The names docker-compose.yml reads from .env, in .env.example's order.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "METER_URL",
        "http:// and the P1 meter's address, e.g. http://192.168.1.50",
        required=True,
        variable="SCC_METER__URL",
        check=_meter_url,
    ),
    Setting(
        "WALLBOX_USERNAME",
        "the e-mail address you log in to the myWallbox app with",
        required=True,
        variable="SCC_WALLBOX__USERNAME",
        check=_email,
    ),
    Setting(
        "WALLBOX_PASSWORD",
        "the password of your myWallbox account",
        required=True,
        variable="SCC_WALLBOX__PASSWORD",
        secret=True,
    ),
    Setting(
        "ADMIN_PASSWORD",
        "a password you choose, for the Grafana admin user and the phone page",
        required=True,
        variable="SCC_TOGGLE_APP__PASSWORD",
        secret=True,
    ),
    Setting(
        "INFLUXDB_TOKEN",
        "a long random string nobody types: openssl rand -hex 32",
        required=True,
        variable="SCC_INFLUXDB__TOKEN",
        check=_influx_token,
        secret=True,
    ),
    Setting(
        "WALLBOX_CHARGER_ID", "the charger's serial number", variable="SCC_WALLBOX__CHARGER_ID"
    ),
    Setting("CHARGING_PHASES", "1 or 3", variable="SCC_CHARGING__PHASES"),
    Setting("CHARGING_VOLTAGE_V", "230 or 400", variable="SCC_CHARGING__VOLTAGE_V"),
    Setting("CHARGING_MAX_CURRENT_A", "6-32", variable="SCC_CHARGING__MAX_CURRENT_A"),
    Setting("METER_API", "v1 or v2", variable="SCC_METER__API", check=_meter_api),
    Setting("METER_TOKEN", "the v2 token", variable="SCC_METER__TOKEN", secret=True),
    Setting("TZ", "a time zone", check=_timezone),
    Setting("INFLUXDB_RETENTION", "how long InfluxDB keeps data", check=_retention),
    Setting("GRAFANA_PORT", "a TCP port", check=_port),
    Setting("TOGGLE_PORT", "a TCP port", check=_ports_differ),
    Setting("GRAFANA_ANONYMOUS", "true or false", check=_bool),
    Setting(
        "TOGGLE_ALLOWED_HOSTS",
        "more host names for the phone page, comma-separated",
        variable="SCC_TOGGLE_APP__ALLOWED_HOSTS",
    ),
    Setting(
        "TOGGLE_TRUSTED_PROXIES",
        "the reverse proxy's networks, comma-separated",
        variable="SCC_TOGGLE_APP__TRUSTED_PROXIES",
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


# -- reading .env as docker compose does --------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTED = {q: re.compile(rf"{q}((?:\\.|[^{q}\\])*){q}\s*(#.*)?") for q in ("'", '"')}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def parse_env(text: str) -> tuple[dict[str, EnvValue], list[Problem]]:
    """``NAME=value`` lines: comments, ``export``, quotes and inline comments as compose reads
    them (a later line wins). A line that is none of these is a problem; its text is not shown,
    as it may be a pasted password."""
    values: dict[str, EnvValue] = {}
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, rest = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not eq or not _NAME.fullmatch(name):
            problems.append(Problem(f"line {number}", "not NAME=value (nor a # comment)"))
            continue
        values[name] = _value(rest.strip(), number)
    return values, problems


def _value(text: str, line: int) -> EnvValue:
    quote = text[:1]
    m = _QUOTED[quote].fullmatch(text) if quote in _QUOTED else None
    if m is None:  # unquoted: an inline comment starts at a # after a space
        return EnvValue(re.split(r"\s#", text, maxsplit=1)[0].strip(), line)
    inner = m.group(1)
    if quote == "'":
        return EnvValue(re.sub(r"\\(')", r"\1", inner), line, literal=True)
    return EnvValue(re.sub(r"\\(.)", lambda e: _ESCAPES.get(e[1], e[1]), inner), line)


# -- the check ---------------------------------------------------------------------------------


def check_values(values: Mapping[str, EnvValue]) -> list[Problem]:
    """Every problem with the values, in SETTINGS order; none means compose can start."""
    texts = {name: v.text for name, v in values.items()}
    problems = []
    for s in SETTINGS:
        value = values.get(s.name)
        if value is None or not value.text:
            if s.required:
                problems.append(Problem(s.name, f"missing: {s.what}"))
            continue
        why = _why(s, value, texts)
        if why is not None:
            shown = "(value not shown)" if s.secret else repr(value.text)
            problems.append(Problem(s.name, f"line {value.line}, {shown}: {why}"))
    return problems


def _why(s: Setting, value: EnvValue, texts: Values) -> str | None:
    if "$" in value.text and not value.literal:
        return "has a $, which docker compose replaces with a variable: put it in single quotes"
    for rule in (s.check, _config_rule(s.variable) if s.variable else None):
        why = rule(value.text, texts) if rule is not None else None
        if why is not None:
            return why
    return None


def _text(values: Mapping[str, EnvValue], name: str) -> str:
    value = values.get(name)
    return "" if value is None else value.text


def meter_answers(values: Mapping[str, EnvValue]) -> tuple[str | None, str]:
    """(a problem, or None; the line to print): one reading from METER_URL, as the collector."""
    url = values["METER_URL"].text
    api: Literal["v1", "v2"] = "v2" if _text(values, "METER_API") == "v2" else "v1"
    token = _text(values, "METER_TOKEN") or None
    client = HomeWizardClient(url, api, token, timeout_s=METER_TIMEOUT_S)
    try:
        reading = client.read()
    except MeterError as e:
        return f"the meter does not answer: {e}", ""
    finally:
        client.close()
    return (
        None,
        f"meter: {client.base_url} answers: {format_reading(reading)} (meter {reading.meter})",
    )


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def run_cli(args: argparse.Namespace) -> int:
    path = getattr(args, "env_file", None) or ".env"
    try:
        text = _read(path)
    except (OSError, UnicodeDecodeError) as e:
        hint = " (cp .env.example .env, then fill it in)" if path == ".env" else ""
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"scc check-env: cannot read {path}: {reason}{hint}", file=sys.stderr)
        return EXIT_BAD_INPUT
    source = "stdin" if path == "-" else path
    values, problems = parse_env(text)
    problems += check_values(values)
    meter = _meter(values, problems, skip=getattr(args, "no_meter", False))
    required = sum(s.required for s in SETTINGS)
    print(f"Checking {source}: {len(SETTINGS)} settings, {required} of them required")
    for line in [*map(str, problems), *_unknown(values), meter]:
        print(line)
    if problems:
        print(
            f"{len(problems)} problem(s) in {source}: fix them all, then run scc check-env again."
        )
        return EXIT_PROBLEMS
    print(f"{source} is complete: start the stack with docker compose up -d")
    return 0


def _unknown(values: Mapping[str, EnvValue]) -> list[str]:
    """Names compose reads from .env for nothing here (COMPOSE_ and DOCKER_ are compose's own)."""
    return [
        f"  {name:<24} line {v.line}: not a name docker-compose.yml reads (a typo?)"
        for name, v in values.items()
        if name not in BY_NAME and not name.startswith(("COMPOSE_", "DOCKER_"))
    ]


def _meter(values: Mapping[str, EnvValue], problems: list[Problem], skip: bool) -> str:
    """One reading from the meter, unless skipped or its settings are wrong (adds a problem)."""
    if skip:
        return "meter: not tried (--no-meter)"
    if any(p.where in ("METER_URL", "METER_API", "METER_TOKEN") for p in problems):
        return "meter: not tried until METER_URL, METER_API and METER_TOKEN are right"
    problem, line = meter_answers(values)
    if problem is None:
        return line
    problems.append(Problem("METER_URL", problem))
    return "meter: no answer (see METER_URL above)"
