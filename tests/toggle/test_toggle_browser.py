"""The phone page in headless Debian chromium (Playwright), served by waitress on 127.0.0.1.

At a 390x844 phone viewport: the page shows the seeded numbers, the switch changes the stored
mode (with and without JavaScript), the numbers refresh live, the stale banner appears for old
data, and a password brings the login page. Screenshots go to test-output/.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from waitress import create_server

from common.models import Action, ChargerState, Decision, Mode, Reading, Reason
from common.store.sqlite import SqliteStore
from tests.toggle.helpers import PASSWORD, FakeClock, make_config, seed
from toggle_app import create_app
from toggle_app.text import clock_time

pytestmark = pytest.mark.browser

# Debian's chromium; SCC_CHROMIUM names another Chromium-based browser (GitHub's runners have
# google-chrome, not Debian's package).
CHROMIUM = Path(os.environ.get("SCC_CHROMIUM") or "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
MINUS, THIN = "\u2212", "\u202f"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser test needs Debian's chromium at {CHROMIUM}: "
            "sudo apt-get install -y chromium (or set SCC_CHROMIUM to a Chromium-based browser)",
            pytrace=False,
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def out_dir(request: pytest.FixtureRequest) -> Path:
    d = request.config.rootpath / "test-output"
    d.mkdir(exist_ok=True)
    return d


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The real app behind waitress on an ephemeral loopback port, in a thread."""
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


@contextmanager
def phone_page(browser: Browser, base: str, **context: object) -> Iterator[tuple[Page, list[str]]]:
    """A phone-sized page; the list collects console errors and requests to other hosts. The
    context closes before the server does, so no kept-alive connection holds the server up."""
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, **context)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: None if r.url.startswith(base) else problems.append(f"off-host {r.url}"),
    )
    page.set_default_timeout(5000)
    try:
        yield page, problems
    finally:
        ctx.close()


@pytest.fixture
def app_and_clock(tmp_path: Path, store: SqliteStore, clock: FakeClock) -> tuple[Flask, FakeClock]:
    app = create_app(make_config(tmp_path), store=store, clock=clock)
    app.config["SCC_REFRESH_S"] = 1  # the page polls every second here, not every 5
    app.config["SCC_CHART_REFRESH_S"] = 1  # and the chart too, not every 30
    return app, clock


