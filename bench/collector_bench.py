"""Collector benchmark: the real poll loop and writer against the simulated P1 over HTTP.

Prints, per run: poll-to-store latency (from the moment a poll is sent to the moment its reading
is committed in the store; median, p95, max in ms), the meter request time, CPU use of the
collector process (% of one core: process time over wall time, both threads), and RSS after a
warm-up and at the end, to show memory does not grow. The simulated meter runs in its own
process so its CPU is not counted.

    python -m bench.collector_bench                      # 1 Hz for 120 s, then 10 Hz for 30 s
    python -m bench.collector_bench --runs 1:600         # 1 Hz for ten minutes
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from collector.homewizard import HomeWizardClient  # noqa: E402
from collector.service import Collector  # noqa: E402
from collector.spool import Spool  # noqa: E402
from collector.writer import ReadingWriter  # noqa: E402
from common.store.sqlite import SqliteStore  # noqa: E402


def rss_mb() -> float:
    """Resident set size now (Linux /proc), in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(int(q * len(s)), len(s) - 1)]


class TimedClient:
    """The real client, with each request's duration noted."""

    def __init__(self, client: HomeWizardClient) -> None:
        self.client = client
        self.request_ms: list[float] = []

    def read(self):
        t0 = time.perf_counter()
        try:
            return self.client.read()
        finally:
            self.request_ms.append((time.perf_counter() - t0) * 1000)


def start_meter() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.meter", "--port", "0", "--export-w", "4200"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None  # stdout=PIPE
    line = proc.stdout.readline()
    if " on http" not in line:
        proc.kill()
        raise SystemExit(f"the simulated meter did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def run(url: str, rate_hz: float, seconds: float, flush_s: float, workdir: Path) -> None:
    store = SqliteStore(workdir / f"bench-{rate_hz:g}hz.db")
    spool = Spool(workdir / f"spool-{rate_hz:g}hz.sqlite")
    latencies_ms: list[float] = []

    def on_written(readings) -> None:
        now = datetime.now(UTC)
        latencies_ms.extend((now - r.ts).total_seconds() * 1000 for r in readings)

    writer = ReadingWriter(lambda: store, spool, flush_interval_s=flush_s, on_written=on_written)
    meter = TimedClient(HomeWizardClient(url))
    stop = threading.Event()
    collector = Collector(meter, writer, 1.0 / rate_hz, stop=stop)
    runner = threading.Thread(target=collector.run, name="bench-collector")

    warmup_s = min(10.0, seconds / 4)
    wall0, cpu0 = time.monotonic(), time.process_time()
    runner.start()
    time.sleep(warmup_s)
    rss_start = rss_mb()
    time.sleep(max(seconds - warmup_s, 0))
    stop.set()
    runner.join(timeout=60)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    rss_end = rss_mb()
    stored = store._run("SELECT COUNT(*) FROM p1")[0][0]

    print(
        f"collector at {rate_hz:g} Hz for {seconds:g} s "
        f"(simulated P1 over loopback HTTP, SQLite store, flush every {flush_s:g} s)"
    )
    print(
        f"  polls {collector.polls}, readings {collector.readings}, stored {stored}, "
        f"spooled {writer.spooled}, meter failures {collector.polls - collector.readings}"
    )
    r = meter.request_ms
    print(
        f"  meter request:         median {statistics.median(r):7.1f} ms, "
        f"p95 {pct(r, 0.95):7.1f} ms, max {max(r):7.1f} ms"
    )
    lat = latencies_ms
    print(
        f"  poll-to-store latency: median {statistics.median(lat):7.1f} ms, "
        f"p95 {pct(lat, 0.95):7.1f} ms, max {max(lat):7.1f} ms"
    )
    print(f"  CPU: {100 * cpu / wall:.2f} % of one core ({cpu:.2f} s CPU in {wall:.1f} s)")
    print(
        f"  RSS: {rss_start:.1f} MB after {warmup_s:g} s warm-up, {rss_end:.1f} MB at the end "
        f"({rss_end - rss_start:+.2f} MB)"
    )
    meter.client.close()
    spool.close()
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["1:120", "10:30"],
        metavar="HZ:SECONDS",
        help="poll rate and duration of each run (default: 1:120 10:30)",
    )
    parser.add_argument("--flush-s", type=float, default=2.0, help="writer flush interval")
    args = parser.parse_args()
    proc, url = start_meter()
    try:
        with tempfile.TemporaryDirectory(prefix="collector-bench-") as tmp:
            for spec in args.runs:
                hz, _, seconds = spec.partition(":")
                run(url, float(hz), float(seconds), args.flush_s, Path(tmp))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
