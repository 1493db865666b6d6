"""The toggle app against a hostile network: DNS rebinding and cross-site posts (hosts.py), many
guessing addresses and reverse proxies (throttle.py, proxy.py), copied cookies (sessions.py) and
pathological JSON. Through Flask's test client, on an injected clock."""

from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from common.config import Config, ConfigError, Secret
from common.models import Mode
from common.store.sqlite import SqliteStore
from tests.toggle.helpers import PASSWORD, T0, FakeClock, make_config
from tests.toggle.test_toggle_routes import bearer, client_for, csrf_of, login
from toggle_app import create_app
from toggle_app.hosts import HostPolicy, same_origin
from toggle_app.sessions import SESSIONS_FILE
from toggle_app.throttle import LoginThrottle, client_key

# --- DNS rebinding: the Host header -----------------------------------------------------


def test_a_rebound_host_name_gets_400_and_changes_nothing(tmp_path, store, clock, caplog):
    """The attack of the report: no password, 127.0.0.1, a website's name pointed at us."""
    c = client_for(tmp_path, store, clock)
    evil = {"Host": "attacker.example:8080"}
    r = c.get("/api/status", headers=evil)
    assert r.status_code == 400 and "toggle_app.allowed_hosts" in r.get_json()["error"]
    assert "grid_power_mean_w" not in r.get_data(as_text=True)
    r = c.post("/api/mode", json={"mode": "manual"}, headers=evil)
    assert r.status_code == 400
    assert store.get_mode() is None
    r = c.get("/", headers=evil)
    assert r.status_code == 400 and "Unknown host name" in r.get_data(as_text=True)
    assert c.get("/healthz", headers=evil).status_code == 400
    # Logged once per name, not once per request.
    assert caplog.text.count("refused a request for host 'attacker.example:8080'") == 1
    # The same app under its own names answers.
    assert c.get("/api/status", headers={"Host": "127.0.0.1:8080"}).status_code == 200
    assert c.post("/api/mode", json={"mode": "manual"}).status_code == 200


ALWAYS = [
    "localhost",
    "localhost:8080",
    "LOCALHOST.",
    "127.0.0.1:8080",
    "[::1]:8080",
    "192.168.1.20",
    "10.0.0.7:8080",
    "[2001:db8::20]",
    "raspberrypi:8080",
    "raspberrypi.local",
    "Raspberrypi.local.:8080",
    "pi.home.arpa",
    "toggle.localhost",
]
NEVER = [
    "attacker.example",
    "attacker.example:8080",
    "127.0.0.1.nip.io",
    "localhost.attacker.example",
    "raspberrypi.local.attacker.example",
    "solar.example.com.attacker.example",
    "notexample.org",
    "",
    ":8080",
    "bad name",
    "[::1",
    "a..b",
    "host:port",
]


@pytest.mark.parametrize("host", ALWAYS)
def test_names_no_website_can_rebind_are_answered(host):
    assert HostPolicy.build("127.0.0.1", None).allows(host)


@pytest.mark.parametrize("host", NEVER)
def test_other_names_are_refused(host):
    assert not HostPolicy.build("127.0.0.1", "solar.example.com, .example.org").allows(host)


def test_configured_and_own_names_are_answered():
    policy = HostPolicy.build("solar.lan.example", "solar.example.com .example.org")
    for host in ("solar.lan.example:8080", "solar.example.com", "example.org", "a.b.example.org"):
        assert policy.allows(host), host
    assert policy.allows(socket.gethostname())
    assert not HostPolicy.build("127.0.0.1", None).allows("solar.example.com")


def test_allowed_hosts_from_the_config_reach_the_app(tmp_path, store, clock):
    cfg = make_config(tmp_path)
    cfg = cfg.with_overrides({"toggle_app.allowed_hosts": "solar.example.com"})
    c = create_app(cfg, store=store, clock=clock).test_client()
    assert c.get("/api/status", headers={"Host": "solar.example.com"}).status_code == 200
    assert c.get("/api/status", headers={"Host": "other.example.com"}).status_code == 400


