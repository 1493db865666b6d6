"""The fake InfluxDB is itself under test: its line protocol, its annotated CSV and its HTTP
behaviour are what the InfluxStore contract tests rely on, so they are pinned here against
hand-written expectations from InfluxDB's documentation and Flux's CSV encoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from influxdb_client import Point, WritePrecision

from common.store import flux
from tests.fakes.flux_tables import encode_csv, go_float, parse_rfc3339_ns, rfc3339nano
from tests.fakes.influxdb import FakeInfluxDB
from tests.fakes.line_protocol import LineProtocolError, parse_line_protocol

T = datetime(2026, 5, 18, 10, tzinfo=UTC)
T_NS = int(T.timestamp()) * 1_000_000_000


# -- line protocol ----------------------------------------------------------------------------


def test_line_protocol_types_tags_and_timestamp() -> None:
    [p] = parse_line_protocol(
        'p1,meter=m1,zone=a f=1,g=-1.5e3,i=-7i,u=7u,s="x",b=t,B=FALSE 1747562400000', "ms"
    )
    assert p.measurement == "p1"
    assert p.tags == (("meter", "m1"), ("zone", "a"))
    assert p.fields == {
        "f": ("double", 1.0),
        "g": ("double", -1500.0),
        "i": ("long", -7),
        "u": ("unsignedLong", 7),
        "s": ("string", "x"),
        "b": ("boolean", True),
        "B": ("boolean", False),
    }
    assert p.ts_ns == 1747562400000 * 1_000_000


def test_line_protocol_tags_are_sorted_into_the_series_key() -> None:
    [p] = parse_line_protocol("m,z=1,a=2 f=1 0")
    assert p.tags == (("a", "2"), ("z", "1"))


@pytest.mark.parametrize(
    ("precision", "factor"), [("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)]
)
def test_line_protocol_precision_scales_timestamps(precision: str, factor: int) -> None:
    [p] = parse_line_protocol("m f=1 17", precision)
    assert p.ts_ns == 17 * factor


def test_line_protocol_without_timestamp_takes_server_time_at_precision() -> None:
    [p] = parse_line_protocol("m f=1", "s", now_ns=1_700_000_000_123_456_789)
    assert p.ts_ns == 1_700_000_000_000_000_000


def test_line_protocol_escapes() -> None:
    line = r'my\ meas\,x,tag\ k\=1=v\,a\ l\=ue field\,k\=1="q\"uo\\te, a=b" 1'
    [p] = parse_line_protocol(line)
    assert p.measurement == "my meas,x"
    assert p.tags == (("tag k=1", "v,a l=ue"),)
    assert p.fields == {"field,k=1": ("string", 'q"uo\\te, a=b')}


def test_line_protocol_backslash_before_other_characters_is_literal() -> None:
    [p] = parse_line_protocol(r'm,t=a\b s="c:\dir" 1')
    assert p.tags == (("t", "a\\b"),)
    assert p.fields == {"s": ("string", "c:\\dir")}


def test_line_protocol_newline_inside_a_string_is_data_and_comments_are_skipped() -> None:
    body = '# a comment\n\nm s="two\nlines",n=1i 1\n  \nm n=2i 2\r\n'
    points = parse_line_protocol(body)
    assert [p.fields for p in points] == [
        {"s": ("string", "two\nlines"), "n": ("long", 1)},
        {"n": ("long", 2)},
    ]


def test_line_protocol_of_influxdb_client_points_round_trips() -> None:
    reason = 'surplus 1,234 W = "enough"\\ for\n6 A'
    p = (
        Point("decision")
        .tag("mode", "min solar,=x")
        .field("reason", reason)
        .field("target_a", 6)
        .field("surplus_w", 1234.5)
        .field("big", 1e20)
        .field("ok", True)
        .time(T, WritePrecision.MS)
    )
    [parsed] = parse_line_protocol(p.to_line_protocol(), "ms")
    assert parsed.tags == (("mode", "min solar,=x"),)
    assert parsed.fields == {
        "reason": ("string", reason),
        "target_a": ("long", 6),
        "surplus_w": ("double", 1234.5),
        "big": ("double", 1e20),
        "ok": ("boolean", True),
    }
    assert parsed.ts_ns == T_NS


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("m", "missing fields"),
        ("m ", "missing fields"),
        ("m f", "missing fields"),
        ("m f=", "missing field value"),
        ("m f=abc", "invalid number"),
        ("m f=tru", "invalid boolean"),
        ("m f=1 12x", "bad timestamp"),
        ('m s="open', "unbalanced quotes"),
        ("m,t f=1", "missing tag value"),
        ("m,t= f=1", "missing tag value"),
        (
            "m f=99999999999999999999i",
            "unable to parse integer 99999999999999999999i: value out of range",
        ),
        (",t=1 f=1", "missing measurement"),
        ("m f=NaN", "invalid number"),
    ],
)
def test_line_protocol_errors_name_the_line(line: str, reason: str) -> None:
    with pytest.raises(LineProtocolError) as e:
        parse_line_protocol("ok f=1 1\n" + line)
    assert str(e.value) == f"unable to parse '{line}': {reason}"


# -- annotated CSV ----------------------------------------------------------------------------


def test_times_and_floats_are_formatted_as_go_formats_them() -> None:
    assert rfc3339nano(T_NS) == "2026-05-18T10:00:00Z"
    assert rfc3339nano(T_NS + 500_000_000) == "2026-05-18T10:00:00.5Z"
    assert rfc3339nano(T_NS + 1_230) == "2026-05-18T10:00:00.00000123Z"
    assert parse_rfc3339_ns("2026-05-18T12:00:00.123456000+02:00") == T_NS + 123_456_000
    assert [go_float(v) for v in (1.0, -0.5, 1e20, 1.5e-7, 4140.0, 0.1 + 0.2)] == [
        "1",
        "-0.5",
        "100000000000000000000",
        "0.00000015",
        "4140",
        "0.30000000000000004",
    ]


def test_no_tables_is_an_empty_result() -> None:
    assert encode_csv([]) == "\r\n"


@pytest.fixture
def fake():
    with FakeInfluxDB() as f:
        yield f


def _query(
    fake: FakeInfluxDB, name: str, start: datetime, stop: datetime, **kw
) -> requests.Response:
    body = {
        "query": kw.pop("query", flux.QUERIES.get(name)),
        "extern": {
            "type": "File",
            "body": [
                {
                    "type": "OptionStatement",
                    "assignment": {
                        "type": "VariableAssignment",
                        "id": {"type": "Identifier", "name": k},
                        "init": {"type": t, "value": v},
                    },
                }
                for k, t, v in [
                    ("bucketName", "StringLiteral", kw.pop("bucket", "solar")),
                    ("rangeStart", "DateTimeLiteral", start.isoformat().replace("+00:00", "Z")),
                    ("rangeStop", "DateTimeLiteral", stop.isoformat().replace("+00:00", "Z")),
                ]
            ],
        },
        "dialect": {
            "header": True,
            "delimiter": ",",
            "annotations": ["datatype", "group", "default"],
        },
    }
    if name in flux.WINDOWED:  # a duration option, as influxdb-client sends a timedelta
        every = {"type": "DurationLiteral", "values": [{"magnitude": 60, "unit": "s"}]}
        body["extern"]["body"].append(
            {
                "type": "OptionStatement",
                "assignment": {"id": {"name": "windowEvery"}, "init": every},
            }
        )
    return requests.post(
        f"{fake.url}/api/v2/query",
        params={"org": kw.pop("org", "solar")},
        headers={
            "Authorization": f"Token {kw.pop('token', fake.token)}",
            "Content-Type": "application/json",
        },
        data=json.dumps(body),
        timeout=5,
    )


def _write(fake: FakeInfluxDB, body: str, precision: str = "s", **kw) -> requests.Response:
    return requests.post(
        f"{fake.url}/api/v2/write",
        params={
            "org": kw.get("org", "solar"),
            "bucket": kw.get("bucket", "solar"),
            "precision": precision,
        },
        headers={"Authorization": f"Token {kw.get('token', fake.token)}"},
        data=body.encode(),
        timeout=5,
    )


S = int(T.timestamp())
STOP = datetime(2026, 5, 18, 12, tzinfo=UTC)


def test_mean_answer_is_annotated_csv_as_influxdb_writes_it(fake) -> None:
    assert (
        _write(
            fake, f"p1,meter=a active_power_w=100 {S}\np1,meter=a active_power_w=101.5 {S + 1}"
        ).status_code
        == 204
    )
    r = _query(fake, "grid_power_mean", T, STOP)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.text == (
        "#datatype,string,long,double\r\n"
        "#group,false,false,false\r\n"
        "#default,_result,,\r\n"
        ",result,table,_value\r\n"
        ",,0,100.75\r\n"
        "\r\n"
    )


def test_pivoted_answer_keeps_group_key_and_row_key_columns(fake) -> None:
    _write(fake, f'mode mode="solar",source="phone, \\"home\\"" {S * 1000 + 500}', "ms")
    r = _query(fake, "last_mode", T, STOP)
    assert r.text == (
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,string,string,string\r\n"
        "#group,false,false,true,true,false,true,false,false\r\n"
        "#default,_result,,,,,,,\r\n"
        ",result,table,_start,_stop,_time,_measurement,mode,source\r\n"
        ",,0,2026-05-18T10:00:00Z,2026-05-18T12:00:00Z,2026-05-18T10:00:00.5Z,mode,solar,"
        '"phone, ""home"""\r\n'
        "\r\n"
    )


