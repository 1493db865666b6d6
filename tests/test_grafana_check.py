"""tools/grafana_check.py, the GitHub compose job's judge, against a fake Grafana on loopback.

No Docker engine runs here, so the job's last step cannot run here either; what can is the checker
itself, as the job runs it (a process with the same options), against a server that answers
``POST /api/ds/query`` with Grafana 11.6's shapes (tests/fakes/grafana.py). It must pass on good
answers and fail, naming the panel, on each bad one: an error in a result, an empty frame, HTTP
500, no answer in time, a missing result, wrong credentials. The requests it sends are checked
against what the dashboard page would send: every panel and annotation, the datasource uid, the
variables replaced, each panel's own time range.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.grafana import FakeGrafana, FakeToggle
from tests.support.dashboard_queries import DASHBOARDS_DIR, dashboard_queries, load_dashboards
from tools import grafana_check as gc

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "tools" / "grafana_check.py"
PASSWORD = "demo-pass"
DASHBOARDS = list(load_dashboards().values())
UID = DASHBOARDS[0]["uid"]
PANELS = {p["title"]: p for d in DASHBOARDS for p in d["panels"] if p.get("targets")}
ANNOTATIONS = [
    a for d in DASHBOARDS for a in d.get("annotations", {}).get("list", []) if "target" in a
]
QUERY_COUNT = sum(len(p["targets"]) for p in PANELS.values()) + len(ANNOTATIONS)


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana(password=PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def toggle() -> Iterator[FakeToggle]:
    fake = FakeToggle(password=PASSWORD).start()
    yield fake
    fake.stop()


def run(url: str, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), "--grafana-url", url, "--password", password, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",  # the checker finds the dashboards from its own path, not the caller's
    )


def fail_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("FAIL")]


# --- good answers ---------------------------------------------------------------------------


def test_passes_when_every_query_has_rows(grafana: FakeGrafana) -> None:
    result = run(grafana.url)
    assert result.returncode == 0, result.stdout + result.stderr
    ok = [line for line in result.stdout.splitlines() if line.startswith("ok")]
    assert len(ok) == QUERY_COUNT
    assert fail_lines(result.stdout) == []
    assert result.stdout.splitlines()[-1] == f"grafana_check: {QUERY_COUNT} checks, 0 failed"
    # One request per panel (all its targets together) and per annotation, as the page sends.
    assert len(grafana.seen) == len(PANELS) + len(ANNOTATIONS)


def test_requests_are_what_the_dashboard_page_sends(grafana: FakeGrafana) -> None:
    before = datetime.now(UTC)
    assert run(grafana.url, "--tz", "Europe/Brussels").returncode == 0
    after = datetime.now(UTC)
    by_panel = {s.panel_id: s for s in grafana.seen}
    brussels = ZoneInfo("Europe/Brussels")

    def window(title: str) -> tuple[datetime, datetime, dict]:
        seen = by_panel[str(PANELS[title]["id"])]
        assert seen.dashboard_uid == UID
        start, stop = (
            datetime.fromtimestamp(int(seen.body[k]) / 1000, UTC) for k in ("from", "to")
        )
        assert before - timedelta(seconds=1) <= stop <= after
        return start, stop, seen.body

    start, stop, body = window("EV charged today")  # relative time now/d: today so far
    assert start == stop.astimezone(brussels).replace(hour=0, minute=0, second=0, microsecond=0)
    start, stop, _ = window("This month's 15-min peak")  # now/M
    assert start == stop.astimezone(brussels).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    start, stop, _ = window("EV energy per day: solar and grid (30 days)")  # 30 calendar days
    wall = [t.astimezone(brussels).replace(tzinfo=None) for t in (start, stop)]
    assert wall[1] - wall[0] == timedelta(days=30)
    start, stop, body = window("Power: grid, estimated PV surplus and EV")  # the dashboard's 24 h
    assert abs(stop - start - timedelta(hours=24)) < timedelta(milliseconds=2)
    assert [q["refId"] for q in body["queries"]] == ["A", "B", "C", "D"]
    for q in body["queries"]:
        assert q["datasource"] == {"type": "influxdb", "uid": "scc-influxdb"}
        assert q["intervalMs"] == 86_400 and q["maxDataPoints"] == 1000  # 24 h over 1000 px
        assert "v.timeRangeStart" in q["query"]  # the macros are Grafana's backend's job
    daily = by_panel[str(PANELS["EV energy per day: solar and grid (30 days)"]["id"])]
    assert 'zone: "Europe/Brussels"' in daily.body["queries"][0]["query"]
    assert all("${" not in q["query"] for s in grafana.seen for q in s.body["queries"])


def test_the_checker_sends_every_query_the_offline_tests_know() -> None:
    sent = {
        (r.name.split(" / ", 1)[1], t["refId"], t["query"])
        for d in DASHBOARDS
        for r in gc.panel_requests(d)
        for t in r.targets
    }
    known = {(q.panel, q.ref_id, q.query) for q in dashboard_queries(DASHBOARDS_DIR)}
    assert sent == known


# --- bad answers, one panel at a time ------------------------------------------------------

BAD = {
    "error": "Grafana: invalid: error @5:42-5:43: got unexpected token",
    "empty": "no rows (the panel would be empty)",
    "http500": "HTTP 500: Query data error",
    "slow": "no answer within 0.5 s",
    "missing": "no result for this query in Grafana's answer",
}


@pytest.mark.parametrize("mode", sorted(BAD))
def test_fails_naming_the_panel_on_a_bad_answer(grafana: FakeGrafana, mode: str) -> None:
    panel = PANELS["Charging starts today"]
    grafana.plan[str(panel["id"])] = mode
    result = run(grafana.url, "--timeout-s", "0.5")
    assert result.returncode == 1, result.stdout
    fails = fail_lines(result.stdout)
    assert len(fails) == 1, result.stdout
    assert fails[0].startswith(f"FAIL  {UID} / Charging starts today")
    assert BAD[mode] in fails[0]
    assert result.stdout.splitlines()[-1].endswith(" 1 failed")


def test_an_error_names_each_failed_query_of_a_panel(grafana: FakeGrafana) -> None:
    grafana.plan[str(PANELS["Power: grid, estimated PV surplus and EV"]["id"])] = "error"
    result = run(grafana.url)
    assert result.returncode == 1
    fails = fail_lines(result.stdout)
    assert len(fails) == 4
    for ref, line in zip("ABCD", fails, strict=True):
        assert line.startswith(f"FAIL  {UID} / Power: grid, estimated PV surplus and EV / {ref}: ")
    assert "status 400, downstream" in fail_lines(result.stdout)[0]


def test_empty_annotations_fail_too(grafana: FakeGrafana) -> None:
    grafana.plan[""] = "empty"  # annotations carry no panel id
    result = run(grafana.url)
    assert result.returncode == 1
    assert len(fail_lines(result.stdout)) == len(ANNOTATIONS)
    assert all("/ annotation: " in line for line in fail_lines(result.stdout))


def test_a_variable_left_in_the_query_is_an_error(grafana: FakeGrafana, tmp_path: Path) -> None:
    # A dashboard whose variable has another name: Grafana keeps an unknown ${...} as it is, and
    # InfluxDB refuses the Flux. The checker must not hide that by substituting anything.
    d = json.loads((DASHBOARDS_DIR / "solar-charging.json").read_text(encoding="utf-8"))
    d["templating"]["list"][0]["name"] = "zone"
    (tmp_path / "d.json").write_text(json.dumps(d), encoding="utf-8")
    result = run(grafana.url, "--dashboards", str(tmp_path))
    assert result.returncode == 1
    failed = {line.split(" / ")[1] for line in fail_lines(result.stdout)}
    assert failed == {
        "EV energy per day: solar and grid (30 days)",
        "Monthly 15-minute peak (12 months)",
    }


def test_wrong_password_fails_every_panel_with_grafanas_message(grafana: FakeGrafana) -> None:
    result = run(grafana.url, password="wrong")
    assert result.returncode == 1
    fails = fail_lines(result.stdout)
    assert len(fails) == len(PANELS) + len(ANNOTATIONS)
    assert all(line.endswith("HTTP 401: Invalid username or password") for line in fails)


def test_nothing_listening_fails_clearly() -> None:
    fake = FakeGrafana().start()
    url = fake.url
    fake.stop()
    result = run(url, "--timeout-s", "2")
    assert result.returncode == 1
    assert all("cannot connect" in line for line in fail_lines(result.stdout))


# --- waiting for data, not for errors ------------------------------------------------------


def test_missing_rows_are_waited_for(grafana: FakeGrafana) -> None:
    grafana.empty_until = 2 * (len(PANELS) + len(ANNOTATIONS))  # two passes without data
    result = run(grafana.url, "--wait-s", "30", "--poll-s", "0.2")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("waiting for data:") == 2


def test_missing_rows_fail_once_the_wait_is_over(grafana: FakeGrafana) -> None:
    grafana.plan[str(PANELS["Imported today"]["id"])] = "empty"
    started = time.monotonic()
    result = run(grafana.url, "--wait-s", "1", "--poll-s", "0.3")
    assert result.returncode == 1
    assert 1.0 <= time.monotonic() - started < 30  # the whole --wait-s, a last pass at its end
    assert [line.split(": ")[0] for line in fail_lines(result.stdout)] == [
        f"FAIL  {UID} / Imported today / A"
    ]


def test_errors_are_not_waited_for(grafana: FakeGrafana) -> None:
    grafana.plan[str(PANELS["Imported today"]["id"])] = "error"
    grafana.plan[str(PANELS["Exported today"]["id"])] = "empty"
    started = time.monotonic()
    result = run(grafana.url, "--wait-s", "60", "--poll-s", "5")
    assert result.returncode == 1
    assert time.monotonic() - started < 20
    assert "waiting for data" not in result.stdout
    assert len(fail_lines(result.stdout)) == 2


# --- the phone page ------------------------------------------------------------------------


def test_phone_page_healthz_and_live_status(grafana: FakeGrafana, toggle: FakeToggle) -> None:
    result = run(grafana.url, "--toggle-url", toggle.url)
    assert result.returncode == 0, result.stdout
    assert "ok    phone page /: HTTP 200" in result.stdout
    assert "ok    phone /api/status: meter and controller live" in result.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"healthy": False}, "FAIL  phone /healthz: HTTP 503"),
        ({"status": {"meter_stale": True, "controller_stale": False}}, "stale: meter_stale"),
        ({"status": {"meter_stale": False}}, "stale: controller_stale"),
        ({"password": "another"}, "FAIL  phone /api/status: HTTP 401"),
    ],
)
def test_phone_checks_fail_clearly(
    grafana: FakeGrafana, toggle: FakeToggle, change: dict, expected: str
) -> None:
    for key, value in change.items():
        setattr(toggle, key, value)
    result = run(grafana.url, "--toggle-url", toggle.url)
    assert result.returncode == 1
    assert len(fail_lines(result.stdout)) == 1
    assert expected in fail_lines(result.stdout)[0]


# --- bad usage -----------------------------------------------------------------------------


def test_no_password_and_no_dashboards_are_usage_errors(
    grafana: FakeGrafana, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, str(CHECKER), "--grafana-url", grafana.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2 and "no password" in result.stderr
    result = run(grafana.url, "--dashboards", str(tmp_path))
    assert result.returncode == 2 and "no dashboards" in result.stderr
    assert grafana.seen == []


def test_a_time_shift_is_refused_rather_than_guessed(tmp_path: Path) -> None:
    d = json.loads((DASHBOARDS_DIR / "solar-charging.json").read_text(encoding="utf-8"))
    d["panels"][0]["timeShift"] = "1d"
    with pytest.raises(gc.UsageError, match="timeShift"):
        gc.panel_requests(d)


# --- Grafana's relative times --------------------------------------------------------------

BXL = ZoneInfo("Europe/Brussels")


@pytest.mark.parametrize(
    ("expr", "now", "expected"),
    [
        (
            "now",
            datetime(2026, 5, 18, 13, 7, 9, 500, BXL),
            datetime(2026, 5, 18, 13, 7, 9, 500, BXL),
        ),
        ("now/d", datetime(2026, 5, 18, 13, 7, tzinfo=BXL), datetime(2026, 5, 18, tzinfo=BXL)),
        ("now/M", datetime(2026, 5, 18, 13, 7, tzinfo=BXL), datetime(2026, 5, 1, tzinfo=BXL)),
        ("now/w", datetime(2026, 5, 21, 13, 7, tzinfo=BXL), datetime(2026, 5, 18, tzinfo=BXL)),
        ("now/y", datetime(2026, 5, 18, 13, 7, tzinfo=BXL), datetime(2026, 1, 1, tzinfo=BXL)),
        # 24 h before noon on the day clocks go forward is 11:00 the day before.
        (
            "now-24h",
            datetime(2026, 3, 29, 12, 0, tzinfo=BXL),
            datetime(2026, 3, 28, 11, 0, tzinfo=BXL),
        ),
        # Days are calendar days: 30 days before is the same wall time.
        (
            "now-30d",
            datetime(2026, 4, 15, 12, 0, tzinfo=BXL),
            datetime(2026, 3, 16, 12, 0, tzinfo=BXL),
        ),
        (
            "now-1y",
            datetime(2028, 2, 29, 12, 0, tzinfo=BXL),
            datetime(2027, 2, 28, 12, 0, tzinfo=BXL),
        ),
        ("now-1M/d", datetime(2026, 3, 31, 12, 0, tzinfo=BXL), datetime(2026, 2, 28, tzinfo=BXL)),
    ],
)
def test_relative_times_resolve_as_grafana_does(
    expr: str, now: datetime, expected: datetime
) -> None:
    got = gc.resolve(expr, now, BXL)
    assert got == expected
    assert got.utcoffset() == expected.utcoffset()


def test_the_day_starts_in_the_given_time_zone() -> None:
    now = datetime(2026, 5, 18, 23, 30, tzinfo=UTC)  # already the 19th in Brussels
    assert gc.resolve("now/d", now, BXL) == datetime(2026, 5, 19, tzinfo=BXL)
    assert gc.resolve("now/d", now, UTC) == datetime(2026, 5, 18, tzinfo=UTC)


def test_unknown_time_expressions_are_refused() -> None:
    for expr in ("yesterday", "now-5x", "now+1d", "2026-05-18"):
        with pytest.raises(gc.UsageError, match="unsupported time expression"):
            gc.resolve(expr, datetime.now(UTC), UTC)
