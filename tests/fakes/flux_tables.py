"""Flux tables, the few Flux operations the project's queries use, and annotated CSV.

Each operation follows the Flux implementation closely enough that the CSV it leads to has the
columns, group keys, types and table boundaries a real InfluxDB 2 answer has.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

# Flux column types as annotated CSV names them.
STRING, LONG, ULONG, DOUBLE, BOOL, TIME = (
    "string",
    "long",
    "unsignedLong",
    "double",
    "boolean",
    "dateTime:RFC3339",
)


class QueryError(Exception):
    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.status, self.code = status, code


def rfc3339nano(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: fraction without trailing zeros, none when whole."""
    secs, frac = divmod(ns, 1_000_000_000)
    text = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=secs)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)


def parse_rfc3339_ns(text: str) -> int:
    m = _RFC3339.fullmatch(text)
    if not m:
        raise ValueError(f"invalid date time literal {text!r}")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        dt -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    whole = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    return whole * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def go_float(v: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def encode_value(v: Any, typ: str) -> str:
    if v is None:
        return ""
    if typ == DOUBLE:
        return go_float(v)
    if typ == BOOL:
        return "true" if v else "false"
    if typ == TIME:
        return rfc3339nano(v)
    return str(v)


def _csv_field(s: str, delimiter: str) -> str:
    """Go encoding/csv quoting: delimiter, quote, CR/LF or a leading space force quotes."""
    if s == "":
        return s
    if delimiter in s or '"' in s or "\r" in s or "\n" in s or s[0] in " \t":
        return '"' + s.replace('"', '""') + '"'
    return s


# ---------------------------------------------------------------------------------------------
# Tables and the Flux operations the project's queries use


@dataclass
class Table:
    cols: list[tuple[str, str]]  # (label, type) in column order
    key: tuple[str, ...]  # group key column labels
    rows: list[dict[str, Any]]

    def key_values(self) -> tuple:
        first = self.rows[0] if self.rows else {}
        return tuple((k, first.get(k)) for k in self.key)


@dataclass
class Series:
    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: dict[str, dict[int, tuple[str, Any]]] = field(default_factory=dict)


def read_range(
    series: Iterable[Series], start_ns: int, stop_ns: int, keep: Callable[[str, str], bool]
) -> list[Table]:
    """from() |> range() |> filter(measurement/field): one table per series and field, in
    series-key order, rows by time; tables left empty by the filter are dropped."""
    tables = []
    for s in sorted(series, key=lambda s: (s.measurement, s.tags)):
        for name in sorted(s.fields):
            if not keep(s.measurement, name):
                continue
            points = sorted((t, tv) for t, tv in s.fields[name].items() if start_ns <= t < stop_ns)
            if not points:
                continue
            typ = points[-1][1][0]
            tag_cols = [(k, STRING) for k, _ in s.tags]
            cols = [
                ("_start", TIME),
                ("_stop", TIME),
                ("_time", TIME),
                ("_value", typ),
                ("_field", STRING),
                ("_measurement", STRING),
                *tag_cols,
            ]
            base = {"_start": start_ns, "_stop": stop_ns, "_field": name}
            base |= {"_measurement": s.measurement, **dict(s.tags)}
            rows = [base | {"_time": t, "_value": v} for t, (_, v) in points]
            key = ("_start", "_stop", "_field", "_measurement", *(k for k, _ in s.tags))
            tables.append(Table(cols, key, rows))
    return tables


def group(tables: Sequence[Table], columns: Sequence[str] = ()) -> list[Table]:
    out: dict[tuple, Table] = {}
    for t in tables:
        key = tuple(c for c, _ in t.cols if c in columns)
        for row in t.rows:
            values = tuple(row.get(c) for c in key)
            if values not in out:
                out[values] = Table(list(t.cols), key, [])
            elif out[values].cols != t.cols:
                raise QueryError(f"schema collision: cannot group tables with columns {t.cols}")
            out[values].rows.append(row)
    return list(out.values())


def _selector(tables: Sequence[Table], pick: Callable[[list], Any]) -> list[Table]:
    out = []
    for t in tables:
        rows = [r for r in t.rows if r.get("_value") is not None]
        if rows:
            out.append(Table(list(t.cols), t.key, [pick(rows)]))
    return out


def first(tables: Sequence[Table]) -> list[Table]:
    return _selector(tables, lambda rows: rows[0])


def last(tables: Sequence[Table]) -> list[Table]:
    return _selector(tables, lambda rows: rows[-1])


def mean(tables: Sequence[Table]) -> list[Table]:
    out = []
    for t in tables:
        values = [r["_value"] for r in t.rows if r.get("_value") is not None]
        cols = [(c, typ) for c, typ in t.cols if c in t.key] + [("_value", DOUBLE)]
        row = {c: t.rows[0][c] for c in t.key} if t.rows else {}
        row["_value"] = sum(values) / len(values) if values else None
        out.append(Table(cols, t.key, [row]))
    return out


def aggregate_window_mean(
    tables: Sequence[Table], every_ns: int, start_ns: int, stop_ns: int
) -> list[Table]:
    """aggregateWindow(every, fn: mean, createEmpty: false, timeSrc: "_start"): per table, one row
    per window that holds values, windows at whole multiples of ``every`` since the epoch,
    ``_time`` the window's start clipped to the range, ``_start``/``_stop`` the range again."""
    out = []
    for t in tables:
        windows: dict[int, list[float]] = {}
        for r in t.rows:
            if r.get("_value") is not None:
                windows.setdefault(r["_time"] - r["_time"] % every_ns, []).append(r["_value"])
        if not windows:
            continue
        key = ("_start", "_stop", *(c for c in t.key if c not in ("_start", "_stop")))
        typed = dict(t.cols) | {"_start": TIME, "_stop": TIME}
        cols = [(c, typed[c]) for c in key] + [("_value", DOUBLE), ("_time", TIME)]
        fixed = {c: t.rows[0].get(c) for c in key} | {"_start": start_ns, "_stop": stop_ns}
        rows = [
            fixed | {"_value": sum(v) / len(v), "_time": max(w, start_ns)}
            for w, v in sorted(windows.items())
        ]
        out.append(Table(cols, key, rows))
    return out


def keep(tables: Sequence[Table], columns: Sequence[str]) -> list[Table]:
    """keep(): drops the other columns (from the group key too); tables whose reduced keys are
    equal are merged, as Flux's table builder cache does."""
    out: dict[tuple, Table] = {}
    for t in tables:
        cols = [(c, typ) for c, typ in t.cols if c in columns]
        key = tuple(c for c in t.key if c in columns)
        rows = [{c: r.get(c) for c, _ in cols} for r in t.rows]
        values = tuple(rows[0].get(c) for c in key) if rows else ()
        if values in out and out[values].cols == cols:
            out[values].rows.extend(rows)
        elif values in out:
            raise QueryError("schema collision in keep()")
        else:
            out[values] = Table(cols, key, rows)
    return list(out.values())


def pivot(
    tables: Sequence[Table], row_key: Sequence[str], column_key: str, value_column: str
) -> list[Table]:
    """pivot() as Flux's general transformation builds it: kept columns in input order (group key
    minus the pivoted ones, plus the row key), new columns in order of first appearance, one
    row per row key in order of first appearance, nulls where a column has no value."""
    out: dict[tuple, tuple[Table, dict[tuple, dict]]] = {}
    for t in tables:
        key = tuple(c for c in t.key if c not in (column_key, value_column))
        kept = [(c, typ) for c, typ in t.cols if c in key or c in row_key]
        value_type = dict(t.cols)[value_column]
        for r in t.rows:
            values = tuple(r.get(c) for c in key)
            if values not in out:
                out[values] = (Table(kept, key, []), {})
            table, by_row = out[values]
            label = str(r[column_key])
            if label not in dict(table.cols):
                table.cols.append((label, value_type))
            rk = tuple(r.get(c) for c in row_key)
            if rk not in by_row:
                by_row[rk] = {c: r.get(c) for c, _ in kept}
                table.rows.append(by_row[rk])
            by_row[rk][label] = r[value_column]
    return [table for table, _ in out.values()]


def union(*streams: Sequence[Table]) -> list[Table]:
    return [t for stream in streams for t in stream]


def encode_csv(
    tables: Sequence[Table],
    annotations: Sequence[str] = ("datatype", "group", "default"),
    header: bool = True,
    delimiter: str = ",",
    result: str = "_result",
) -> str:
    """One result as Flux's csv.ResultEncoder writes it, plus the CRLF that ends a result."""
    lines: list[list[str]] = []
    last_cols = None
    for table_id, t in enumerate(tables):
        cols = t.cols
        if cols != last_cols:
            if last_cols is not None:
                lines.append([])
            labels = ["result", "table", *(c for c, _ in cols)]
            for a in annotations:
                if a == "datatype":
                    lines.append(["#datatype", STRING, LONG, *(typ for _, typ in cols)])
                elif a == "group":
                    lines.append(
                        ["#group", "false", "false", *(str(c in t.key).lower() for c, _ in cols)]
                    )
                elif a == "default":
                    lines.append(["#default", result, "", *("" for _ in cols)])
            if header:
                lines.append(["", *labels])
        for row in t.rows:
            lines.append(
                ["", "", str(table_id), *(encode_value(row.get(c), typ) for c, typ in cols)]
            )
        last_cols = cols
    text = "".join(
        delimiter.join(_csv_field(f, delimiter) for f in line) + "\r\n" for line in lines
    )
    return text + "\r\n"
