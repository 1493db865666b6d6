"""SQLite store: window-mean query time, batch write throughput and file size at 1 day, 30 days,
1 year of 1-second readings, with the retention the collector applies (1 s readings for
``--raw-days``, then 1-minute means for ``--rollup-days``), run after each simulated hour (the
collector's writer runs it every 10 minutes).

Goals: mean query under 5 ms median at any history; writes above 20,000 readings/s in batches; a
year at 1 Hz under 150 MB on disk (without retention it is about 4 GB: ``--no-retention``). Prints
a table. Usage:
    python -m bench.store_bench [--days 1 30 365] [--raw-days 7] [--rollup-days 730]
                                [--no-retention] [--dir /tmp/scc-bench] [--keep]
A year is 31.5 million readings written and takes half an hour or so.
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
from common.store.sqlite import RAW_DAYS, ROLLUP_DAYS, SqliteStore

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


def mean_query_ms(
    store: SqliteStore, seconds: int, raw_s: int, n: int = 300
) -> tuple[float, float]:
    """Window means at random moments of the part still held at 1 s (the controller's case)."""
    rng = random.Random(1)
    times = []
    for _ in range(n):
        now = START + timedelta(seconds=rng.randrange(max(150, seconds - raw_s + 150), seconds))
        t0 = time.perf_counter()
        v = store.grid_power_mean(120, now)
        times.append((time.perf_counter() - t0) * 1000)
        assert v is not None
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def prune_at(store: SqliteStore, end_s: int) -> float:
    """The retention as the writer runs it (in rounds); seconds it took."""
    t0 = time.perf_counter()
    while store.prune(START + timedelta(seconds=end_s), budget_s=0.5):
        pass
    return time.perf_counter() - t0


def count(store: SqliteStore, table: str) -> int:
    return int(store._run(f"SELECT COUNT(*) FROM {table}")[0][0])


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--days", type=float, nargs="+", default=[1, 30, 365])
    ap.add_argument("--raw-days", type=float, default=RAW_DAYS)
    ap.add_argument("--rollup-days", type=float, default=ROLLUP_DAYS)
    ap.add_argument("--no-retention", action="store_true", help="never prune (how it was)")
    ap.add_argument("--dir", default="/tmp/scc-store-bench")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    d = Path(args.dir)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    store = SqliteStore(d / "bench.db", raw_days=args.raw_days, rollup_days=args.rollup_days)
    raw_s = 10**12 if args.no_retention else int(args.raw_days * 86400)
    kept = f"{args.raw_days:g} d at 1 s, then 1-minute means for {args.rollup_days:g} d"
    print(f"retention: {'none' if args.no_retention else kept}")
    print(
        f"{'history':>10} {'1 s rows':>11} {'1 min rows':>10} {'write rows/s':>13} "
        f"{'mean ms p50':>12} {'p95':>7} {'prune s/day':>11} {'db MB':>8}"
    )
    have, written_s, write_n, prune_s = 0, 0.0, 0, 0.0
    for days in sorted(args.days):
        seconds = int(days * 86400)
        while have < seconds:  # one simulated hour at a time, then the retention
            step = min(3600, seconds - have)
            rate = fill(store, have + step, have)
            written_s += step / rate
            write_n += step
            have += step
            if not args.no_retention:
                prune_s += prune_at(store, have)
        p50, p95 = mean_query_ms(store, seconds, raw_s)
        size_mb = sum(f.stat().st_size for f in d.iterdir()) / 1e6
        per_day = prune_s / (have / 86400)
        print(
            f"{days:>8g} d {count(store, 'p1'):>11,} {count(store, 'p1_1m'):>10,} "
            f"{write_n / written_s:>13,.0f} {p50:>12.3f} {p95:>7.3f} {per_day:>11.2f} "
            f"{size_mb:>8.1f}"
        )
        sys.stdout.flush()
    store.close()
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
