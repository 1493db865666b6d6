"""Policy benchmark: each shipped day through our policy, the naive one and the perfect limit.

    python bench/policy_bench.py                      # the table in the README
    python bench/policy_bench.py --set charging.stop_delay_s=600
    python bench/policy_bench.py --sweep --days broken  # the sweep the defaults were chosen from

Every row of ``default`` and ``naive`` is a full ``scc replay``: the real controller, the real
``wallbox`` package over HTTP to the simulated cloud and its rate limits, 86 400 meter samples.
Columns: EV kWh; its solar kWh and solar share; captured = EV solar kWh / the limit's solar kWh;
EV grid kWh (what the car took from the grid) and the house's whole import; starts/stops of
charging; accepted charger writes; 429 answers from the cloud.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.config import Config, ConfigError
from common.sim.profiles import load_csv
from common.sim.replay import ReplayOptions, apply_sets, replay

DAYS = Path(__file__).resolve().parent / "days"
ORDER = ("clear", "broken", "overcast")
#: The sweep the defaults were chosen from (start_delay_s, stop_delay_s, window_s).
SWEEP = {
    "charging.start_delay_s": (60, 120, 180, 300),
    "charging.stop_delay_s": (120, 300, 600, 900),
    "charging.window_s": (60, 120, 300),
}


def run_one(day: str, policy: str, sets: tuple[str, ...]) -> dict[str, object]:
    config = apply_sets(Config(), sets)
    profile = load_csv(DAYS / f"{day}.csv")
    r = replay(profile, config, ReplayOptions(policy=policy, keep_series=False))  # type: ignore[arg-type]
    out = r.to_json()
    out["day"], out["sets"] = day, list(sets)
    return out


def fmt_row(label: str, r: dict[str, object]) -> str:
    def num(key: str, spec: str = "6.1f") -> str:
        v = r.get(key)
        return f"{v:{spec}}" if isinstance(v, int | float) else f"{'-':>{len(format(0, spec))}}"

    def pct(key: str) -> str:
        v = r.get(key)
        return f"{v:.1%}" if isinstance(v, float) else "-"

    perfect = r["policy"] == "perfect"
    writes = "-" if perfect else r["charger_writes"]
    limited = "-" if perfect else r["rate_limited"]
    return (
        f"| {label} | {num('ev_kwh')} | {num('ev_solar_kwh')} | "
        f"{pct('solar_share'):>6} | {pct('captured'):>6} | "
        f"{num('ev_grid_kwh', '5.2f')} | {num('import_kwh', '5.1f')} | "
        f"{r['starts']:>3} / {r['stops']:<3} | {writes:>4} | {limited:>3} |"
    )


HEADER = (
    "| day / policy | EV kWh | solar kWh | solar share | captured | EV grid kWh | import kWh "
    "| starts / stops | writes | 429 |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", nargs="+", default=list(ORDER), choices=ORDER)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--sweep", action="store_true", help="sweep start/stop delays and window")
    ap.add_argument("--jobs", type=int, default=2, help="replays in parallel (default 2)")
    ap.add_argument("--json", action="store_true", help="one JSON object per replay")
    args = ap.parse_args(argv)
    try:
        apply_sets(Config(), args.set)
    except ConfigError as e:
        print(f"policy_bench: {e}", file=sys.stderr)
        return 2
    base = tuple(args.set)
    jobs: list[tuple[str, str, tuple[str, ...]]] = []
    if args.sweep:
        keys = list(SWEEP)
        for values in itertools.product(*(SWEEP[k] for k in keys)):
            sets = base + tuple(f"{k}={v}" for k, v in zip(keys, values, strict=True))
            jobs += [(day, "default", sets) for day in args.days]
        jobs += [(day, p, base) for day in args.days for p in ("naive", "perfect")]
    else:
        jobs = [(day, p, base) for day in args.days for p in ("default", "naive", "perfect")]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        results = list(pool.map(run_one, *zip(*jobs, strict=True)))
    if args.json:
        for r in results:
            print(json.dumps(r))
        return 0
    print(HEADER)
    for r in results:
        if args.sweep and r["policy"] == "default":
            label = f"{r['day']} " + " ".join(
                f"{s.split('.', 1)[1].replace('_s=', '=')}"
                for s in r["sets"]  # type: ignore[union-attr]
            )
        else:
            label = f"{r['day']} {r['policy']}"
        print(fmt_row(label, r))
    slowest = max(float(r["runtime_s"]) for r in results)  # type: ignore[arg-type]
    print(
        f"\n{len(results)} replays in {time.perf_counter() - t0:.0f} s "
        f"(slowest {slowest:.1f} s); defaults: {', '.join(base) or 'config defaults'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