def test_page_shows_numbers_and_the_switch_changes_the_stored_mode(
    browser, app_and_clock, store, out_dir
):
    app, clock = app_and_clock
    with serve(app) as base, phone_page(browser, base, color_scheme="light") as (page, problems):
        page.goto(base + "/")
        expect(page.locator("[data-d=grid_now]")).to_have_text(f"{MINUS}2{THIN}100 W")
        expect(page.locator("[data-d=grid_mean]")).to_have_text(f"{MINUS}2{THIN}040 W")
        expect(page.locator("[data-d=surplus]")).to_have_text(f"8{THIN}940 W")
        expect(page.locator("[data-d=charger]")).to_have_text("10 A")
        expect(page.locator("[data-d=charger_sub]")).to_contain_text("Charging · 6.9 kW")
        # The controller in words; the codes behind a tap.
        expect(page.locator("[data-d=decision]")).to_have_text("Charging at 10 A from the sun")
        expect(page.locator("[data-d=decision_sub]")).to_have_text("checked 20 s ago")
        code = page.locator("[data-d=decision_code]")
        expect(code).to_be_hidden()
        page.locator("details.code summary").click()
        expect(code).to_have_text("adjust 10 A · surplus-adjust")
        # The next step and when: the next check 60 s after the last one, 20 s ago.
        expect(page.locator("#next")).to_have_text("Follows the sun. Next check in 40 s.")
        # Units keep their case: the title reads as written, not upper-cased by the style.
        titles = page.locator(".tile h2")
        expect(titles.nth(1)).to_have_text("Grid, 2 min avg", use_inner_text=True)
        # The footer's time is the app's clock (simulated in the demo), not the phone's.
        expect(page.locator("#updated")).to_have_text(f"Updated {clock_time(clock.now, True)}")
        expect(page.locator("[data-d=today]")).to_have_text("1.07 kWh")
        expect(page.locator("[data-d=today_sub]")).to_have_text("100% from solar")
        expect(page.locator("#banner")).to_be_hidden()
        switch = page.locator("#switch")
        expect(switch).to_have_attribute("aria-checked", "true")
        # Phone-first: nothing wider than the screen, touch targets at least 48 px high.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for sel in ("#switch", ".seg button >> nth=0", ".seg button >> nth=1"):
            box = page.locator(sel).bounding_box()
            assert box is not None and box["height"] >= 48, sel
        page.screenshot(
            path=str(out_dir / "toggle-phone-light.png"), full_page=True, animations="disabled"
        )

        switch.click()
        expect(switch).to_have_attribute("aria-checked", "false")
        expect(page.locator("#flash")).to_contain_text(
            "The controller acts at its next cycle, within 40 s."
        )
        change = store.get_mode()
        assert change is not None and change.mode is Mode.MANUAL and change.source == "phone"
        page.screenshot(path=str(out_dir / "toggle-phone-off.png"), animations="disabled")

        page.locator(".seg button", has_text="At least 6 A").click()
        expect(switch).to_have_attribute("aria-checked", "true")
        expect(page.locator(".seg button[aria-pressed=true]")).to_have_text("At least 6 A")
        assert store.get_mode().mode is Mode.MIN_SOLAR
        page.screenshot(
            path=str(out_dir / "toggle-phone-switched.png"), full_page=True, animations="disabled"
        )

        # Live: a new reading appears without a reload, and the footer follows the app's clock.
        clock.advance(1)
        store.write_readings([Reading(ts=clock.now, active_power_w=350.0)])
        expect(page.locator("[data-d=grid_now]")).to_have_text("350 W", timeout=4000)
        expect(page.locator("[data-d=grid_now_sub]")).to_have_text("importing · just now")
        expect(page.locator("#updated")).to_have_text(f"Updated {clock_time(clock.now, True)}")
        assert problems == []


def test_the_chart_of_the_last_hour_is_drawn_and_follows_new_data(
    browser, app_and_clock, store, out_dir
):
    app, clock = app_and_clock
    with serve(app) as base, phone_page(browser, base) as (page, problems):
        page.goto(base + "/")
        chart = page.locator("#chart")
        expect(chart).to_be_visible()
        for line in ("grid", "surplus", "car"):
            assert page.locator(f"[data-p={line}]").get_attribute("d").startswith("M"), line
        expect(chart).to_have_attribute("aria-label", re.compile(r"^Last hour: grid −2\.1 kW"))
        expect(page.locator("[data-c=top]")).to_have_text("9 kW")
        expect(page.locator("#chart-empty")).to_be_hidden()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        chart.screenshot(path=str(out_dir / "toggle-phone-chart.png"), animations="disabled")
        # The car takes 11 kW in a new minute: the car line and the scale follow, no reload.
        before = page.locator("[data-p=car]").get_attribute("d")
        clock.advance(60)
        store.write_charger_state(
            ChargerState(ts=clock.now - timedelta(seconds=1), charger_id="12345", status_id=194,
                         status="Charging",
                         current_a=16.0, power_w=11000.0)
        )  # fmt: skip
        expect(page.locator("[data-c=top]")).to_have_text("11 kW", timeout=5000)
        assert page.locator("[data-p=car]").get_attribute("d") != before
        assert problems == []


