r"""InfluxDB line protocol, parsed as InfluxDB 2 parses it, for the fake server.

Escapes: ``\,`` and ``\ `` in measurements; ``\,`` ``\=`` ``\ `` in tag keys, tag values and
field keys; ``\"`` and ``\\`` in string field values (any other backslash is literal). Field
values are floats (``1``, ``-1.5``, ``1e+20``), integers (``1i``), unsigned (``1u``), strings
(``"..."``, which may hold newlines) and booleans (``t``, ``true``, ``FALSE``, ...). The timestamp
is optional and counts units of the request's ``precision``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.flux_tables import BOOL, DOUBLE, LONG, STRING, ULONG

PRECISION_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
INT64 = (-(2**63), 2**63 - 1)
#: How InfluxDB names field types in its type-conflict messages.
TYPE_NAMES = {
    DOUBLE: "float",
    LONG: "integer",
    ULONG: "unsigned",
    STRING: "string",
    BOOL: "boolean",
}


class LineProtocolError(ValueError):
    def __init__(self, line: str, reason: str) -> None:
        super().__init__(f"unable to parse '{line}': {reason}")


@dataclass(frozen=True)
class LinePoint:
    measurement: str
    tags: tuple[tuple[str, str], ...]  # sorted by key, as the series key sorts them
    fields: dict[str, tuple[str, Any]]  # name -> (flux type, value)
    ts_ns: int


def _split_lines(text: str) -> list[str]:
    """Lines as InfluxDB's scanner cuts them: a newline inside a quoted field value is data."""
    if '"' not in text:
        return text.split("\n")
    lines, start, i, n = [], 0, 0, len(text)
    quoted = in_fields = False
    equals = commas = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 2 < n:
            i += 2
            continue
        if c == " ":
            in_fields = True
        if in_fields:
            if not quoted and c == "=":
                equals += 1
            elif not quoted and c == ",":
                commas += 1
            elif c == '"' and equals > commas:
                quoted = not quoted
        if c == "\n" and not quoted:
            lines.append(text[start:i])
            start, quoted, in_fields, equals, commas = i + 1, False, False, 0, 0
        i += 1
    lines.append(text[start:])
    return lines


def _scan(line: str, i: int, stops: str) -> int:
    """Index of the first unescaped character of ``stops`` at or after ``i`` (or len)."""
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            i += 2
            continue
        if line[i] in stops:
            return i
        i += 1
    return len(line)


def _unescape(s: str, chars: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in chars:
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TRUE = {"t", "T", "true", "True", "TRUE"}
_FALSE = {"f", "F", "false", "False", "FALSE"}


def _field_value(raw: str, line: str) -> tuple[str, Any]:
    if raw in _TRUE:
        return BOOL, True
    if raw in _FALSE:
        return BOOL, False
    if re.fullmatch(r"[+-]?\d+i", raw):
        v = int(raw[:-1])
        if not INT64[0] <= v <= INT64[1]:
            raise LineProtocolError(line, f"unable to parse integer {raw}: value out of range")
        return LONG, v
    if re.fullmatch(r"\d+u", raw):
        v = int(raw[:-1])
        if v >= 2**64:
            raise LineProtocolError(line, f"unable to parse unsigned {raw}: value out of range")
        return ULONG, v
    if _FLOAT.fullmatch(raw):
        return DOUBLE, float(raw)
    if raw and raw[0] in "tfTF":
        raise LineProtocolError(line, "invalid boolean")
    raise LineProtocolError(line, "invalid number")


def _parse_line(line: str, scale_ns: int, now_ns: int) -> LinePoint:
    measurement, tags, i = _parse_series(line)
    if i >= len(line):
        raise LineProtocolError(line, "missing fields")
    while i < len(line) and line[i] == " ":
        i += 1
    fields, k = _parse_fields(line, i)
    ts_ns = _parse_timestamp(line, k, scale_ns, now_ns)
    return LinePoint(measurement, tuple(sorted(tags.items())), fields, ts_ns)


def _parse_series(line: str) -> tuple[str, dict[str, str], int]:
    """The measurement and its tags, and where they end."""
    i = _scan(line, 0, ", ")
    measurement = _unescape(line[:i], ", ")
    if not measurement:
        raise LineProtocolError(line, "missing measurement")
    tags: dict[str, str] = {}
    while i < len(line) and line[i] == ",":
        key, value, i = _parse_tag(line, i + 1)
        tags[key] = value
    return measurement, tags, i


def _parse_tag(line: str, i: int) -> tuple[str, str, int]:
    j = _scan(line, i, "=, ")
    if j >= len(line) or line[j] != "=":
        raise LineProtocolError(line, "missing tag value")
    key = _unescape(line[i:j], ",= ")
    k = _scan(line, j + 1, ", ")
    value = _unescape(line[j + 1 : k], ",= ")
    if not key:
        raise LineProtocolError(line, "missing tag key")
    if not value:
        raise LineProtocolError(line, "missing tag value")
    return key, value, k


def _parse_fields(line: str, i: int) -> tuple[dict[str, tuple[str, Any]], int]:
    """The fields from ``i``, and where they end (the end of the line, or before a timestamp)."""
    fields: dict[str, tuple[str, Any]] = {}
    while True:
        j = _scan(line, i, "=, ")
        if j >= len(line) or line[j] != "=":
            raise LineProtocolError(line, "invalid field format" if fields else "missing fields")
        key = _unescape(line[i:j], ",= ")
        if not key:
            raise LineProtocolError(line, "missing field key")
        fields[key], k = _parse_field_value(line, j + 1)
        if k >= len(line) or line[k] != ",":
            return fields, k
        i = k + 1


def _parse_field_value(line: str, j: int) -> tuple[tuple[str, Any], int]:
    if j < len(line) and line[j] == '"':
        k = j + 1
        while k < len(line) and line[k] != '"':
            k += 2 if line[k] == "\\" and k + 1 < len(line) else 1
        if k >= len(line):
            raise LineProtocolError(line, "unbalanced quotes")
        raw = line[j + 1 : k]
        return (STRING, raw.replace('\\"', '"').replace("\\\\", "\\")), k + 1
    k = _scan(line, j, ", ")
    if k == j:
        raise LineProtocolError(line, "missing field value")
    return _field_value(line[j:k], line), k


def _parse_timestamp(line: str, k: int, scale_ns: int, now_ns: int) -> int:
    rest = line[k:].strip(" ")
    if not rest:
        return now_ns
    if re.fullmatch(r"-?\d+", rest):
        return int(rest) * scale_ns
    raise LineProtocolError(line, "bad timestamp")


def parse_line_protocol(
    text: str, precision: str = "ns", now_ns: int | None = None
) -> list[LinePoint]:
    """Parse a write body; raises LineProtocolError naming the first bad line."""
    scale = PRECISION_NS[precision]
    now = time.time_ns() if now_ns is None else now_ns
    points = []
    for raw in _split_lines(text):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        points.append(_parse_line(line.lstrip(), scale, now - now % scale))
    return points