def test_a_schema_change_between_tables_starts_a_new_header_block(fake) -> None:
    body = (
        f'charger,charger_id=c1 power_w=4140,status="Charging" {S}\n'
        f'decision,mode=solar action="start",surplus_w=5000.5,target_a=6i {S}\n'
        f"decision,mode=solar surplus_w=-20 {S + 60}"
    )
    assert _write(fake, body).status_code == 204
    r = _query(fake, "energy_points", T, STOP)
    block = (
        "#datatype,string,long,dateTime:RFC3339,{t},string,string\r\n"
        "#group,false,false,false,false,true,true\r\n"
        "#default,_result,,,,,\r\n"
        ",result,table,_time,_value,_field,_measurement\r\n"
    )
    assert r.text == (
        block.format(t="double")
        + ",,0,2026-05-18T10:00:00Z,4140,power_w,charger\r\n"
        + "\r\n"
        + block.format(t="string")  # same schema next: the block goes on, no new header
        + ",,1,2026-05-18T10:00:00Z,Charging,status,charger\r\n"
        + ",,2,2026-05-18T10:00:00Z,start,action,decision\r\n"
        + "\r\n"
        + block.format(t="double")
        + ",,3,2026-05-18T10:00:00Z,5000.5,surplus_w,decision\r\n"
        + ",,3,2026-05-18T10:01:00Z,-20,surplus_w,decision\r\n"
        + "\r\n"
    )


