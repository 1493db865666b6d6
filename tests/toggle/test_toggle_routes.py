"""Every route of the toggle app through Flask's test client: status codes, auth rules, CSRF,
the failed-login delay (on an injected clock), what is stored and what is shown."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from common.models import Mode
from common.store import StoreError
from common.store.sqlite import SqliteStore
from tests.toggle.helpers import PASSWORD, FakeClock, make_config
from toggle_app import create_app

MINUS = "\u2212"
THIN = "\u202f"


def client_for(tmp_path: Path, store: SqliteStore, clock: FakeClock, **kw: object) -> FlaskClient:
    app = create_app(make_config(tmp_path, **kw), store=store, clock=clock)
    app.testing = True
    return app.test_client()


def csrf_of(client: FlaskClient, path: str = "/") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, f"no CSRF token in {path}"
    return m.group(1)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(password: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {password}"}


def login(client: FlaskClient) -> None:
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"csrf": token, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["Location"].endswith("/")


# --- the route table ---------------------------------------------------------------------


def test_every_route_and_method(tmp_path, store, clock):
    """The URLs phones, scripts and the compose health check use; moving views must keep them."""
    app = create_app(make_config(tmp_path), store=store, clock=clock)
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routes == {
        ("/", "GET"),
        ("/mode", "POST"),
        ("/login", "GET"),
        ("/login", "POST"),
        ("/logout", "POST"),
        ("/logout-all", "POST"),
        ("/api/status", "GET"),
        ("/api/history", "GET"),
        ("/api/mode", "POST"),
        ("/healthz", "GET"),
        ("/static/<path:filename>", "GET"),
    }


# --- status ------------------------------------------------------------------------------


def test_status_json_carries_the_seeded_numbers_and_derived_fields(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    r = c.get("/api/status")
    assert r.status_code == 200
    s = r.get_json()
    # Readings at now-0..now-179 s of -2100+i W; the window is [now-120 s, now): i = 1..120.
    assert s["latest_reading"]["active_power_w"] == -2100.0
    assert s["grid_power_mean_w"] == pytest.approx(-2039.5)
    assert s["charger_power_w"] == 6900.0
    # the controller's own (settled) surplus of its fresh decision, not the raw window estimate
    assert s["surplus_w"] == pytest.approx(8940.0)
    assert s["charger"]["status"] == "Charging" and s["charger"]["current_a"] == 10.0
    assert s["last_decision"]["action"] == "adjust" and s["last_decision"]["target_a"] == 10
    assert s["decision_age_s"] == 20.0
    assert s["next_cycle_in_s"] == 40.0 and s["next_cycle_at"] == "2025-06-01T10:30:40Z"
    assert s["interval_s"] == 60.0
    assert s["meter_stale"] is False and s["meter_stale_after_s"] == 10.0
    assert s["controller_stale"] is False and s["controller_stale_after_s"] == 120.0
    assert s["mode"] is None and s["effective_mode"] == "solar" and s["solar_on"] is True
    assert s["mode_applied"] is True
    # Ten minutes of 6.9 kW decisions every 60 s, the last one held for 20 s: 9*60+20 s.
    assert s["today"]["ev_kwh"] == pytest.approx(6900 * 560 / 3.6e6)
    assert s["today"]["solar_share"] == pytest.approx(1.0)
    d = s["display"]
    assert d["grid_now"] == f"{MINUS}2{THIN}100 W"
    assert d["grid_mean"] == f"{MINUS}2{THIN}040 W"
    assert d["surplus"] == f"8{THIN}940 W"
    assert d["surplus_sub"] == "enough for 12 A"  # 8940 W / (sqrt(3) * 400 V = 692.8 W/A)
    assert d["banner"] == ""


def test_status_marks_meter_and_controller_stale_at_their_thresholds(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    clock.advance(10)  # reading exactly 10 s old: not yet stale
    s = c.get("/api/status").get_json()
    assert s["meter_age_s"] == 10.0 and s["meter_stale"] is False
    clock.advance(1)
    s = c.get("/api/status").get_json()
    assert s["meter_stale"] is True and "Meter data is stale" in s["display"]["banner"]
    assert s["controller_stale"] is False
    clock.advance(120 - 31)  # decision 120 s old: the limit, still fine
    assert c.get("/api/status").get_json()["controller_stale"] is False
    clock.advance(1)
    s = c.get("/api/status").get_json()
    assert s["controller_stale"] is True and s["next_cycle_in_s"] == 0.0
    assert "controller has not decided for 2 min" in s["display"]["banner"]


def test_meter_stale_threshold_follows_a_slow_poll_interval(tmp_path, store, clock):
    cfg = make_config(tmp_path)
    from dataclasses import replace

    cfg = replace(cfg, meter=replace(cfg.meter, poll_interval_s=5.0))
    c = create_app(cfg, store=store, clock=clock).test_client()
    clock.advance(15)
    s = c.get("/api/status").get_json()
    assert s["meter_stale_after_s"] == 15.0 and s["meter_stale"] is False
    clock.advance(0.5)
    assert c.get("/api/status").get_json()["meter_stale"] is True


def test_empty_store_shows_no_data_and_both_banners(tmp_path, clock):
    empty = SqliteStore(tmp_path / "empty.db")
    c = client_for(tmp_path, empty, clock)
    s = c.get("/api/status").get_json()
    assert s["latest_reading"] is None and s["surplus_w"] is None
    assert s["meter_stale"] is True and s["controller_stale"] is True
    assert s["next_cycle_in_s"] is None
    assert s["display"]["pending"] == "The controller acts at its next cycle, within 60 s."
    page = c.get("/").get_data(as_text=True)
    assert "No meter data yet" in page and "has not decided anything yet" in page


# --- the page ----------------------------------------------------------------------------


def test_page_renders_the_numbers_and_a_csrf_form(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    r = c.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert f"{MINUS}2{THIN}100 W" in html and f"8{THIN}940 W" in html
    assert 'role="switch" aria-checked="true"' in html
    assert 'name="csrf" value="' in html
    assert 'id="banner" role="alert" data-d="banner" hidden' in html
    assert "<script>" not in html and " style=" not in html  # CSP: no inline code or style


def test_security_headers(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    for path in ("/", "/api/status", "/healthz"):
        h = c.get(path).headers
        assert "script-src 'self'" in h["Content-Security-Policy"]
        assert "unsafe-inline" not in h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Cache-Control"] == "no-store"
    static = c.get("/static/app.js")
    assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"


def test_form_post_switches_mode_with_csrf_and_flashes(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    token = csrf_of(c)
    r = c.post("/mode", data={"csrf": token, "mode": "manual"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/")
    change = store.get_mode()
    assert change is not None and change.mode is Mode.MANUAL and change.source == "phone"
    assert change.ts == clock.now
    page = c.get("/").get_data(as_text=True)
    assert "Switched to: Off (plain charger)." in page
    assert "The controller acts at its next cycle, within 40 s." in page
    assert 'aria-checked="false"' in page


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_form_post_without_valid_csrf_is_refused_and_changes_nothing(tmp_path, store, clock, token):
    c = client_for(tmp_path, store, clock)
    csrf_of(c)  # the session has a token; the form does not carry it
    data = {"mode": "manual"} if token is None else {"mode": "manual", "csrf": token}
    r = c.post("/mode", data=data)
    assert r.status_code == 400 and "form expired" in r.get_data(as_text=True)
    assert store.get_mode() is None


def test_form_post_with_unknown_mode_is_refused(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    r = c.post("/mode", data={"csrf": csrf_of(c), "mode": "turbo"})
    assert r.status_code == 400 and "unknown mode" in r.get_data(as_text=True)
    assert store.get_mode() is None


# --- the JSON API without a password -----------------------------------------------------


def test_api_mode_sets_the_mode_and_records_the_caller(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    r = c.post("/api/mode", json={"mode": "min_solar"})
    assert r.status_code == 200
    s = r.get_json()
    assert s["effective_mode"] == "min_solar" and s["mode"]["source"] == "api:127.0.0.1"
    assert s["mode_applied"] is False
    assert s["message"] == (
        "Switched to: At least 6 A. The controller acts at its next cycle, within 40 s."
    )
    change = store.get_mode()
    assert change is not None and change.mode is Mode.MIN_SOLAR
    assert change.source == "api:127.0.0.1"


def test_api_mode_from_the_page_script_is_recorded_as_phone(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    token = csrf_of(c)
    r = c.post("/api/mode", json={"mode": "manual"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    assert store.get_mode().source == "phone"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "invalid JSON"),
        ('{"mood": "solar"}', "invalid JSON"),
        ('{"mode": "turbo"}', "unknown mode 'turbo' (expected one of: solar, min_solar, manual)"),
        ('{"mode": null}', "unknown mode"),
        ('{"mode": "SOLAR"}', "unknown mode"),
    ],
)
def test_api_mode_rejects_bad_input_with_400_and_changes_nothing(
    tmp_path, store, clock, body, message
):
    c = client_for(tmp_path, store, clock)
    r = c.post("/api/mode", data=body, content_type="application/json")
    assert r.status_code == 400
    assert message in r.get_json()["error"]
    assert store.get_mode() is None


def test_api_mode_needs_a_json_content_type(tmp_path, store, clock):
    """A cross-site page can post text/plain without a preflight, but not application/json."""
    c = client_for(tmp_path, store, clock)
    r = c.post("/api/mode", data='{"mode": "manual"}', content_type="text/plain")
    assert r.status_code == 415 and "application/json" in r.get_json()["error"]
    assert store.get_mode() is None


def test_api_refuses_oversized_bodies_and_unknown_paths_as_json(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    big = '{"mode": "solar", "x": "' + "a" * 20000 + '"}'
    r = c.post("/api/mode", data=big, content_type="application/json")
    assert r.status_code == 413 and "error" in r.get_json()
    assert store.get_mode() is None
    r = c.get("/api/nothing")
    assert r.status_code == 404 and "error" in r.get_json()
    assert c.get("/api/mode").status_code == 405


# --- with a password ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/status"])
def test_api_status_needs_credentials_when_a_password_is_set(tmp_path, store, clock, path):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    r = c.get(path)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert c.get(path, headers=bearer("wrong")).status_code == 401
    assert c.get(path, headers=basic("me", "wrong")).status_code == 401
    assert c.get(path, headers={"Authorization": "Basic !!!notbase64"}).status_code == 401
    assert c.get(path, headers={"Authorization": "Digest x"}).status_code == 401
    assert c.get(path, headers=bearer(PASSWORD)).status_code == 200
    assert c.get(path, headers=basic("anyone", PASSWORD)).status_code == 200
    assert c.get(path, headers=basic("", PASSWORD)).status_code == 200


def test_api_mode_auth_rules_when_a_password_is_set(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    assert c.post("/api/mode", json={"mode": "manual"}).status_code == 401
    r = c.post("/api/mode", json={"mode": "manual"}, headers=bearer("nope"))
    assert r.status_code == 401 and r.get_json()["error"] == "wrong password"
    assert store.get_mode() is None
    # Credentials are checked before the body: no probing without them.
    assert c.post("/api/mode", json={"mode": "turbo"}).status_code == 401
    r = c.post("/api/mode", json={"mode": "manual"}, headers=basic("x", PASSWORD))
    assert r.status_code == 200
    assert store.get_mode().source == "api:127.0.0.1"
    r = c.post("/api/mode", json={"mode": "turbo"}, headers=bearer(PASSWORD))
    assert r.status_code == 400
    assert store.get_mode().mode is Mode.MANUAL


def test_page_asks_for_the_password_and_keeps_the_session(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    r = c.get("/")
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    page = c.get("/login").get_data(as_text=True)
    assert 'type="password"' in page and PASSWORD not in page
    token = csrf_of(c, "/login")
    r = c.post("/login", data={"csrf": token, "password": "wrong"})
    assert r.status_code == 401 and "Wrong password." in r.get_data(as_text=True)
    r = c.post("/login", data={"csrf": token, "password": PASSWORD})
    assert r.status_code == 303
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Expires=" in cookie
    assert c.get("/").status_code == 200
    # Logged in, the page's JSON calls work by the session (GET without CSRF, POST with it).
    assert c.get("/api/status").status_code == 200
    token = csrf_of(c)
    assert c.post("/api/mode", json={"mode": "manual"}).status_code == 403
    r = c.post("/api/mode", json={"mode": "manual"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    assert store.get_mode() is None
    r = c.post("/api/mode", json={"mode": "manual"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and store.get_mode().source == "phone"
    # The form works by the session too.
    assert c.post("/mode", data={"csrf": token, "mode": "solar"}).status_code == 303
    assert store.get_mode().mode is Mode.SOLAR


@pytest.mark.parametrize("token", [None, "forged"])
def test_login_without_valid_csrf_is_refused(tmp_path, store, clock, token):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    csrf_of(c, "/login")
    data = {"password": PASSWORD} if token is None else {"password": PASSWORD, "csrf": token}
    r = c.post("/login", data=data)
    assert r.status_code == 400
    assert c.get("/").status_code == 303


def test_not_logged_in_form_post_changes_nothing(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    token = csrf_of(c, "/login")
    r = c.post("/mode", data={"csrf": token, "mode": "manual"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    assert store.get_mode() is None


def test_logout_needs_csrf_and_ends_the_session(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    login(c)
    token = csrf_of(c)
    assert c.post("/logout", data={"csrf": "forged"}).status_code == 400
    assert c.get("/").status_code == 200
    r = c.post("/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    assert c.get("/").status_code == 303


def test_changing_the_password_logs_old_sessions_out(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    login(c)
    other = create_app(make_config(tmp_path, password="a new password"), store=store, clock=clock)
    c2 = other.test_client()
    cookie = c.get_cookie("scc_session")
    assert cookie is not None
    c2.set_cookie("scc_session", cookie.value)
    assert c2.get("/").status_code == 303


def test_repeated_wrong_logins_are_delayed_on_the_clock(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    token = csrf_of(c, "/login")

    def attempt(password: str) -> int:
        return c.post("/login", data={"csrf": token, "password": password}).status_code

    assert [attempt("wrong") for _ in range(5)] == [401] * 5  # five typos cost nothing
    assert attempt("wrong") == 401  # the sixth locks the client out for 1 s
    r = c.post("/login", data={"csrf": token, "password": PASSWORD})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert "try again in 1 s" in r.get_data(as_text=True)
    clock.advance(1)
    assert attempt("wrong") == 401  # seventh: 2 s
    assert c.post("/login", data={"csrf": token}).status_code == 429
    clock.advance(1.5)
    r = c.post("/login", data={"csrf": token, "password": PASSWORD})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    clock.advance(0.5)
    assert attempt(PASSWORD) == 303
    # Success resets the count: the next mistakes are free again.
    c2 = client_for(tmp_path, store, clock, password=PASSWORD)
    assert (
        c2.post("/login", data={"csrf": csrf_of(c2, "/login"), "password": "x"}).status_code == 401
    )


def test_wrong_api_passwords_share_the_delay(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    codes = [c.get("/api/status", headers=bearer("guess")).status_code for _ in range(6)]
    assert codes == [401] * 6
    r = c.get("/api/status", headers=bearer(PASSWORD))
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    r = c.post("/api/mode", json={"mode": "manual"}, headers=bearer(PASSWORD))
    assert r.status_code == 429 and store.get_mode() is None
    clock.advance(1)
    assert c.get("/api/status", headers=bearer(PASSWORD)).status_code == 200


def test_each_app_keeps_its_own_throttle(tmp_path, store, clock):
    """The throttle lives in the app, not in the module: a second app starts with a clean slate."""
    locked = client_for(tmp_path, store, clock, password=PASSWORD)
    for _ in range(6):
        assert locked.get("/api/status", headers=bearer("guess")).status_code == 401
    assert locked.get("/api/status", headers=bearer(PASSWORD)).status_code == 429
    fresh = client_for(tmp_path, store, clock, password=PASSWORD)
    assert fresh.get("/api/status", headers=bearer(PASSWORD)).status_code == 200


def test_no_secret_reaches_a_page_or_a_log(tmp_path, store, clock, caplog):
    caplog.set_level(logging.DEBUG)
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    bodies = [c.get("/login").get_data(as_text=True)]
    token = csrf_of(c, "/login")
    bodies.append(c.post("/login", data={"csrf": token, "password": "wrong-guess"}).get_data(True))
    bodies.append(c.get("/api/status", headers=bearer("wrong-guess")).get_data(as_text=True))
    login(c)
    bodies += [c.get(p).get_data(as_text=True) for p in ("/", "/api/status", "/healthz")]
    for text in [*bodies, caplog.text]:
        assert PASSWORD not in text and "wrong-guess" not in text
    assert "wrong password on the login page from 127.0.0.1" in caplog.text


# --- health and store failures -----------------------------------------------------------


class BrokenStore:
    """A store whose every call fails, as an unreachable InfluxDB would."""

    def __getattr__(self, name: str):
        def fail(*_a: object, **_k: object) -> None:
            raise StoreError("connection refused")

        return fail


def test_healthz(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    r = c.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"ok": True, "store": "sqlite"}
    down = client_for(tmp_path, BrokenStore(), clock)
    r = down.get("/healthz")
    assert r.status_code == 503 and r.get_json() == {"ok": False, "error": "store unavailable"}


def test_store_down_gives_503_not_a_crash(tmp_path, clock):
    c = client_for(tmp_path, BrokenStore(), clock)
    r = c.get("/api/status")
    assert r.status_code == 503 and r.get_json() == {"error": "store unavailable"}
    assert c.post("/api/mode", json={"mode": "manual"}).status_code == 503
    r = c.get("/")
    assert r.status_code == 503 and "Store unavailable" in r.get_data(as_text=True)


def test_healthz_is_503_when_the_store_cannot_even_open(tmp_path, clock):
    (tmp_path / "not-a-dir").write_text("x")
    cfg = make_config(tmp_path)
    from dataclasses import replace

    cfg = replace(cfg, store=replace(cfg.store, sqlite_path=str(tmp_path / "not-a-dir" / "x.db")))
    from common.config import Secret, ToggleAppConfig

    cfg = replace(cfg, toggle_app=ToggleAppConfig(secret_key=Secret("k" * 32)))
    c = create_app(cfg, clock=clock).test_client()
    assert c.get("/healthz").status_code == 503
    assert c.get("/api/status").status_code == 503


# --- persistence -------------------------------------------------------------------------


def test_mode_survives_a_restart_of_the_app_and_store(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock)
    assert c.post("/api/mode", json={"mode": "manual"}).status_code == 200
    store.close()
    reopened = SqliteStore(tmp_path / "scc.db")
    try:
        s = client_for(tmp_path, reopened, clock).get("/api/status").get_json()
        assert s["effective_mode"] == "manual" and s["mode"]["source"] == "api:127.0.0.1"
    finally:
        reopened.close()


def test_sessions_survive_a_restart_through_the_key_file(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    login(c)
    key_file = tmp_path / "scc-toggle-secret.key"
    assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    restarted = client_for(tmp_path, store, clock, password=PASSWORD)
    cookie = c.get_cookie("scc_session")
    assert cookie is not None
    restarted.set_cookie("scc_session", cookie.value)
    assert restarted.get("/").status_code == 200