# --- same origin for changes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),  # curl, a script: no browser, no cross-site request
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "none"}, True),  # typed or bookmarked by the user
        # The page's own form under Referrer-Policy no-referrer: Origin null, Sec-Fetch-Site says.
        ({"Sec-Fetch-Site": "same-origin", "Origin": "null"}, True),
        ({"Sec-Fetch-Site": "same-site"}, False),  # Grafana on :3000 of the same machine
        ({"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"}, False),
        ({"Origin": "http://localhost"}, True),
        ({"Origin": "http://localhost:80"}, True),
        ({"Origin": "https://localhost"}, True),  # a TLS proxy in front, Host without a port
        ({"Origin": "http://localhost:3000"}, False),
        ({"Origin": "http://attacker.example"}, False),
        ({"Origin": "null"}, False),
        ({"Referer": "http://localhost/"}, True),
        ({"Referer": "http://attacker.example/localhost/"}, False),
        ({"Referer": "not a url"}, False),
    ],
)
def test_changes_come_only_from_the_apps_own_origin(tmp_path, store, clock, headers, allowed):
    c = client_for(tmp_path, store, clock)
    token = csrf_of(c)  # a valid CSRF token: only the origin decides
    r = c.post("/mode", data={"csrf": token, "mode": "manual"}, headers=headers)
    assert r.status_code == (303 if allowed else 403)
    assert (store.get_mode() is not None) is allowed
    r = c.post("/api/mode", json={"mode": "min_solar"}, headers=headers)
    assert r.status_code == (200 if allowed else 403)
    if not allowed:
        assert r.get_json()["error"].startswith("cross-origin request refused")
        assert store.get_mode() is None


def test_same_origin_compares_ports_where_the_host_names_one():
    assert same_origin("pi.local:8080", None, "http://pi.local:8080", None)
    assert not same_origin("pi.local:8080", None, "http://pi.local", None)
    assert not same_origin("pi.local:8080", None, "http://pi.local:3000", None)
    assert same_origin("[::1]:8080", None, "http://[::1]:8080", None)
    assert not same_origin("pi.local:8080", None, "ftp://pi.local:8080", None)
    assert not same_origin("pi.local:8080", None, "http://pi.local:99999", None)


# --- the login throttle: many addresses, IPv6, proxies -----------------------------------


def guess(c: FlaskClient, token: str, address: str, password: str = "wrong") -> int:
    r = c.post(
        "/login",
        data={"csrf": token, "password": password},
        environ_overrides={"REMOTE_ADDR": address},
    )
    return r.status_code