def test_after_a_switch_the_banner_goes_once_the_controller_acts_and_the_surplus_settles(
    browser, app_and_clock, store, out_dir
):
    app, clock = app_and_clock
    with serve(app) as base, phone_page(browser, base) as (page, problems):
        page.goto(base + "/")
        page.locator("#switch").click()
        flash, following = page.locator("#flash"), page.locator("#next")
        expect(flash).to_contain_text("The controller acts at its next cycle, within 40 s.")
        expect(following).to_have_text("The controller acts at its next cycle, within 40 s.")
        # 10 s later the controller takes the mode up: it hands the charger back, 16 A.
        clock.advance(10)
        store.write_decision(
            Decision(ts=clock.now, mode=Mode.MANUAL, action=Action.RELEASE,
                     reason=Reason.MANUAL_RELEASE, target_a=16)
        )  # fmt: skip
        store.write_charger_state(
            ChargerState(ts=clock.now, charger_id="12345", status_id=194, status="Charging",
                         current_a=16.0, power_w=11000.0)
        )  # fmt: skip
        expect(flash).to_be_hidden(timeout=4000)
        expect(following).to_have_text(
            "Nothing planned: switch solar charging on to let the sun steer the car."
        )
        expect(page.locator("[data-d=decision]")).to_have_text(
            "Solar control is off: the charger was handed back at 16 A"
        )
        # The window still holds the export from before the car's draw changed: no mix of both.
        expect(page.locator("[data-d=surplus]")).to_have_text("Settling")
        expect(page.locator("[data-d=surplus_sub]")).to_have_text(
            "the charger just changed: waiting for new readings"
        )
        page.screenshot(
            path=str(out_dir / "toggle-phone-settling.png"), full_page=True, animations="disabled"
        )
        # Once the draw has settled (30 s), the readings since count: 11 000 W - 6 408 W.
        clock.advance(31)
        store.write_readings(
            [Reading(ts=clock.now - timedelta(seconds=0.5), active_power_w=6408.0)]
        )
        expect(page.locator("[data-d=surplus]")).to_have_text(f"4{THIN}592 W", timeout=4000)
        expect(page.locator("[data-d=grid_now_sub]")).to_have_text("importing · just now")
        assert problems == []


def cloudy(store: SqliteStore, now: datetime) -> None:
    """A minute of export, then four cycles with too little sun for 6 A at 692.8 W/A: the
    controller holds 6 A through the cloud since the first of them, 185 s ago."""
    store.write_readings([Reading(ts=now - timedelta(seconds=i), active_power_w=1000.0)
                          for i in range(1, 300)])  # fmt: skip
    for k, reason in enumerate([Reason.DIP_HOLD_MIN, *[Reason.STOP_DELAY] * 3]):
        ts = now - timedelta(seconds=185 - 60 * k)
        store.write_decision(
            Decision(ts=ts, mode=Mode.SOLAR, action=Action.HOLD, reason=reason, target_a=6,
                     grid_power_mean_w=1000.0, surplus_w=3157.0)
        )  # fmt: skip
        store.write_charger_state(
            ChargerState(ts=ts, charger_id="12345", status_id=194, status="Charging",
                         current_a=6.0, power_w=4157.0)
        )  # fmt: skip


def test_a_cloud_says_when_it_pauses_and_a_paused_charger_shows_it_big(
    browser, tmp_path, clock, out_dir
):
    store = SqliteStore(tmp_path / "cloud.db")
    cloudy(store, clock.now)
    app = create_app(make_config(tmp_path), store=store, clock=clock)
    app.config["SCC_REFRESH_S"] = 1
    pause = clock.now - timedelta(seconds=185) + timedelta(seconds=600)
    try:
        with serve(app) as base, phone_page(browser, base) as (page, problems):
            page.goto(base + "/")
            expect(page.locator("[data-d=decision]")).to_have_text("Holding 6 A through a cloud")
            expect(page.locator("#next")).to_have_text(
                f"Pauses at {clock_time(pause)} if the cloud stays; more current as soon as "
                "the sun is back."
            )
            expect(page.locator("[data-d=charger]")).to_have_text("6 A")
            page.screenshot(
                path=str(out_dir / "toggle-phone-cloud.png"), full_page=True, animations="disabled"
            )
            # The cloud stayed: the controller paused the car, which still has 6 A set.
            store.write_readings(
                [
                    Reading(ts=clock.now + timedelta(seconds=i), active_power_w=1000.0)
                    for i in range(int((pause - clock.now).total_seconds()))
                ]
            )
            store.write_readings([Reading(ts=pause + timedelta(seconds=i), active_power_w=-3157.0)
                                  for i in range(1)])  # fmt: skip
            clock.now = pause + timedelta(seconds=1)
            store.write_decision(
                Decision(ts=pause, mode=Mode.SOLAR, action=Action.STOP,
                         reason=Reason.SURPLUS_STOP, target_a=0, surplus_w=3157.0)
            )  # fmt: skip
            store.write_charger_state(
                ChargerState(ts=pause, charger_id="12345", status_id=182, status="Paused",
                             current_a=6.0, power_w=0.0)
            )  # fmt: skip
            expect(page.locator("[data-d=charger]")).to_have_text("Paused", timeout=4000)
            expect(page.locator("[data-d=charger_sub]")).to_have_text("set to 6 A · just now")
            expect(page.locator("[data-d=decision]")).to_have_text(
                "Paused: the sun has not covered 6 A for 10 min"
            )
            page.screenshot(
                path=str(out_dir / "toggle-phone-paused.png"), full_page=True, animations="disabled"
            )
            assert problems == []
    finally:
        store.close()


