"""Config loading: defaults, file, env overrides, and one clear line for every kind of mistake."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.config import Config, ConfigError, Secret, load_config

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_when_no_file_and_no_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={})
    assert cfg.source == "config.yaml (not found: defaults)"
    assert cfg.store.backend == "sqlite"
    assert cfg.charging.min_current_a == 6
    assert cfg.charging.max_current_a == 16
    assert cfg.charging.window_s == 15.0
    assert (cfg.charging.start_delay_s, cfg.charging.stop_delay_s) == (60.0, 180.0)
    assert cfg.charging.interval_s == 10.0
    assert cfg.charging.solar_share_target == 0.975
    assert cfg.wallbox.timeout_s > 0


def test_example_config_loads_and_documents_every_key():
    example = REPO / "config.example.yaml"
    cfg = load_config(example, env={"SCC_INFLUXDB__TOKEN": "t"})
    assert cfg.source == str(example)
    text = example.read_text(encoding="utf-8")
    import dataclasses

    for section in dataclasses.fields(Config):
        if section.name in ("source", "set_keys"):  # not sections
            continue
        assert f"{section.name}:" in text, section.name
        for key in dataclasses.fields(getattr(cfg, section.name)):
            assert f"  {key.name}:" in text or f"  # {key.name}:" in text, (
                f"{section.name}.{key.name} is not documented in config.example.yaml"
            )


def test_file_values_are_typed(tmp_path):
    p = write(
        tmp_path,
        "charging:\n  phases: 1\n  voltage_v: 230\n  max_current_a: 20\n"
        "wallbox:\n  username: a@b.be\n  password: hunter2\n  charger_id: 9988552\n",
    )
    cfg = load_config(p, env={})
    assert cfg.charging.phases == 1
    assert cfg.charging.voltage_v == 230.0 and isinstance(cfg.charging.voltage_v, float)
    assert cfg.wallbox.charger_id == "9988552"
    assert isinstance(cfg.wallbox.password, Secret)
    assert cfg.wallbox.password.get() == "hunter2"


@pytest.mark.parametrize(
    ("phases", "voltage_v", "override", "expected_w_per_a"),
    [
        (1, 230.0, None, 230.0),  # 1-phase 230 V
        (3, 400.0, None, math.sqrt(3) * 400),  # 3N~400 V: 692.8 W/A
        (3, 230.0, None, math.sqrt(3) * 230),  # Belgian 3x230 V delta: 398.4 W/A
        (3, 400.0, 690.0, 690.0),  # explicit override wins
    ],
)
def test_watts_per_amp(tmp_path, phases, voltage_v, override, expected_w_per_a):
    text = f"charging:\n  phases: {phases}\n  voltage_v: {voltage_v}\n"
    if override is not None:
        text += f"  watts_per_amp: {override}\n"
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.charging.effective_watts_per_amp == pytest.approx(expected_w_per_a)


def test_belgian_delta_numbers():
    cfg = load_config(env={"SCC_CHARGING__VOLTAGE_V": "230"}, path=None)
    assert round(cfg.charging.effective_watts_per_amp) == 398


def test_env_overrides_file_and_is_typed(tmp_path):
    p = write(tmp_path, "charging:\n  interval_s: 60\n")
    cfg = load_config(
        p,
        env={
            "SCC_CHARGING__INTERVAL_S": "30",
            "SCC_METER__VERIFY_TLS": "false",
            "SCC_WALLBOX__PASSWORD": "s3cret",
            "SCC_TOGGLE_APP__PORT": "9000",
        },
    )
    assert cfg.charging.interval_s == 30.0
    assert cfg.meter.verify_tls is False
    assert cfg.wallbox.password == Secret("s3cret")
    assert cfg.toggle_app.port == 9000


def test_scc_config_env_names_the_file(tmp_path):
    p = write(tmp_path, "charging:\n  max_current_a: 10\n")
    cfg = load_config(env={"SCC_CONFIG": str(p)})
    assert cfg.charging.max_current_a == 10


def test_influxdb_v2_env_names_are_accepted(tmp_path):
    cfg = load_config(
        write(tmp_path, "store:\n  backend: influxdb\n"),
        env={"INFLUXDB_V2_URL": "http://db:8086", "INFLUXDB_V2_TOKEN": "tok"},
    )
    assert cfg.influxdb.url == "http://db:8086"
    assert cfg.influxdb.token.get() == "tok"


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("charging:\n  max_curent_a: 10\n", {}, "unknown key charging.max_curent_a"),
        ("chargin:\n  max_current_a: 10\n", {}, "unknown section 'chargin'"),
        ("charging:\n  max_current_a: ten\n", {}, "charging.max_current_a must be an integer"),
        ("charging:\n  max_current_a: 10.5\n", {}, "charging.max_current_a must be an integer"),
        ("charging:\n  phases: 2\n", {}, "charging.phases must be one of 1, 3"),
        ("meter:\n  verify_tls: yes please\n", {}, "meter.verify_tls must be true or false"),
        ("meter:\n  api: v3\n", {}, "meter.api must be one of 'v1', 'v2'"),
        ("store:\n  backend: influxdb\n", {}, "influxdb.token is required"),
        ("charging:\n  min_current_a: 4\n", {}, "charging.min_current_a must be at least 6"),
        (
            "charging:\n  min_current_a: 10\n  max_current_a: 8\n",
            {},
            "charging.max_current_a must be at least min_current_a",
        ),
        ("meter:\n  poll_interval_s: 0.2\n", {}, "meter.poll_interval_s must be at least 0.5"),
        ("charging: [1, 2]\n", {}, "charging must be a mapping"),
        ("- just\n- a list\n", {}, "top level must be a mapping"),
        ("charging:\n  interval_s: 60\n   window_s: 1\n", {}, "invalid YAML at line"),
        ("", {"SCC_CHARGING__WINDOW": "60"}, "unknown key charging.window"),
        ("", {"SCC_NOPE__X": "1"}, "unknown section 'nope'"),
    ],
)
def test_mistakes_name_the_key_and_the_file(tmp_path, text, env, needle):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p, env=env)
    msg = str(e.value)
    assert needle in msg
    assert "\n" not in msg
    if not any(k.startswith("SCC_") for k in env):
        assert str(p) in msg


@pytest.mark.parametrize(
    ("text", "env", "line"),
    [
        # One key set against the other's default: who set it is named, the other as a default.
        (
            "",
            {"SCC_CHARGING__MIN_CURRENT_A": "20"},
            "$SCC_CHARGING__MIN_CURRENT_A: charging.max_current_a (16 by default) must be at "
            "least min_current_a (20)",
        ),
        (
            "charging:\n  min_current_a: 20\n",
            {},
            "FILE: charging.max_current_a (16 by default) must be at least min_current_a (20)",
        ),
        (
            "",
            {"SCC_STORE__RAW_DAYS": "1000"},
            "$SCC_STORE__RAW_DAYS: store.rollup_days (730 by default) must be at least "
            "raw_days (1000)",
        ),
        # Both set: the key the rule is about, as before.
        (
            "charging:\n  max_current_a: 8\n",
            {"SCC_CHARGING__MIN_CURRENT_A": "10"},
            "FILE: charging.max_current_a must be at least min_current_a (10)",
        ),
        # One underscore where two belong: said, not ignored.
        (
            "",
            {"SCC_CHARGING_MIN_CURRENT_A": "8"},
            "$SCC_CHARGING_MIN_CURRENT_A: did you mean SCC_CHARGING__MIN_CURRENT_A? (two "
            "underscores between section and key)",
        ),
        (
            "",
            {"SCC_TOGGLE_APP_PASSWORD": "x"},
            "$SCC_TOGGLE_APP_PASSWORD: did you mean SCC_TOGGLE_APP__PASSWORD? (two underscores "
            "between section and key)",
        ),
    ],
)
def test_a_mistake_in_the_environment_blames_the_variable(tmp_path, text, env, line):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p, env=env)
    assert str(e.value) == line.replace("FILE", str(p))


def test_scc_names_that_are_no_config_key_stay_ignored(tmp_path):
    """The scripts' SCC_VENV and a user's own SCC_ names are not ours."""
    cfg = load_config(write(tmp_path, ""), env={"SCC_VENV": ".venv", "SCC_X": "1"})
    assert cfg.charging.min_current_a == 6


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml", env={})


def test_secrets_never_show(tmp_path):
    p = write(tmp_path, "wallbox:\n  password: hunter2\ntoggle_app:\n  password: pin1234\n")
    cfg = load_config(p, env={"SCC_INFLUXDB__TOKEN": "tok-abc"})
    shown = repr(cfg) + str(cfg)
    for secret in ("hunter2", "pin1234", "tok-abc"):
        assert secret not in shown
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "wallbox:\n  password: [1, 2]\n"), env={})
    assert "secret" in str(e.value)


def test_require_names_the_env_variable(tmp_path):
    cfg = load_config(write(tmp_path, "wallbox:\n  username: a@b.be\n"), env={})
    with pytest.raises(ConfigError, match=r"wallbox.password is required.*SCC_WALLBOX__PASSWORD"):
        cfg.require("wallbox.username", "wallbox.password")


def test_with_overrides_validates(tmp_path):
    cfg = load_config(write(tmp_path, ""), env={})
    assert cfg.with_overrides({"charging.start_delay_s": 30}).charging.start_delay_s == 30.0
    with pytest.raises(ConfigError, match=r"unknown key charging\.start_delay"):
        cfg.with_overrides({"charging.start_delay": 30})


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path):
    p = write(tmp_path, "charging:\n  max_current_a: lots\n")
    out = subprocess.run(
        [sys.executable, "-m", "scc.cli", "status", "--config", str(p)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "charging.max_current_a" in lines[0] and str(p) in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("secret", ["0755", "1_000", "0x1F", "12:30", "+49", "3.14", "yes", "null"])
def test_secrets_from_the_environment_arrive_as_typed(tmp_path, secret):
    cfg = load_config(
        write(tmp_path, ""),
        env={
            "SCC_WALLBOX__PASSWORD": secret,
            "SCC_TOGGLE_APP__PASSWORD": secret,
            "SCC_WALLBOX__USERNAME": secret,
        },
    )
    assert cfg.wallbox.password.get() == secret
    assert cfg.toggle_app.password.get() == secret
    assert cfg.wallbox.username == secret


def test_empty_env_value_unsets_an_optional_key(tmp_path):
    cfg = load_config(
        write(tmp_path, "wallbox:\n  charger_id: '123'\n"),
        env={"SCC_WALLBOX__CHARGER_ID": "", "SCC_METER__TOKEN": ""},
    )
    assert cfg.wallbox.charger_id is None and cfg.meter.token is None


def test_a_bad_secret_value_is_never_echoed(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "toggle_app:\n  secret_key: [12.5]\n"), env={})
    assert "12.5" not in str(e.value) and "a secret" in str(e.value)


def test_the_charger_kind_and_the_ocpp_section(tmp_path):
    cfg = load_config(write(tmp_path, "{}\n"), env={})
    assert cfg.charger.kind == "wallbox_cloud" and cfg.charging.interval_s == 10.0
    assert (cfg.ocpp.host, cfg.ocpp.port, cfg.ocpp.charge_point_id, cfg.ocpp.password) == (
        "0.0.0.0",
        8887,
        None,
        None,
    )
    env = {
        "SCC_CHARGER__KIND": "ocpp",
        "SCC_OCPP__PORT": "9000",
        "SCC_OCPP__CHARGE_POINT_ID": "123456",
        "SCC_OCPP__PASSWORD": "0755",
    }
    cfg = load_config(write(tmp_path, "{}\n"), env=env)
    assert cfg.charger.kind == "ocpp" and cfg.ocpp.port == 9000
    assert cfg.ocpp.charge_point_id == "123456" and cfg.ocpp.password == Secret("0755")
    assert "0755" not in repr(cfg.ocpp)


def test_with_ocpp_the_cycle_and_window_default_to_local_speed_unless_set(tmp_path):
    ocpp = load_config(write(tmp_path, "charger:\n  kind: ocpp\n"), env={})
    assert (ocpp.charging.interval_s, ocpp.charging.window_s) == (10.0, 20.0)
    pinned = load_config(
        write(tmp_path, "charger:\n  kind: ocpp\ncharging:\n  interval_s: 30\n"),
        env={"SCC_CHARGING__WINDOW_S": "90"},
    )
    assert (pinned.charging.interval_s, pinned.charging.window_s) == (30.0, 90.0)
    # An override (scc replay --set) switches the defaults with the kind, never a set value.
    cloud = load_config(write(tmp_path, "charging:\n  window_s: 45\n"), env={})
    local = cloud.with_overrides({"charger.kind": "ocpp"})
    assert (local.charging.interval_s, local.charging.window_s) == (10.0, 45.0)
    back = local.with_overrides({"charger.kind": "wallbox_cloud"})
    assert (back.charging.interval_s, back.charging.window_s) == (10.0, 45.0)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("charger:\n  kind: modbus\n", "charger.kind must be one of 'wallbox_cloud', 'ocpp'"),
        ("ocpp:\n  port: 70000\n", "ocpp.port must be a TCP port (1-65535)"),
        ("ocpp:\n  port: 0\n", "ocpp.port must be a TCP port (1-65535)"),
        ("ocpp:\n  port: 8887.5\n", "ocpp.port must be an integer"),
        ("ocpp:\n  password: &p x\n  charge_point_id: *p\n", "aliases (*name) are not allowed"),
        ("ocpp:\n  pasword: x\n", "unknown key ocpp.pasword"),
    ],
)
def test_bad_ocpp_settings_are_one_line(tmp_path, yaml_text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, yaml_text), env={})


# -- hostile and mistaken files: one line each, quickly ----------------------------------------
BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "wallbox:\n  username: *i\n"
)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    p = write(tmp_path, BOMB)
    assert len(BOMB.encode()) < 600  # a billion x's once expanded
    started = time.monotonic()
    with pytest.raises(ConfigError) as e:
        load_config(p, env={})
    assert time.monotonic() - started < 1.0
    assert (
        str(e.value)
        == f"{p}: invalid YAML at line 2: aliases (*name) are not allowed in the config"
    )


def test_an_alias_bomb_in_an_environment_value_is_just_a_wrong_value(tmp_path):
    text = "[&a [1, 1, 1, 1, 1, 1, 1, 1], [*a, *a, *a, *a, *a, *a, *a, *a]]"
    with pytest.raises(
        ConfigError, match=r"^\$SCC_CHARGING__WINDOW_S|charging.window_s must be a number"
    ):
        load_config(write(tmp_path, ""), env={"SCC_CHARGING__WINDOW_S": text})


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (
            "meter:\n  url: http://caf\u00e9.local\n".encode("latin-1"),
            "not UTF-8 text (byte 0xe9 at line 2); save the file as UTF-8",
        ),
        (b"charging:\n  window_s: 60\n\xff\xfe", "not UTF-8 text (byte 0xff at line 3)"),
        (("[" * 20_000 + "]" * 20_000).encode(), "invalid YAML: nested too deeply"),
        (b"# " + b"x" * 1_000_001, "larger than 1000000 bytes: not a config file"),
        (b"charging:\n  window_s: \x00\n", "invalid YAML"),
    ],
)
def test_a_file_that_is_no_config_is_one_line(tmp_path, content, needle):
    p = tmp_path / "config.yaml"
    p.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        load_config(p, env={})
    assert needle in str(e.value) and str(p) in str(e.value)
    assert "\n" not in str(e.value)


def test_a_latin1_file_exits_2_with_one_line_not_a_traceback(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_bytes("wallbox:\n  username: andr\u00e9@example.be\n".encode("latin-1"))
    out = subprocess.run(
        [sys.executable, "-m", "scc.cli", "status", "--config", str(p)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"scc: config error: {p}: not UTF-8 text (byte 0xe9 at line 2); save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("charging:\n  interval_s: 0.001\n", "charging.interval_s must be at least 1"),
        ("charging:\n  interval_s: 1000000000000\n", "charging.interval_s must be at most 3600"),
        ("charging:\n  interval_s: 1.0e+12\n", "charging.interval_s must be at most 3600"),
        ("charging:\n  window_s: 0\n", "charging.window_s must be at least 1"),
        ("charging:\n  window_s: 1.0e+12\n", "charging.window_s must be at most 3600"),
        ("charging:\n  start_delay_s: 1.0e+12\n", "charging.start_delay_s must be at most 86400"),
        ("charging:\n  stop_delay_s: -1\n", "charging.stop_delay_s must be at least 0"),
        ("meter:\n  poll_interval_s: 1.0e+12\n", "meter.poll_interval_s must be at most 3600"),
        ("meter:\n  timeout_s: 0\n", "meter.timeout_s must be at least 0.1"),
        ("meter:\n  timeout_s: 1.0e+12\n", "meter.timeout_s must be at most 60"),
        ("wallbox:\n  timeout_s: 0.01\n", "wallbox.timeout_s must be at least 1"),
        ("wallbox:\n  timeout_s: 100000\n", "wallbox.timeout_s must be at most 300"),
        ("store:\n  raw_days: 0.5\n", "store.raw_days must be at least 1"),
        (
            "store:\n  raw_days: 30\n  rollup_days: 10\n",
            "store.rollup_days must be at least raw_days (30)",
        ),
        ("store:\n  rollup_days: 1.0e+12\n", "store.rollup_days must be at most 36500"),
        ("health:\n  store_stall_s: 1\n", "health.store_stall_s must be at least 5"),
    ],
)
def test_every_duration_is_bounded(tmp_path, text, needle):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p, env={})
    assert str(e.value) == f"{p}: {needle}" or str(e.value).startswith(f"{p}: {needle}")


def test_durations_are_bounded_from_the_environment_too(tmp_path):
    with pytest.raises(ConfigError, match=r"^\$SCC_CHARGING__INTERVAL_S: must be at least 1$"):
        load_config(write(tmp_path, ""), env={"SCC_CHARGING__INTERVAL_S": "0.001"})


def test_the_ocpp_port_is_bounded_from_the_environment_too(tmp_path):
    with pytest.raises(ConfigError, match=r"^\$SCC_OCPP__PORT: must be a TCP port \(1-65535\)$"):
        load_config(write(tmp_path, ""), env={"SCC_OCPP__PORT": "0"})
