"""The project's Flux queries as the fake evaluates them: each text with its pipeline.

Each entry holds a copy of the Flux text it was written for. The fake answers a query only when
the text it receives is one of common/store/flux.py's QUERIES *and* equals the copy here, so a
changed query fails loudly ("update tests/fakes/flux_queries.py") instead of being answered by a
pipeline that no longer matches it.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes.flux_tables import (
    Series,
    Table,
    aggregate_window_mean,
    first,
    group,
    keep,
    last,
    mean,
    pivot,
    read_range,
    union,
)

#: (series, range start ns, range stop ns) -> tables; WINDOWED queries get windowEvery in ns too.
Pipeline = Callable[..., list[Table]]


def _is(measurement: str, *fields: str) -> Callable[[str, str], bool]:
    return lambda m, f: m == measurement and (not fields or f in fields)


def grid_power_mean(s: list[Series], start: int, stop: int) -> list[Table]:
    return mean(group(read_range(s, start, stop, _is("p1", "active_power_w"))))


def grid_phase_means(s: list[Series], start: int, stop: int) -> list[Table]:
    fields = ("active_power_w", "active_power_l1_w", "active_power_l2_w", "active_power_l3_w")
    return mean(group(read_range(s, start, stop, _is("p1", *fields)), ["_field"]))


def _newest(measurement: str, tag: str) -> Pipeline:
    def run(s: list[Series], start: int, stop: int) -> list[Table]:
        newest = last(read_range(s, start, stop, _is(measurement)))
        return pivot(newest, ["_time", tag], "_field", "_value")

    return run


def last_mode(s: list[Series], start: int, stop: int) -> list[Table]:
    return pivot(last(read_range(s, start, stop, _is("mode"))), ["_time"], "_field", "_value")


def energy_points(s: list[Series], start: int, stop: int) -> list[Table]:
    def wanted(m: str, f: str) -> bool:
        return (m == "charger" and f in ("power_w", "status")) or (
            m == "decision" and f in ("surplus_w", "action")
        )

    return keep(read_range(s, start, stop, wanted), ["_time", "_measurement", "_field", "_value"])


def _first_and_last(*fields: str) -> Pipeline:
    """Two streams read from the bucket each, first() of one and last() of the other, unioned."""

    def run(s: list[Series], start: int, stop: int) -> list[Table]:
        firsts = first(read_range(s, start, stop, _is("p1", *fields)))
        lasts = last(read_range(s, start, stop, _is("p1", *fields)))
        return union(firsts, lasts)

    return run


def power_series(s: list[Series], start: int, stop: int, every: int) -> list[Table]:
    def wanted(m: str, f: str) -> bool:
        return (m, f) in {
            ("p1", "active_power_w"),
            ("charger", "power_w"),
            ("decision", "surplus_w"),
        }

    grouped = group(read_range(s, start, stop, wanted), ["_measurement", "_field"])
    return aggregate_window_mean(grouped, every, start, stop)


PIPELINES: dict[str, tuple[str, Pipeline]] = {
    "grid_power_mean": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")
  |> group()
  |> mean()""",
        grid_power_mean,
    ),
    "grid_phase_means": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1"
      and (r._field == "active_power_w" or r._field == "active_power_l1_w"
        or r._field == "active_power_l2_w" or r._field == "active_power_l3_w"))
  |> group(columns: ["_field"])
  |> mean()""",
        grid_phase_means,
    ),
    "latest_reading": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1")
  |> last()
  |> pivot(rowKey: ["_time", "meter"], columnKey: ["_field"], valueColumn: "_value")""",
        _newest("p1", "meter"),
    ),
    "last_charger_state": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "charger")
  |> last()
  |> pivot(rowKey: ["_time", "charger_id"], columnKey: ["_field"], valueColumn: "_value")""",
        _newest("charger", "charger_id"),
    ),
    "last_decision": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "decision")
  |> last()
  |> pivot(rowKey: ["_time", "mode"], columnKey: ["_field"], valueColumn: "_value")""",
        _newest("decision", "mode"),
    ),
    "last_mode": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "mode")
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")""",
        last_mode,
    ),
    "energy_points": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) =>
      (r._measurement == "charger" and (r._field == "power_w" or r._field == "status"))
      or (r._measurement == "decision" and (r._field == "surplus_w" or r._field == "action")))
  |> keep(columns: ["_time", "_measurement", "_field", "_value"])""",
        energy_points,
    ),
    "meter_counters": (
        """firsts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1"
      and (r._field == "total_power_import_kwh" or r._field == "total_power_export_kwh"))
  |> first()
lasts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1"
      and (r._field == "total_power_import_kwh" or r._field == "total_power_export_kwh"))
  |> last()

union(tables: [firsts, lasts])""",
        _first_and_last("total_power_import_kwh", "total_power_export_kwh"),
    ),
    "p1_span": (
        """firsts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")
  |> first()
lasts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")
  |> last()

union(tables: [firsts, lasts])""",
        _first_and_last("active_power_w"),
    ),
    "power_series": (
        """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) =>
      (r._measurement == "p1" and r._field == "active_power_w")
      or (r._measurement == "charger" and r._field == "power_w")
      or (r._measurement == "decision" and r._field == "surplus_w"))
  |> group(columns: ["_measurement", "_field"])
  |> aggregateWindow(every: windowEvery, fn: mean, createEmpty: false, timeSrc: "_start")""",
        power_series,
    ),
}