def test_dark_mode_and_a_narrow_360px_phone(browser, app_and_clock, out_dir):
    app, _ = app_and_clock
    with serve(app) as base, phone_page(browser, base, color_scheme="dark") as (page, problems):
        page.goto(base + "/")
        expect(page.locator("[data-d=surplus]")).to_have_text(f"8{THIN}940 W")
        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(14, 18, 23)", bg
        page.screenshot(
            path=str(out_dir / "toggle-phone-dark.png"), full_page=True, animations="disabled"
        )
        page.set_viewport_size({"width": 360, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert problems == []


def test_switch_works_with_javascript_off(browser, app_and_clock, store, out_dir):
    app, _ = app_and_clock
    with (
        serve(app) as base,
        phone_page(browser, base, java_script_enabled=False) as (page, problems),
    ):
        page.goto(base + "/")
        expect(page.locator("[data-d=grid_now]")).to_have_text(f"{MINUS}2{THIN}100 W")
        page.locator("#switch").click()  # a plain form POST, then a redirect back
        expect(page.locator("#flash")).to_have_text(
            "Switched to: Off (plain charger). The controller acts at its next cycle, within 40 s."
        )
        assert page.url == base + "/"
        expect(page.locator("#switch")).to_have_attribute("aria-checked", "false")
        change = store.get_mode()
        assert change is not None and change.mode is Mode.MANUAL and change.source == "phone"
        page.locator(".seg button", has_text="Surplus only").click()
        expect(page.locator("#switch")).to_have_attribute("aria-checked", "true")
        assert store.get_mode().mode is Mode.SOLAR
        page.screenshot(
            path=str(out_dir / "toggle-phone-nojs.png"), full_page=True, animations="disabled"
        )
        assert problems == []


def test_stale_banner_for_old_data(browser, app_and_clock, out_dir):
    app, clock = app_and_clock
    with serve(app) as base, phone_page(browser, base) as (page, problems):
        page.goto(base + "/")
        banner = page.locator("#banner")
        expect(banner).to_be_hidden()
        clock.advance(300)  # five minutes without readings or decisions: the page, live
        expect(banner).to_be_visible(timeout=4000)
        expect(banner).to_contain_text("Meter data is stale: last reading 5 min ago")
        expect(banner).to_contain_text("The controller has not decided for 5 min")
        page.screenshot(
            path=str(out_dir / "toggle-phone-stale.png"), full_page=True, animations="disabled"
        )
        assert problems == []


def test_login_page_when_a_password_is_set(browser, tmp_path, clock, out_dir):
    store = SqliteStore(tmp_path / "pw.db")
    seed(store, clock.now)
    app = create_app(make_config(tmp_path, password=PASSWORD), store=store, clock=clock)
    try:
        with serve(app) as base, phone_page(browser, base, color_scheme="dark") as (page, problems):
            page.goto(base + "/")
            assert page.url == base + "/login"
            page.screenshot(
                path=str(out_dir / "toggle-phone-login.png"), full_page=True, animations="disabled"
            )
            page.fill("#password", "wrong")
            page.click("button[type=submit]")
            expect(page.locator(".error")).to_have_text("Wrong password.")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("[data-d=grid_now]")).to_have_text(f"{MINUS}2{THIN}100 W")
            page.locator("#switch").click()  # the script's JSON call carries the session + CSRF
            expect(page.locator("#switch")).to_have_attribute("aria-checked", "false")
            assert store.get_mode().source == "phone"
            # The console logs the expected 401 of the wrong password; nothing else.
            assert [p for p in problems if "401" not in p] == []
    finally:
        store.close()
