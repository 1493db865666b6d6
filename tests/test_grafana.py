"""Static checks of the Grafana provisioning and dashboards (Grafana itself cannot run here).

What Grafana would reject or show wrong is caught here instead: the dashboard model against
Grafana 11.6's JSON schema, every Flux query type-checked by the Flux language server, every
measurement and field a query names against the store schema in common/models.py, and the
provisioning files against the keys Grafana needs.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from common.models import P1_FIELDS, ChargerState, Decision, ModeChange, Reading
from grafana import build
from tests.support.dashboard_queries import (
    DASHBOARDS_DIR,
    DashboardQuery,
    dashboard_queries,
    interpolate_macros,
    load_dashboards,
)
from tests.support.fluxcheck import check_flux, grafana_prelude, with_prelude

REPO = Path(__file__).resolve().parents[1]
PROVISIONING = REPO / "grafana" / "provisioning"
DATASOURCES = sorted((PROVISIONING / "datasources").glob("*.yaml"))
PROVIDERS = sorted((PROVISIONING / "dashboards").glob("*.yaml"))
COMPOSE = REPO / "docker-compose.yml"
BUILTIN_GRAFANA_UID = "-- Grafana --"  # Grafana's own annotation store, always there


# --- the store schema, from the code that writes it (a rename there breaks these tests) --------

TAGS = {"p1": "meter", "charger": "charger_id", "decision": "mode"}


def _fields(cls: type, *not_fields: str) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"ts", *not_fields}


SCHEMA_FIELDS: dict[str, set[str]] = {
    "p1": set(P1_FIELDS),
    "charger": _fields(ChargerState, "charger_id"),
    "decision": _fields(Decision, "mode"),
    "mode": _fields(ModeChange),
}


def test_schema_map_matches_the_models() -> None:
    # The tags are dataclass fields too, and every p1 field is a Reading attribute.
    assert set(P1_FIELDS) | {"meter"} == _fields(Reading)
    assert {"charger_id"} <= {f.name for f in dataclasses.fields(ChargerState)}
    assert {"mode"} <= {f.name for f in dataclasses.fields(Decision)}
    assert SCHEMA_FIELDS["decision"] >= {"surplus_w", "target_a", "action", "reason"}
    assert SCHEMA_FIELDS["mode"] == {"mode", "source"}


# --- Grafana's JSON schemas, carried in tests/schemas/grafana (Apache-2.0, see its README) ------

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "grafana"


def _load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def dashboard_schema() -> dict[str, Any]:
    """Grafana 11.6's dashboard schema, with four places widened to what Grafana really stores.

    The schema is generated from Grafana's CUE kinds, and four of its types are narrower than the
    JSON Grafana itself writes (each is marked so in the schema's own descriptions):
    - Threshold.value: the first step is -Infinity, which Grafana serialises as null;
    - MatcherConfig.options and DynamicConfigValue.value are "any" in CUE (`_`), not objects:
      `{"id": "byName", "options": "import_w"}` and `{"id": "displayName", "value": "..."}`;
    - AnnotationTarget ("TODO: this should be a regular DataQuery") only fits Grafana's own
      annotation store; a datasource annotation's target is a query: {refId, query}.
    Everything else is checked as the schema says, additionalProperties: false included.
    """
    schema = copy.deepcopy(_load_schema("dashboard.v11.6.x.jsonschema.json"))
    defs = schema["definitions"]
    defs["Threshold"]["properties"]["value"] = {"type": ["number", "null"]}
    defs["MatcherConfig"]["properties"]["options"] = {}
    defs["DynamicConfigValue"]["properties"]["value"] = {}
    query_target = {
        "type": "object",
        "additionalProperties": False,
        "required": ["refId", "query"],
        "properties": {
            "refId": {"type": "string", "minLength": 1},
            "query": {"type": "string", "minLength": 1},
        },
    }
    defs["AnnotationTarget"] = {"anyOf": [defs["AnnotationTarget"], query_target]}
    return schema


def _errors(schema: dict[str, Any], doc: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(doc)
    ]


DASHBOARDS = load_dashboards()
QUERIES = dashboard_queries()


def _panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in d.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def test_there_is_a_solar_charging_dashboard() -> None:
    titles = {d["title"]: d for d in DASHBOARDS.values()}
    assert "Solar charging" in titles
    d = titles["Solar charging"]
    assert d["schemaVersion"] >= 39  # Grafana 11
    kinds = [p["type"] for p in _panels(d)]
    assert kinds.count("stat") >= 5 and "timeseries" in kinds and "barchart" in kinds


@pytest.mark.parametrize("path", sorted(DASHBOARDS), ids=lambda p: p.name)
def test_dashboard_matches_grafana_schema(path: Path) -> None:
    assert _errors(dashboard_schema(), DASHBOARDS[path]) == []


def test_schema_check_catches_a_broken_dashboard() -> None:
    """The widened schema still rejects what Grafana would not load."""
    d = copy.deepcopy(DASHBOARDS[DASHBOARDS_DIR / "solar-charging.json"])
    d["panels"][0]["gridPos"]["w"] = 30  # wider than the 24-column grid
    d["panels"][1]["targetz"] = []  # a typo'd key
    del d["annotations"]["list"][1]["iconColor"]
    errors = _errors(dashboard_schema(), d)
    assert any("panels/0" in e for e in errors)
    assert any("panels/1" in e for e in errors)
    assert any("annotations/list/1" in e and "iconColor" in e for e in errors)


def test_dashboard_json_is_generated_from_build_py() -> None:
    for name, make in build.DASHBOARDS.items():
        committed = (DASHBOARDS_DIR / name).read_text(encoding="utf-8")
        assert committed == build.render(make), f"{name} is stale: run python -m grafana.build"
    assert {p.name for p in DASHBOARDS} == set(build.DASHBOARDS)


def test_build_script_check_passes_on_the_committed_json() -> None:
    """The command the README gives, run from the repository root."""
    done = subprocess.run(
        [sys.executable, "-m", "grafana.build", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_build_check_fails_on_stale_json_and_a_run_rewrites_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(build, "OUT_DIR", tmp_path)
    stale = tmp_path / "solar-charging.json"
    stale.write_text((DASHBOARDS_DIR / "solar-charging.json").read_text().replace("kwatth", "kWh"))
    assert build.main(["--check"]) == 1
    assert "stale: " in capsys.readouterr().err
    assert build.main([]) == 0
    assert build.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == build.render(build.solar_charging)


def test_uids_and_panel_ids_are_unique() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))
    for d in DASHBOARDS.values():
        assert 8 <= len(d["uid"]) <= 40
        ids = [p["id"] for p in _panels(d)]
        assert len(ids) == len(set(ids)), f"{d['uid']}: duplicate panel ids {ids}"
        for p in _panels(d):
            refs = [t["refId"] for t in p.get("targets", [])]
            assert len(refs) == len(set(refs)), f"{p['title']}: duplicate refIds"
        titles = [p["title"] for p in _panels(d)]
        assert len(titles) == len(set(titles))


def test_panels_do_not_overlap_on_the_grid() -> None:
    for d in DASHBOARDS.values():
        cells: dict[tuple[int, int], str] = {}
        for p in _panels(d):
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, p["title"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = p["title"]


def _provisioned_uids() -> set[str]:
    return {
        ds["uid"]
        for path in DATASOURCES
        for ds in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    }


def _datasource_refs(node: Any, where: str = "") -> list[tuple[str, str]]:
    """Every datasource uid referenced anywhere in a dashboard, with where it was found."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and "uid" in ds:
            found.append((ds["uid"], where))
        elif ds is not None:
            found.append((repr(ds), where))  # a name or a bare string: not a uid reference
        for k, v in node.items():
            found.extend(_datasource_refs(v, f"{where}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found.extend(_datasource_refs(v, f"{where}/{i}"))
    return found


def test_every_datasource_uid_is_provisioned() -> None:
    provisioned = _provisioned_uids()
    assert provisioned == {"scc-influxdb"}
    for d in DASHBOARDS.values():
        refs = _datasource_refs(d)
        assert refs
        for uid, where in refs:
            assert uid in provisioned | {BUILTIN_GRAFANA_UID}, f"{d['uid']}{where}: {uid}"
        # Every query target and panel carries the InfluxDB datasource explicitly.
        for p in _panels(d):
            assert p["datasource"]["uid"] == "scc-influxdb"
            assert all(t["datasource"]["uid"] == "scc-influxdb" for t in p["targets"])


# --- the queries --------------------------------------------------------------------------------


def test_queries_cover_every_panel_and_annotation() -> None:
    panels = {p["title"] for d in DASHBOARDS.values() for p in _panels(d)}
    assert {q.panel for q in QUERIES} >= panels
    annotations = {q.panel for q in QUERIES if q.panel.startswith("annotation: ")}
    assert annotations == {"annotation: Mode changes", "annotation: Charging starts and stops"}
    assert all("${" not in q.query for q in QUERIES)  # variables substituted
    assert len({q.name for q in QUERIES}) == len(QUERIES)


def _with_prelude(query: str) -> str:
    return with_prelude(grafana_prelude(), query)


def test_every_query_type_checks_with_the_flux_language_server() -> None:
    diagnostics = check_flux({q.name: _with_prelude(q.query) for q in QUERIES})
    assert set(diagnostics) == {q.name for q in QUERIES}
    assert {name: found for name, found in diagnostics.items() if found} == {}


def test_the_text_grafana_sends_type_checks_too() -> None:
    """With the macros replaced as Grafana does it, no stub is involved at all."""
    start = datetime(2026, 5, 17, 22, 0, tzinfo=UTC)
    sources = {
        q.name: interpolate_macros(q.query, start, start + timedelta(days=1), timedelta(minutes=1))
        for q in QUERIES
    }
    assert not any("v." in text for text in sources.values())
    diagnostics = check_flux(sources)
    assert {name: found for name, found in diagnostics.items() if found} == {}


def test_macro_interpolation_matches_grafana() -> None:
    text = interpolate_macros(
        "from(bucket: v.defaultBucket) |> range(start: v.timeRangeStart, stop: v.timeRangeStop)"
        " |> aggregateWindow(every: v.windowPeriod, fn: mean)",
        datetime(2026, 5, 18, 0, 0, tzinfo=UTC),
        datetime(2026, 5, 18, 6, 30, 15, tzinfo=UTC),
        timedelta(seconds=20),
    )
    assert text == (
        'from(bucket: "solar") |> range(start: 2026-05-18T00:00:00Z, stop: 2026-05-18T06:30:15Z)'
        " |> aggregateWindow(every: 20000ms, fn: mean)"
    )


def test_flux_check_catches_a_broken_dashboard_query() -> None:
    q = next(q for q in QUERIES if "aggregateWindow(every: v.windowPeriod" in q.query)
    broken = {
        "typo": _with_prelude(q.query.replace("aggregateWindow", "aggregateWindows", 1)),
        "bad-arg": _with_prelude(q.query.replace("createEmpty: false", 'createEmpty: "no"', 1)),
        "bad-macro": _with_prelude(q.query.replace("v.windowPeriod", "v.windowPeriods", 1)),
    }
    found = check_flux(broken)
    assert all(found[name] for name in broken), found


_MEASUREMENT = re.compile(r'r\._measurement == "([^"]+)"')
_FIELD = re.compile(r'r\._field == "([^"]+)"')
_COLUMN = re.compile(r"\br\.([A-Za-z_][A-Za-z0-9_]*)")
_DEFINED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*:")
_FLUX_COLUMNS = {"_time", "_value", "_field", "_measurement", "_start", "_stop"}


def schema_violations(query: str) -> list[str]:
    """Names in a query that the store schema does not have (empty list = all known)."""
    problems = []
    measurements = set(_MEASUREMENT.findall(query))
    if not measurements:
        problems.append("no measurement filter")
    for m in measurements - set(SCHEMA_FIELDS):
        problems.append(f"unknown measurement {m!r}")
    known_fields = set().union(*(SCHEMA_FIELDS.get(m, set()) for m in measurements))
    for f in set(_FIELD.findall(query)) - known_fields:
        problems.append(f"field {f!r} is not in {sorted(measurements)}")
    # Columns read after a pivot are fields, tags or measurement names; anything else must be a
    # name the query itself defines (a record key it built in map or reduce).
    tags = {TAGS[m] for m in measurements if m in TAGS}
    allowed = known_fields | tags | measurements | _FLUX_COLUMNS | set(_DEFINED.findall(query))
    for col in sorted(set(_COLUMN.findall(query)) - allowed):
        problems.append(f"column r.{col} is neither in the schema nor defined by the query")
    return problems


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: q.name)
def test_query_names_only_schema_measurements_and_fields(q: DashboardQuery) -> None:
    assert schema_violations(q.query) == []


def test_schema_check_catches_a_renamed_field() -> None:
    q = next(q for q in QUERIES if '"power_w"' in q.query)
    assert schema_violations(q.query.replace('"power_w"', '"power_kw"')) == [
        "field 'power_kw' is not in ['charger', 'p1']"
    ]
    anno = next(q for q in QUERIES if q.panel == "annotation: Charging starts and stops")
    assert schema_violations(anno.query.replace("r.reason", "r.why")) == [
        "column r.why is neither in the schema nor defined by the query"
    ]
    assert schema_violations(q.query.replace('"charger"', '"wallbox"')) != []


_RANGE = "range(start: v.timeRangeStart, stop: v.timeRangeStop)"


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: q.name)
def test_every_read_is_bounded_by_the_dashboard_range(q: DashboardQuery) -> None:
    reads = q.query.count("from(bucket: v.defaultBucket)")
    assert reads >= 1
    assert q.query.count(_RANGE) == reads, "each from() is followed by the dashboard's range"


def test_time_series_aggregate_per_pixel_so_a_year_stays_fast() -> None:
    """Panels that follow the dashboard's range aggregate with v.windowPeriod; panels with a
    fixed range (today, 30 days, 12 months) aggregate to fixed steps of at least 5 minutes."""
    for q in QUERIES:
        if q.panel.startswith("annotation: "):
            continue  # events, not series: a handful a day
        if q.time_from is None:
            assert "aggregateWindow(every: " in q.query, q.name
            assert "v.windowPeriod" in q.query, q.name
        elif "aggregateWindow" in q.query:
            steps = re.findall(r"aggregateWindow\(every: (\w+)", q.query)
            assert set(steps) <= {"5m", "1mo"}, (q.name, steps)


def test_stat_panels_cover_today_and_the_month() -> None:
    d = DASHBOARDS[DASHBOARDS_DIR / "solar-charging.json"]
    stats = {p["title"]: p for p in _panels(d) if p["type"] == "stat"}
    today = {t for t, p in stats.items() if p.get("timeFrom") == "now/d"}
    assert today == {
        "EV charged today",
        "Solar share today",
        "Exported today",
        "Imported today",
        "Charging starts today",
    }
    assert stats["This month's 15-min peak"]["timeFrom"] == "now/M"
    units = {t: p["fieldConfig"]["defaults"]["unit"] for t, p in stats.items()}
    assert units["EV charged today"] == units["Exported today"] == "kwatth"
    assert units["Solar share today"] == "percent"


def test_display_names_match_query_columns() -> None:
    """Every byName override renames a column some query of the same panel really outputs."""
    for d in DASHBOARDS.values():
        for p in _panels(d):
            text = "\n".join(t["query"] for t in p["targets"])
            for o in p["fieldConfig"]["overrides"]:
                if o["matcher"]["id"] == "byName":
                    column = o["matcher"]["options"]
                    assert re.search(rf"\b{column}:", text), (p["title"], column)


def test_grid_import_export_and_surplus_follow_the_sign_convention() -> None:
    power = next(q for q in QUERIES if q.panel.startswith("Power") and q.ref_id == "A").query
    assert "import_w: if r._value > 0.0 then r._value else 0.0" in power
    assert "export_w: if r._value < 0.0 then -r._value else 0.0" in power
    surplus = next(q for q in QUERIES if q.panel.startswith("Power") and q.ref_id == "C").query
    assert "surplus_w: r.charger - r.p1" in surplus  # EV power minus grid power


# --- provisioning files -------------------------------------------------------------------------


def test_datasource_provisioning() -> None:
    schema = _load_schema("provisioning-datasources.schema.json")
    assert DATASOURCES
    for path in DATASOURCES:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert _errors(schema, doc) == []
        assert doc["apiVersion"] == 1
        (ds,) = doc["datasources"]
        assert ds["type"] == "influxdb" and ds["uid"] == "scc-influxdb"
        assert ds["url"] == "http://influxdb:8086"  # the compose service
        assert ds["jsonData"]["version"] == "Flux"
        assert ds["jsonData"]["organization"] and ds["jsonData"]["defaultBucket"]
        # The token comes from the environment, never from the file.
        assert re.fullmatch(r"\$\{[A-Z_]+\}", ds["secureJsonData"]["token"])


def test_datasource_env_vars_are_set_for_grafana_in_compose() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    env = compose["services"]["grafana"]["environment"]
    for path in DATASOURCES:
        values = json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")))
        names = re.findall(r"\$\{([A-Z_]+)\}", values)
        assert names
        for name in names:
            assert name in env, f"{path.name} reads ${name}; grafana's environment lacks it"
    assert env["INFLUXDB_BUCKET"] == "solar"
    scc_env = compose["services"]["collector"]["environment"]
    assert env["INFLUXDB_ORG"] == scc_env["SCC_INFLUXDB__ORG"]
    assert env["INFLUXDB_BUCKET"] == scc_env["SCC_INFLUXDB__BUCKET"]
    assert env["INFLUXDB_TOKEN"] == scc_env["SCC_INFLUXDB__TOKEN"]


def test_dashboard_provider_points_at_the_mounted_dashboards() -> None:
    schema = _load_schema("provisioning-dashboards.schema.json")
    assert PROVIDERS
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    mounts = dict(
        v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"] if v.startswith("./")
    )
    for path in PROVIDERS:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert _errors(schema, doc) == []
        assert doc["apiVersion"] == 1
        for provider in doc["providers"]:
            assert provider["type"] == "file"
            assert provider["options"]["path"] == mounts["./grafana/dashboards"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    for v in compose["services"]["grafana"]["volumes"]:
        if v.startswith("./"):
            assert v.endswith(":ro"), f"{v}: provisioning is mounted read-only"


def test_provisioning_schema_check_catches_missing_keys() -> None:
    schema = _load_schema("provisioning-datasources.schema.json")
    doc = yaml.safe_load(DATASOURCES[0].read_text(encoding="utf-8"))
    del doc["datasources"][0]["secureJsonData"]
    del doc["datasources"][0]["jsonData"]["defaultBucket"]
    errors = _errors(schema, doc)
    assert any("secureJsonData" in e for e in errors)
    assert any("defaultBucket" in e for e in errors)


def test_the_cars_measured_watts_per_amp_is_on_the_current_panel() -> None:
    """charger.watts_per_amp (issue 11): on its own right axis beside the setpoint and target."""
    d = DASHBOARDS[DASHBOARDS_DIR / "solar-charging.json"]
    panel = next(p for p in _panels(d) if p["title"].startswith("Charging current"))
    assert any('r._field == "watts_per_amp"' in t["query"] for t in panel["targets"])
    override = next(
        o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "car_w_per_a"
    )
    props = {x["id"]: x["value"] for x in override["properties"]}
    assert props["unit"] == "suffix: W/A" and props["custom.axisPlacement"] == "right"