def test_the_range_is_start_inclusive_stop_exclusive(fake) -> None:
    _write(
        fake, "\n".join(f"p1,meter=a active_power_w={v} {S + i}" for i, v in enumerate([1, 2, 4]))
    )
    r = _query(
        fake, "grid_power_mean", datetime.fromtimestamp(S, UTC), datetime.fromtimestamp(S + 2, UTC)
    )
    assert r.text.endswith(",,0,1.5\r\n\r\n")


def test_an_empty_range_answers_no_tables(fake) -> None:
    r = _query(fake, "grid_power_mean", T, STOP)
    assert (r.status_code, r.text) == (200, "\r\n")


# -- HTTP behaviour ---------------------------------------------------------------------------


def test_same_series_and_time_overwrites_field_by_field(fake) -> None:
    _write(fake, f"p1,meter=a active_power_w=1,total_power_import_kwh=5 {S}")
    _write(fake, f"p1,meter=a active_power_w=2 {S}")
    _write(fake, f"p1,meter=b active_power_w=3 {S}")  # another series: its own point
    assert fake.points(measurement="p1") == [
        {
            "measurement": "p1",
            "tags": {"meter": "a"},
            "ts_ns": S * 10**9,
            "fields": {"active_power_w": 2.0, "total_power_import_kwh": 5.0},
        },
        {
            "measurement": "p1",
            "tags": {"meter": "b"},
            "ts_ns": S * 10**9,
            "fields": {"active_power_w": 3.0},
        },
    ]


