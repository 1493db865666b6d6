"""SQLite store: window-mean query time and batch write throughput at 1 day, 30 days, 1 year.

Goals (issue 2): mean query under 5 ms median at 1 year of 1-second readings; writes above
20,000 readings/s in batches. Prints a table. Usage:
    python -m bench.store_bench [--days 1 30 365] [--dir /tmp/scc-bench] [--keep]
A year is 31.5 million rows (about 3 GB on disk) and takes a few minutes to fill.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common.models import Reading
from common.store.sqlite import SqliteStore

START = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 5_000


def readings(start_s: int, n: int) -> list[Reading]:
    out = []
    for i in range(start_s, start_s + n):
        p = 1500.0 * ((i % 600) / 300.0 - 1.0)
        out.append(
            Reading(
                ts=START + timedelta(seconds=i),
                meter="5c2fafa1b2c3",
                active_power_w=p,
                active_power_l1_w=p / 3,
                active_power_l2_w=p / 3,
                active_power_l3_w=p / 3,
                active_voltage_l1_v=231.0,
                active_voltage_l2_v=232.0,
                active_voltage_l3_v=230.5,
                active_current_l1_a=abs(p) / 690,
                active_current_l2_a=abs(p) / 690,
                active_current_l3_a=abs(p) / 690,
                total_power_import_kwh=6843.2 + i / 3600,
                total_power_export_kwh=5210.9 + i / 7200,
                active_power_average_w=p,
                montly_power_peak_w=3560.0,
            )
        )
    return out


def fill(store: SqliteStore, seconds: int, have: int) -> float:
    """Append readings from ``have`` to ``seconds``; return readings/s of write_readings alone."""
    write_s = 0.0
    n_written = 0
    for start in range(have, seconds, BATCH):
        batch = readings(start, min(BATCH, seconds - start))
        t0 = time.perf_counter()
        store.write_readings(batch)
        write_s += time.perf_counter() - t0
        n_written += len(batch)
    return n_written / write_s if write_s else float("nan")


def mean_query_ms(store: SqliteStore, seconds: int, n: int = 300) -> tuple[float, float]:
    rng = random.Random(1)
    times = []
    for _ in range(n):
        now = START + timedelta(seconds=rng.randrange(150, seconds))
        t0 = time.perf_counter()
        v = store.grid_power_mean(120, now)
        times.append((time.perf_counter() - t0) * 1000)
        assert v is not None
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, nargs="+", default=[1, 30, 365])
    ap.add_argument("--dir", default="/tmp/scc-store-bench")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    d = Path(args.dir)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    store = SqliteStore(d / "bench.db")
    print(
        f"{'history':>10} {'rows':>12} {'write rows/s':>13} "
        f"{'mean ms p50':>12} {'p95':>7} {'db MB':>8}"
    )
    have = 0
    for days in sorted(args.days):
        seconds = int(days * 86400)
        rate = fill(store, seconds, have)
        have = seconds
        p50, p95 = mean_query_ms(store, seconds)
        size_mb = sum(f.stat().st_size for f in d.iterdir()) / 1e6
        print(
            f"{days:>8g} d {seconds:>12,} {rate:>13,.0f} {p50:>12.3f} {p95:>7.3f} {size_mb:>8.0f}"
        )
        sys.stdout.flush()
    store.close()
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
