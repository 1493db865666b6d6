"""Every Flux query the store issues type-checks with the Flux language server, with exactly the
options influxdb-client sends; and the check does fail on broken Flux."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from common.store import flux
from tests.support import fluxcheck
from tests.support.fluxcheck import (
    check_flux,
    client_extern_source,
    grafana_prelude,
    params_prelude,
    with_prelude,
)

EXAMPLE_PARAMS = flux.bind_params(
    "solar", datetime(2026, 5, 18, 10, tzinfo=UTC), datetime(2026, 5, 18, 12, tzinfo=UTC)
)
EXAMPLE_WINDOWED_PARAMS = flux.bind_params(
    "solar",
    datetime(2026, 5, 18, 10, tzinfo=UTC),
    datetime(2026, 5, 18, 12, tzinfo=UTC),
    timedelta(minutes=1),
)


def example_params(query: str) -> dict[str, object]:
    return EXAMPLE_WINDOWED_PARAMS if query in flux.WINDOWED else EXAMPLE_PARAMS


def test_every_store_query_type_checks_clean_with_the_params_prelude() -> None:
    sources = {name: with_prelude(params_prelude(name), q) for name, q in flux.QUERIES.items()}
    assert check_flux(sources) == {name: [] for name in flux.QUERIES}


def test_every_store_query_type_checks_clean_with_the_extern_influxdb_client_builds() -> None:
    sources = {
        name: with_prelude(client_extern_source(example_params(name)), q)
        for name, q in flux.QUERIES.items()
    }
    assert check_flux(sources) == {name: [] for name in flux.QUERIES}


def _options(source: str) -> dict[str, str]:
    """name -> literal kind of each ``option name = literal`` line."""
    kinds = {
        "string": r'"([^"\\]|\\.)*"',
        "time": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "duration": r"-?(\d+(ns|us|ms|s|mo|m|h|d|w|y))+",
        "float": r"-?\d+\.\d*([eE][+-]?\d+)?",
        "int": r"-?\d+",
        "bool": r"true|false",
    }
    out = {}
    for line in source.splitlines():
        m = re.fullmatch(r"option (\w+) = (.+)", line.strip())
        assert m, f"not an option statement: {line!r}"
        kind = next(k for k, rx in kinds.items() if re.fullmatch(rx, m.group(2)))
        out[m.group(1)] = kind
    return out


def test_params_prelude_names_and_types_match_what_influxdb_client_sends() -> None:
    from influxdb_client.client._base import _BaseQueryApi

    ast = _BaseQueryApi._build_flux_ast(EXAMPLE_PARAMS)
    literal = {"StringLiteral": "string", "DateTimeLiteral": "time"}
    sent = {s.assignment.id.name: literal[s.assignment.init.type] for s in ast.body}
    assert sent == {"bucketName": "string", "rangeStart": "time", "rangeStop": "time"}
    assert all(s.type == "OptionStatement" for s in ast.body)
    assert _options(params_prelude()) == sent
    assert _options(client_extern_source(EXAMPLE_PARAMS)) == sent


def test_the_window_option_is_the_duration_influxdb_client_sends() -> None:
    from influxdb_client.client._base import _BaseQueryApi

    ast = _BaseQueryApi._build_flux_ast(EXAMPLE_WINDOWED_PARAMS)
    sent = {s.assignment.id.name: s.assignment.init.type for s in ast.body}
    assert sent["windowEvery"] == "DurationLiteral"
    for name in flux.WINDOWED:
        kinds = _options(params_prelude(name))
        assert kinds == _options(client_extern_source(EXAMPLE_WINDOWED_PARAMS))
        assert kinds["windowEvery"] == "duration"


def test_the_windowed_queries_fail_without_their_window_option() -> None:
    result = check_flux({n: with_prelude(params_prelude(), flux.QUERIES[n]) for n in flux.WINDOWED})
    for name in flux.WINDOWED:
        assert any("undefined identifier windowEvery" in m for m in result[name]), result


def test_every_store_query_reads_a_bounded_range_of_the_bound_bucket() -> None:
    for name, q in flux.QUERIES.items():
        assert "from(bucket: bucketName)" in q, name
        assert "range(start: rangeStart, stop: rangeStop)" in q, name


def test_no_query_feeds_one_stream_into_two_aggregates() -> None:
    """A bare first()/last() after range and filter is pushed down into the storage engine (one
    point read per series) only when nothing else reads that stream: a stream bound to a name
    and read twice (``data |> first()`` and ``data |> last()``) makes both read every point."""
    for name, q in flux.QUERIES.items():
        for stream in re.findall(r"^(\w+) = from\(", q, flags=re.MULTILINE):
            uses = len(re.findall(rf"\b{stream}\b", q)) - 1
            assert uses == 1, f"{name}: stream {stream!r} is read {uses} times"
        piped = re.findall(r"\b\w+ \|> (?:first|last)\(\)", q)
        assert not piped, f"{name}: a named stream piped into {piped}"


def test_store_queries_fail_without_the_options() -> None:
    result = check_flux({"mean": flux.GRID_POWER_MEAN})
    assert any("undefined identifier bucketName" in m for m in result["mean"]), result


BROKEN = {
    "undefined identifier": (
        'from(bucket: "solar") |> range(start: -1h) |> filter(fn: (r) => r._field == nope)',
        "undefined identifier nope",
    ),
    "misspelled function": (
        'from(bucket: "solar") |> range(start: -1h) |> meen()',
        "undefined identifier meen",
    ),
    "wrong argument type": (
        "from(bucket: 42) |> range(start: -1h)",
        "expected string but found int",
    ),
    "pipe into a non-table function": (
        '"solar" |> range(start: -1h)',
        "found string (argument tables)",
    ),
    "pipe into a non-call": (
        'from(bucket: "solar") |> range(start: -1h) |> 5',
        "pipe destination must be a function call",
    ),
    "missing required argument": (
        'from(bucket: "solar") |> range()',
        "missing required argument start",
    ),
    "unknown argument": (
        'from(bucket: "solar") |> range(start: -1h, stopp: now())',
        "unexpected argument stopp",
    ),
    # The mistake the first draft of flux.py made: pivot takes valueColumn (a string).
    "pivot with a wrong argument name": (
        'from(bucket: "solar") |> range(start: -1h)'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], values: ["_value"])',
        "missing required argument valueColumn",
    ),
    "predicate of the wrong type": (
        'from(bucket: "solar") |> range(start: -1h) |> filter(fn: (r) => r._value + "a")',
        "expected bool but found string",
    ),
    "syntax error": ('from(bucket: "solar" |> range(start: -1h)', "expected RPAREN"),
    "bind parameter of the wrong type": (
        "option bucketName = 1\nfrom(bucket: bucketName) |> range(start: -1h)",
        "expected string but found int",
    ),
    "misspelled grafana macro": (
        with_prelude(
            grafana_prelude(), "from(bucket: v.defaultBucket) |> range(start: v.timeRangeBegin)"
        ),
        "record is missing label timeRangeBegin",
    ),
    "grafana macro of the wrong type": (
        with_prelude(
            grafana_prelude(),
            "from(bucket: v.defaultBucket) |> range(start: v.timeRangeStart)"
            " |> aggregateWindow(every: v.organization, fn: mean)",
        ),
        "expected duration but found string",
    ),
}


def test_the_check_reports_each_kind_of_broken_flux() -> None:
    result = check_flux({name: source for name, (source, _) in BROKEN.items()})
    for name, (_, expected) in BROKEN.items():
        assert any(expected in m for m in result[name]), f"{name}: {result[name]}"
    assert set(result) == set(BROKEN)


def test_the_check_reports_positions_relative_to_the_source() -> None:
    result = check_flux({"q": 'x = 1\ny = x + "a"'})
    assert result["q"] == ["2:9: expected int but found string"], result


def test_a_dashboard_style_query_with_imports_is_clean_with_the_grafana_prelude() -> None:
    query = (
        'import "strings"\n'
        "from(bucket: v.defaultBucket)\n"
        "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
        '  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")\n'
        "  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)\n"
        "  |> map(fn: (r) => ({r with meter: strings.toUpper(v: r.meter)}))\n"
        '  |> yield(name: "mean")'
    )
    assert check_flux({"panel": with_prelude(grafana_prelude(), query)}) == {"panel": []}


def test_without_node_the_check_fails_loudly_instead_of_skipping(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(
        RuntimeError, match=r"node is not installed \(run scripts/test, or: cd tools"
    ):
        check_flux({"q": "x = 1"})


def test_without_the_npm_package_the_check_fails_loudly(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(fluxcheck, "PACKAGE_DIR", tmp_path / "missing")
    with pytest.raises(RuntimeError, match=r"flux-lsp-node is not installed .*npm ci"):
        check_flux({"q": "x = 1"})


def test_a_failing_checker_is_an_error_not_a_clean_result(monkeypatch, tmp_path) -> None:
    (tmp_path / "check.mjs").write_text('process.stderr.write("boom\\n"); process.exit(2);\n')
    monkeypatch.setattr(fluxcheck, "TOOL_DIR", tmp_path)
    with pytest.raises(RuntimeError, match=r"Flux check failed \(exit 2\): boom"):
        check_flux({"q": "x = 1"})
