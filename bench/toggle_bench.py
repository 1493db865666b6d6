"""Toggle app numbers: page weight (bytes) and /api/status response time on a day of data.

Run from the repository root: ``python -m bench.toggle_bench [--requests 200]``. The store is a
real SQLite file holding one day of 1 Hz meter readings (86 400) plus a decision and a charger
point every 60 s, as the collector and controller write them.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import math
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from waitress import create_server

from common.config import ChargingConfig, Config, StoreConfig
from common.models import Action, ChargerState, Decision, Mode, Reading, Reason
from common.store.sqlite import SqliteStore
from common.timeutil import local_day_start
from toggle_app import create_app


def seed_day(store: SqliteStore, start: datetime, seconds: int) -> None:
    batch: list[Reading] = []
    for s in range(seconds):
        pv = max(0.0, 6000 * math.sin(math.pi * s / seconds))
        batch.append(
            Reading(
                ts=start + timedelta(seconds=s),
                active_power_w=500.0 - pv,
                active_power_l1_w=(500.0 - pv) / 3,
                active_voltage_l1_v=231.0,
                total_power_import_kwh=1000 + s * 1e-4,
                total_power_export_kwh=500 + s * 2e-4,
            )
        )
        if len(batch) == 3600:
            store.write_readings(batch)
            batch = []
    store.write_readings(batch)
    for s in range(0, seconds, 60):
        ts = start + timedelta(seconds=s)
        store.write_decision(
            Decision(ts=ts, mode=Mode.SOLAR, action=Action.HOLD, reason=Reason.HOLD, target_a=8,
                     grid_power_mean_w=-1200.0, surplus_w=4000.0)
        )  # fmt: skip
        store.write_charger_state(
            ChargerState(ts=ts, charger_id="1", status_id=194, status="Charging", current_a=8,
                         power_w=5500.0)
        )  # fmt: skip


def timings_ms(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (n - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        now = datetime.now(UTC)
        day_start = local_day_start(now)
        end = day_start + timedelta(days=1) - timedelta(seconds=1)
        store = SqliteStore(Path(tmp) / "scc.db")
        t = time.perf_counter()
        seed_day(store, day_start, 86400)
        print(f"seeded 86400 readings, 1440 decisions and charger points "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        config = Config(store=StoreConfig(sqlite_path=str(Path(tmp) / "scc.db")),
                        charging=ChargingConfig())  # fmt: skip
        app = create_app(config, store=store, clock=lambda: end)
        client = app.test_client()

        page = client.get("/").data
        assets = {
            name: client.get(f"/static/{name}").data for name in ("app.css", "app.js", "icon.svg")
        }
        total = len(page) + sum(len(b) for b in assets.values())
        total_gz = len(gzip.compress(page)) + sum(len(gzip.compress(b)) for b in assets.values())
        print("page weight (bytes, uncompressed; the app serves no gzip):")
        print(f"  index.html {len(page):6d}")
        for name, body in assets.items():
            print(f"  {name:10s} {len(body):6d}")
        print(f"  total      {total:6d}   (gzip would give {total_gz})")
        status_bytes = len(client.get("/api/status").data)
        print(f"/api/status body: {status_bytes} bytes")

        med, p95 = timings_ms(lambda: client.get("/api/status"), args.requests)
        print(f"/api/status in-process (Flask test client), {args.requests} requests: "
              f"median {med:.2f} ms, p95 {p95:.2f} ms")  # fmt: skip

        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)

        def over_http() -> None:
            conn.request("GET", "/api/status")
            r = conn.getresponse()
            r.read()
            assert r.status == 200

        med, p95 = timings_ms(over_http, args.requests)
        print(f"/api/status over HTTP (waitress, keep-alive), {args.requests} requests: "
              f"median {med:.2f} ms, p95 {p95:.2f} ms")  # fmt: skip
        conn.close()
        server.task_dispatcher.shutdown()  # let the worker threads finish before the socket goes
        server.close()
        thread.join(timeout=5)
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