def test_a_malformed_line_rejects_the_whole_batch(fake) -> None:
    r = _write(fake, f"p1 active_power_w=1 {S}\np1 active_power_w=oops {S + 1}")
    assert r.status_code == 400
    assert r.json() == {
        "code": "invalid",
        "message": f"unable to parse 'p1 active_power_w=oops {S + 1}': invalid number",
    }
    assert fake.points() == []


def test_a_field_type_conflict_drops_that_point_only(fake) -> None:
    _write(fake, f"charger status_id=194i {S}")
    r = _write(fake, f"charger status_id=194.0 {S + 1}\ncharger status_id=195i {S + 2}")
    assert r.status_code == 422
    assert r.json()["message"].endswith(
        'field type conflict: input field "status_id" on measurement "charger" is type float, '
        "already exists as type integer dropped=1"
    )
    assert [p["fields"]["status_id"] for p in fake.points()] == [194, 195]


def test_auth_org_and_bucket_errors(fake) -> None:
    assert _write(fake, "m f=1", token="wrong").status_code == 401
    assert _write(fake, "m f=1", token="wrong").json() == {
        "code": "unauthorized",
        "message": "unauthorized access",
    }
    assert _query(fake, "grid_power_mean", T, STOP, token="").status_code == 401
    r = _write(fake, "m f=1", bucket="nope")
    assert (r.status_code, r.json()["message"]) == (404, 'bucket "nope" not found')
    assert _write(fake, "m f=1", org="other").status_code == 404
    r = _query(fake, "grid_power_mean", T, STOP, bucket="nope")
    assert r.status_code == 404
    assert 'could not find bucket "nope"' in r.json()["message"]
    assert _write(fake, "m f=1", precision="h").status_code == 400
    assert fake.points() == []


def test_only_the_projects_queries_are_answered(fake) -> None:
    r = _query(fake, "", T, STOP, query='from(bucket: "solar") |> range(start: -1h)')
    assert r.status_code == 400
    assert "not one: 'from(bucket: \"solar\") |> range(start: -1h)'" in r.json()["message"]
    changed = flux.GRID_POWER_MEAN.replace("mean()", "max()")
    assert _query(fake, "", T, STOP, query=changed).status_code == 400


def test_a_query_without_its_options_is_rejected(fake) -> None:
    r = requests.post(
        f"{fake.url}/api/v2/query?org=solar",
        headers={"Authorization": f"Token {fake.token}", "Content-Type": "application/json"},
        data=json.dumps({"query": flux.GRID_POWER_MEAN}),
        timeout=5,
    )
    assert (r.status_code, r.json()["message"]) == (400, "undefined identifier bucketName")


def test_every_project_query_has_an_evaluator(fake) -> None:
    for name in flux.QUERIES:
        assert _query(fake, name, T, STOP).status_code == 200, name


def test_health_and_ping(fake) -> None:
    h = requests.get(f"{fake.url}/health", timeout=5)
    assert (h.status_code, h.json()["status"]) == (200, "pass")
    p = requests.get(f"{fake.url}/ping", timeout=5)
    assert (p.status_code, p.headers["X-Influxdb-Build"]) == (204, "OSS")


def test_injected_failures_and_outage_then_recovery(fake) -> None:
    fake.fail(503)
    assert _write(fake, f"m f=1 {S}").status_code == 503
    assert requests.get(f"{fake.url}/health", timeout=5).status_code == 503
    fake.fail(None)
    session = requests.Session()  # a kept-alive connection must not outlive the outage
    assert session.get(f"{fake.url}/ping", timeout=5).status_code == 204
    url = fake.url
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/ping", timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/ping", timeout=5)
    fake.start()
    assert fake.url == url
    assert _write(fake, f"m f=1 {S}").status_code == 204
    assert len(fake.points()) == 1
