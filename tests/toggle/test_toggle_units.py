"""Pure parts of the toggle app: formatting, stale rules, the login throttle, credentials, keys."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from common.config import Config, Secret, StoreConfig, ToggleAppConfig
from common.models import Action, ChargerState, Decision, Mode, ModeChange, Reading, Status
from tests.toggle.helpers import T0
from toggle_app.security import (
    SECRET_KEY_FILE,
    credentials_from_header,
    password_matches,
    resolve_secret_key,
)
from toggle_app.throttle import LoginThrottle
from toggle_app.view import ViewSettings, derive, format_age, format_w

SETTINGS = ViewSettings(poll_interval_s=1.0, interval_s=60.0, min_current_a=6, watts_per_amp=230)


@pytest.mark.parametrize(
    ("watts", "text"),
    [
        (None, "–"),
        (0.4, "0 W"),
        (-0.4, "0 W"),
        (-2100.0, "\u22122\u202f100 W"),
        (999.6, "1\u202f000 W"),
        (12345678, "12\u202f345\u202f678 W"),
    ],
)
def test_format_w(watts, text):
    assert format_w(watts) == text


@pytest.mark.parametrize(
    ("age_s", "text"),
    [(None, "never"), (-3, "just now"), (4.9, "just now"), (5, "5 s ago"), (119, "119 s ago"),
     (120, "2 min ago"), (7199, "120 min ago"), (7200, "2 h ago"), (3 * 86400, "3 days ago")],
)  # fmt: skip
def test_format_age(age_s, text):
    assert format_age(age_s) == text


def status(
    *,
    reading_age_s: float | None = 0.0,
    mean_w: float | None = -1500.0,
    decision_age_s: float | None = 10.0,
    decision_mode: Mode = Mode.SOLAR,
    mode: ModeChange | None = None,
    charger_w: float | None = 1380.0,
) -> Status:
    return Status(
        now=T0,
        latest_reading=None
        if reading_age_s is None
        else Reading(ts=T0 - timedelta(seconds=reading_age_s), active_power_w=-1500.0),
        grid_power_mean_w=mean_w,
        window_s=120.0,
        mode=mode,
        last_decision=None
        if decision_age_s is None
        else Decision(
            ts=T0 - timedelta(seconds=decision_age_s),
            mode=decision_mode,
            action=Action.HOLD,
            reason="hold",
            target_a=6,
        ),
        charger=None
        if charger_w is None
        else ChargerState(
            ts=T0, charger_id="1", status_id=194, status="Charging", current_a=6, power_w=charger_w
        ),
        today=None,
    )


def test_surplus_is_charger_draw_minus_grid_mean():
    v = derive(status(), SETTINGS, T0)
    assert v["surplus_w"] == 1380.0 + 1500.0
    assert v["display"]["surplus_sub"] == "enough for 12 A"  # 2880 / 230 = 12.5
    assert v["tones"] == {"grid_now": "good", "grid_mean": "good", "surplus": "good"}
    short = derive(status(mean_w=1000.0, charger_w=None), SETTINGS, T0)
    assert short["surplus_w"] == -1000.0 and short["charger_power_w"] is None
    assert short["display"]["surplus_sub"] == "below the 6 A minimum"
    assert short["tones"]["grid_mean"] == "warn" and short["tones"]["surplus"] == ""


def test_a_new_mode_is_pending_until_the_controller_decides_in_it():
    changed = ModeChange(ts=T0 - timedelta(seconds=5), mode=Mode.MANUAL, source="phone")
    v = derive(status(decision_age_s=10.0, mode=changed), SETTINGS, T0)
    assert v["mode_applied"] is False and v["solar_on"] is False
    assert v["next_cycle_in_s"] == 50.0
    assert v["display"]["pending"] == "The controller acts at its next cycle, within 50 s."
    assert v["display"]["mode_who"] == "Mode set by phone 5 s ago."
    v = derive(status(decision_age_s=2.0, decision_mode=Mode.MANUAL, mode=changed), SETTINGS, T0)
    assert v["mode_applied"] is True
    assert v["display"]["pending"] == "The controller follows this mode (last cycle just now)."
    overdue = derive(status(decision_age_s=61.0, mode=changed), SETTINGS, T0)
    assert overdue["next_cycle_in_s"] == 0.0
    assert overdue["display"]["pending"] == "The controller acts at its next cycle, any moment now."
    gone = derive(status(decision_age_s=600.0, mode=changed), SETTINGS, T0)
    assert gone["display"]["pending"].startswith("The controller is not deciding")


def test_stale_meter_greys_the_grid_number_and_explains():
    v = derive(status(reading_age_s=11.0), SETTINGS, T0)
    assert v["meter_stale"] is True and v["tones"]["grid_now"] == "stale"
    assert v["display"]["banner"] == (
        "Meter data is stale: last reading 11 s ago (expected every 1 s). "
        "Solar charging pauses until it returns."
    )
    both = derive(status(reading_age_s=None, decision_age_s=None), SETTINGS, T0)
    assert both["display"]["banner"].split("\n") == [
        "No meter data yet: solar charging waits for the first readings.",
        "The controller has not decided anything yet. Is it running?",
    ]


# --- security ----------------------------------------------------------------------------


def test_password_matches():
    assert password_matches("pässwörd", "pässwörd")
    assert not password_matches("pässwörd", "passwörd")
    assert not password_matches("", "x")
    assert not password_matches("x" * 1000, "x")


def test_credentials_from_header():
    b64 = base64.b64encode(b"user:pa:ss").decode()
    assert credentials_from_header(None) is None
    assert credentials_from_header("") is None
    assert credentials_from_header(f"Basic {b64}") == "pa:ss"  # a colon in a password is fine
    assert credentials_from_header("bearer  tok en ") == "tok en"
    assert credentials_from_header("Basic %%%") == ""
    assert credentials_from_header(f"Basic {base64.b64encode(b'nocolon').decode()}") == ""
    assert credentials_from_header("Token abc") == ""


def test_throttle_doubles_the_delay_and_forgets_after_quiet():
    t = LoginThrottle(free_failures=2, base_delay_s=1, max_delay_s=8, forget_after_s=100)
    now = T0
    assert t.retry_after_s("a", now) == 0.0
    delays = []
    for _ in range(7):
        t.failure("a", now)
        delays.append(t.retry_after_s("a", now))
        now += timedelta(seconds=delays[-1])
    assert delays == [0, 0, 1, 2, 4, 8, 8]
    assert t.retry_after_s("b", now) == 0.0  # other clients are not affected
    t.failure("a", now)
    assert t.retry_after_s("a", now + timedelta(seconds=101)) == 0.0
    assert t.failure("a", now + timedelta(seconds=101)) == 1  # forgotten: a fresh start
    t.success("a")
    assert t.retry_after_s("a", now) == 0.0


def test_throttle_keeps_a_bounded_number_of_clients():
    t = LoginThrottle(max_clients=3)
    for i in range(10):
        t.failure(f"10.0.0.{i}", T0 + timedelta(seconds=i))
    assert len(t._state) == 3 and "10.0.0.9" in t._state


def _cfg(path: str, key: str | None = None) -> Config:
    return Config(
        store=StoreConfig(sqlite_path=path),
        toggle_app=ToggleAppConfig(secret_key=Secret(key) if key else None),
    )


def test_secret_key_configured_or_kept_in_a_private_file(tmp_path: Path):
    assert resolve_secret_key(_cfg(str(tmp_path / "a.db"), key="k" * 40)) == b"k" * 40
    assert not (tmp_path / SECRET_KEY_FILE).exists()
    first = resolve_secret_key(_cfg(str(tmp_path / "a.db")))
    path = tmp_path / SECRET_KEY_FILE
    assert len(first) == 64 and path.stat().st_mode & 0o777 == 0o600
    assert resolve_secret_key(_cfg(str(tmp_path / "a.db"))) == first
    assert resolve_secret_key(_cfg(":memory:")) != resolve_secret_key(_cfg(":memory:"))


def test_a_broken_or_unwritable_key_file_falls_back_to_a_temporary_key(tmp_path: Path, caplog):
    (tmp_path / SECRET_KEY_FILE).write_text("short\n")  # a truncated key is not trusted
    key = resolve_secret_key(_cfg(str(tmp_path / "a.db")))
    assert len(key) == 32 and "using a temporary one" in caplog.text
    (tmp_path / "file").write_text("")  # the store's folder is a file: nothing can be created
    key2 = resolve_secret_key(_cfg(str(tmp_path / "file" / "a.db")))
    assert len(key2) == 32 and key2 != key
    binary = tmp_path / "bin"
    binary.mkdir()
    (binary / SECRET_KEY_FILE).write_bytes(b"\xff\xfe" * 40)  # damaged: not even text
    assert len(resolve_secret_key(_cfg(str(binary / "a.db")))) == 32


def test_page_shows_the_controllers_settled_surplus_while_its_decision_is_fresh():
    def with_decision_surplus(age_s: float) -> dict:
        st = status(decision_age_s=age_s)
        d = st.last_decision
        decided = Decision(
            ts=d.ts, mode=d.mode, action=d.action, reason=d.reason, target_a=6, surplus_w=4200.0
        )
        return derive(dataclasses.replace(st, last_decision=decided), SETTINGS, T0)

    assert with_decision_surplus(20.0)["surplus_w"] == 4200.0  # not 1380 + 1500 from the window
    # a controller that stopped deciding no longer speaks for the surplus: the window estimate
    assert with_decision_surplus(600.0)["surplus_w"] == 1380.0 + 1500.0