def test_2000_guesses_from_400_addresses_meet_a_global_limit(tmp_path, store, clock):
    """The report's attack: five guesses from each of 400 addresses, all within the free five."""
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    token = csrf_of(c, "/login")
    addresses = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(400)]
    codes = [guess(c, token, a) for _ in range(5) for a in addresses]
    burst = int(LoginThrottle.global_burst)
    assert codes.count(401) == burst and codes.count(429) == 2000 - burst
    # Everyone waits while the bucket is empty, the right password too (or it would tell).
    r = c.post(
        "/login",
        data={"csrf": token, "password": PASSWORD},
        environ_overrides={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert r.status_code == 429 and r.headers["Retry-After"] == "10"
    assert c.get("/api/status", headers=bearer(PASSWORD)).status_code == 429
    # One more guess per 10 s afterwards.
    clock.advance(10)
    assert guess(c, token, "203.0.113.9") == 401
    assert guess(c, token, "203.0.113.10") == 429
    clock.advance(10)
    assert guess(c, token, "203.0.113.9", PASSWORD) == 303


def test_a_lockout_survives_a_flood_of_new_addresses():
    """The table used to drop its oldest entry first: 1 024 new addresses freed a locked one."""
    t = LoginThrottle(base_delay_s=60, global_burst=1e9)
    for _ in range(6):
        t.failure("192.0.2.1", T0)
    assert t.retry_after_s("192.0.2.1", T0) == 60
    now = T0
    for i in range(2000):
        now += timedelta(milliseconds=10)
        t.failure(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", now)
    assert len(t) == t.max_clients
    assert t.retry_after_s("192.0.2.1", now) == pytest.approx(40.0)


def test_ipv6_clients_count_per_64():
    t = LoginThrottle(global_burst=1e9)
    for i in range(6):
        t.failure(f"2001:db8:1:2::{i + 1:x}", T0)
    assert t.retry_after_s("2001:db8:1:2:ffff:ffff:ffff:ffff", T0) == 1.0
    assert t.retry_after_s("2001:db8:1:3::1", T0) == 0.0
    assert client_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") == "192.0.2.7"


def proxied(tmp_path: Path, store: SqliteStore, clock: FakeClock) -> FlaskClient:
    cfg = make_config(tmp_path, password=PASSWORD).with_overrides(
        {"toggle_app.trusted_proxies": "10.0.0.2, 2001:db8:ffff::/48"}
    )
    app = create_app(cfg, store=store, clock=clock)
    return app.test_client()


def via_proxy(address: str, proto: str = "https", peer: str = "10.0.0.2") -> dict:
    return {
        "environ_overrides": {"REMOTE_ADDR": peer},
        "headers": {"X-Forwarded-For": f"6.6.6.6, {address}", "X-Forwarded-Proto": proto},
    }


def test_behind_a_trusted_proxy_each_client_has_its_own_throttle(tmp_path, store, clock):
    app = proxied(tmp_path, store, clock).application

    def attempt(address: str, password: str = "wrong", **kw: str) -> int:
        c = app.test_client()  # a fresh session each time: a success does not log the next in
        data = {"csrf": csrf_of(c, "/login"), "password": password}
        return c.post("/login", data=data, **via_proxy(address, **kw)).status_code

    assert [attempt("198.51.100.7") for _ in range(6)] == [401] * 6
    assert attempt("198.51.100.7", PASSWORD) == 429  # locked: the client, not the proxy
    assert attempt("198.51.100.8", PASSWORD) == 303  # its neighbour behind the same proxy
    # The leftmost entry is what the client claimed; the proxy's own entry is the client.
    assert attempt("198.51.100.7", PASSWORD, peer="2001:db8:ffff:1::5") == 429
    # A peer that is no trusted proxy gets no say: its X-Forwarded-For is ignored.
    assert [attempt("198.51.100.9", peer="192.0.2.50") for _ in range(6)] == [401] * 6
    assert attempt("198.51.100.10", PASSWORD, peer="192.0.2.50") == 429


def test_the_mode_source_names_the_forwarded_client(tmp_path, store, clock):
    c = proxied(tmp_path, store, clock)
    kw = via_proxy("198.51.100.7")
    kw["headers"] |= bearer(PASSWORD)
    assert c.post("/api/mode", json={"mode": "manual"}, **kw).status_code == 200
    assert store.get_mode().source == "api:198.51.100.7"


@pytest.mark.parametrize(
    ("peer", "proto", "secure"),
    [("10.0.0.2", "https", True), ("10.0.0.2", "http", False), ("192.0.2.50", "https", False)],
)
def test_cookies_are_secure_when_a_trusted_proxy_says_https(
    tmp_path, store, clock, peer, proto, secure
):
    c = proxied(tmp_path, store, clock)
    kw = via_proxy("198.51.100.7", proto=proto, peer=peer)
    r = c.get("/login", **kw)
    token = csrf_of(c, "/login")
    r = c.post("/login", data={"csrf": token, "password": PASSWORD}, **kw)
    assert r.status_code == 303
    cookie = r.headers["Set-Cookie"]
    assert ("; Secure" in cookie) is secure


def test_a_bad_trusted_proxy_entry_is_one_config_line(tmp_path, store, clock):
    cfg = make_config(tmp_path).with_overrides(
        {"toggle_app.trusted_proxies": "10.0.0.2, 10.0.0.300"}
    )
    with pytest.raises(ConfigError, match=r"toggle_app.trusted_proxies: '10.0.0.300' is not an"):
        create_app(cfg, store=store, clock=clock)


# --- sessions the server can end ---------------------------------------------------------


def copy_session(src: FlaskClient, dst: FlaskClient) -> None:
    cookie = src.get_cookie("scc_session")
    assert cookie is not None
    dst.set_cookie("scc_session", cookie.value)


def test_a_cookie_copied_before_logout_is_dead_after_it(tmp_path, store, clock):
    phone = client_for(tmp_path, store, clock, password=PASSWORD)
    login(phone)
    thief = phone.application.test_client()
    copy_session(phone, thief)
    assert thief.get("/").status_code == 200
    assert phone.post("/logout", data={"csrf": csrf_of(phone)}).status_code == 303
    assert thief.get("/").status_code == 303
    assert thief.get("/api/status").status_code == 401
    assert thief.post("/api/mode", json={"mode": "manual"}).status_code == 401
    assert store.get_mode() is None


def test_log_out_all_phones(tmp_path, store, clock):
    a = client_for(tmp_path, store, clock, password=PASSWORD)
    b = a.application.test_client()
    login(a)
    login(b)
    assert "Log out all phones" in a.get("/").get_data(as_text=True)
    assert a.post("/logout-all", data={"csrf": "forged"}).status_code == 400
    assert b.get("/").status_code == 200
    r = a.post("/logout-all", data={"csrf": csrf_of(a)})
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    assert a.get("/").status_code == 303 and b.get("/").status_code == 303
    login(b)  # logging in again works
    assert b.get("/").status_code == 200
    # Logged out, the action is not available to a stranger.
    stranger = a.application.test_client()
    r = stranger.post("/logout-all", data={"csrf": csrf_of(stranger, "/login")})
    assert r.status_code == 303 and b.get("/").status_code == 200


def test_a_restart_keeps_phones_in_and_logged_out_cookies_out(tmp_path, store, clock):
    kept = client_for(tmp_path, store, clock, password=PASSWORD)
    gone = kept.application.test_client()
    login(kept)
    login(gone)
    copy = kept.application.test_client()
    copy_session(gone, copy)
    gone.post("/logout", data={"csrf": csrf_of(gone)})
    path = tmp_path / SESSIONS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    sid = json.loads(path.read_text())["sessions"]
    assert len(sid) == 1
    restarted = client_for(tmp_path, store, clock, password=PASSWORD)
    for src, status in ((kept, 200), (copy, 303)):
        probe = restarted.application.test_client()
        copy_session(src, probe)
        assert probe.get("/").status_code == status
    # The file holds hashes only: the cookie's id is not in it.
    cookie = kept.get_cookie("scc_session")
    assert cookie is not None and cookie.value not in path.read_text()


def test_sessions_expire_after_a_year_unseen(tmp_path, store, clock):
    c = client_for(tmp_path, store, clock, password=PASSWORD)
    login(c)
    clock.advance(200 * 86400)
    assert c.get("/").status_code == 200  # seen: another year from now
    clock.advance(300 * 86400)
    assert c.get("/").status_code == 200
    clock.advance(366 * 86400)
    assert c.get("/").status_code == 303


def test_without_a_writable_folder_sessions_live_in_memory(tmp_path, clock, caplog):
    (tmp_path / "file").write_text("")
    cfg = Config(
        store=make_config(tmp_path).store.__class__(sqlite_path=str(tmp_path / "file" / "x.db")),
        toggle_app=make_config(tmp_path, password=PASSWORD).toggle_app.__class__(
            password=Secret(PASSWORD), secret_key=Secret("k" * 40)
        ),
    )
    s = SqliteStore(tmp_path / "real.db")
    try:
        c = create_app(cfg, store=s, clock=clock).test_client()
        caplog.set_level(logging.WARNING)
        login(c)
        assert c.get("/").status_code == 200
        assert "session list" in caplog.text and "lives in memory" in caplog.text
        c.post("/logout", data={"csrf": csrf_of(c)})
        assert c.get("/").status_code == 303
    finally:
        s.close()


# --- pathological JSON -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 7000 + "]" * 7000,
        '{"mode": ' + "[" * 7000 + "]" * 7000 + "}",
        '{"a":' * 2000 + "1" + "}" * 2000,
        b'{"mode": "\xff"}',
    ],
    ids=["array", "in-object", "objects", "not-utf8"],
)
def test_deeply_nested_or_broken_json_is_a_400(tmp_path, store, clock, body):
    c = client_for(tmp_path, store, clock)
    r = c.post("/api/mode", data=body, content_type="application/json")
    assert r.status_code == 400 and "invalid JSON" in r.get_json()["error"]
    assert store.get_mode() is None
    assert c.post("/api/mode", json={"mode": "manual"}).get_json()["effective_mode"] == "manual"
    assert store.get_mode().mode is Mode.MANUAL
