"""Policy benchmark: ours against its peers on the realistic days, and the synthetic days.

    python -m bench.policy_bench                      # ours, seed, evcc on the realistic days
    python -m bench.policy_bench --synthetic          # the synthetic days: ours, naive, perfect
    python -m bench.policy_bench --synthetic --set charging.stop_delay_s=600
    python -m bench.policy_bench --synthetic --sweep --days broken

Without ``--synthetic`` see bench/realistic/compare.py (issue 13's goal, both grids, held-out
days apart).

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
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import cast

from bench.realistic import compare
from common.config import Config, ConfigError
from scc.replay import PolicyName, ReplayOptions, replay
from scc.replay_cli import apply_sets
from sim.profiles import load_csv

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
    options = ReplayOptions(policy=cast(PolicyName, policy), keep_series=False)
    r = replay(profile, config, options)
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


def session_bound(
    day: str, max_sessions: int, config: Config, min_captured: float = 0.9
) -> tuple[float, float]:
    """(solar share, captured) of the best any controller could do in ``max_sessions`` sessions.

    A clairvoyant, instant controller: inside a session it draws max(min, floor(surplus)) amps
    at once (no latency, no cycle), outside it draws nothing, and it knows the whole day ahead.
    Sessions begin and end at the edges of sunny spells (surplus >= min current for >= 30 s).
    Maximises solar - lambda x grid over a sweep of lambda by dynamic programming and keeps the
    best solar share that still captures ``min_captured`` of the limit's solar kWh.
    """
    c = config.charging
    p = load_csv(DAYS / f"{day}.csv")
    surplus = [max(0.0, a - b) for a, b in zip(p.pv_w, p.house_w, strict=True)]
    solar, grid, limit = _session_sums(
        surplus, c.effective_watts_per_amp, c.min_current_a, c.max_current_a
    )
    runs = _sunny_runs(surplus, c.min_current_a * c.effective_watts_per_amp)
    best = (0.0, 0.0)
    for lam in (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 40):
        so, gr = _best_sessions(runs, solar, grid, max_sessions, lam)
        if so + gr > 0 and so / limit >= min_captured and so / (so + gr) > best[0]:
            best = (so / (so + gr), so / limit)
    return best


def _session_sums(
    surplus: list[float], wpa: float, lo: int, hi: int
) -> tuple[list[float], list[float], float]:
    """Prefix sums of the solar and grid W*s the instant controller draws in a session, and the
    perfect limit's solar W*s (floor(surplus) amps when that reaches the minimum)."""
    solar, grid = [0.0], [0.0]
    limit = 0.0
    for s in surplus:
        amps = math.floor(s / wpa + 1e-9)
        ev = min(max(amps, lo), hi) * wpa
        solar.append(solar[-1] + min(ev, s))
        grid.append(grid[-1] + ev - min(ev, s))
        limit += min(amps, hi) * wpa if amps >= lo else 0.0
    return solar, grid, limit


def _sunny_runs(surplus: list[float], min_w: float, min_s: int = 30) -> list[tuple[int, int]]:
    """[start, end) of the spells with surplus >= ``min_w`` for at least ``min_s`` seconds."""
    runs, start = [], None
    for i, s in enumerate([*surplus, 0.0]):
        if s >= min_w and start is None:
            start = i
        elif s < min_w and start is not None:
            if i - start >= min_s:
                runs.append((start, i))
            start = None
    return runs


def _best_sessions(
    runs: list[tuple[int, int]],
    solar: list[float],
    grid: list[float],
    max_sessions: int,
    lam: float,
) -> tuple[float, float]:
    """(solar, grid) of the ``max_sessions`` sessions, each from the start of one run to the end
    of a later one, that maximise solar - lam x grid."""
    # dp[j][b]: best (value, solar, grid) with j sessions among the first b runs
    dp = [[(0.0, 0.0, 0.0)] * (len(runs) + 1)] + [
        [(-math.inf, 0.0, 0.0)] * (len(runs) + 1) for _ in range(max_sessions)
    ]
    for j in range(1, max_sessions + 1):
        dp[j][0] = (0.0, 0.0, 0.0)
        for b in range(1, len(runs) + 1):
            cand = dp[j][b - 1]
            y = runs[b - 1][1]
            for a in range(1, b + 1):
                x = runs[a - 1][0]
                so, gr = solar[y] - solar[x], grid[y] - grid[x]
                prev = dp[j - 1][a - 1]
                v = prev[0] + so - lam * gr
                if v > cand[0]:
                    cand = (v, prev[1] + so, prev[2] + gr)
            dp[j][b] = cand
    _, so, gr = dp[max_sessions][len(runs)]
    return so, gr


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--synthetic" not in argv:
        return compare.main(argv)
    argv = [a for a in argv if a != "--synthetic"]
    args = _parser().parse_args(argv)
    try:
        config = apply_sets(Config(), args.set)
    except ConfigError as e:
        print(f"policy_bench: {e}", file=sys.stderr)
        return 2
    if args.bound is not None:
        return _print_bound(args.bound, args.days, config)
    base = tuple(args.set)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        results = list(pool.map(run_one, *zip(*_jobs(args.days, base, args.sweep), strict=True)))
    if args.json:
        for r in results:
            print(json.dumps(r))
        return 0
    _print_table(results, args.sweep)
    slowest = max(float(cast(float, r["runtime_s"])) for r in results)
    print(
        f"\n{len(results)} replays in {time.perf_counter() - t0:.0f} s "
        f"(slowest {slowest:.1f} s); defaults: {', '.join(base) or 'config defaults'}"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", nargs="+", default=list(ORDER), choices=ORDER)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--sweep", action="store_true", help="sweep start/stop delays and window")
    ap.add_argument("--jobs", type=int, default=2, help="replays in parallel (default 2)")
    ap.add_argument("--json", action="store_true", help="one JSON object per replay")
    ap.add_argument(
        "--bound",
        type=int,
        metavar="N",
        help="only print the best solar share any controller could reach in N sessions",
    )
    return ap


def _print_bound(sessions: int, days: list[str], config: Config) -> int:
    if sessions < 1:
        print("policy_bench: --bound needs at least 1 session", file=sys.stderr)
        return 2
    for day in days:
        share, captured = session_bound(day, sessions, config)
        print(
            f"{day}: with at most {sessions} sessions and >= 90 % captured, a clairvoyant "
            f"instant controller reaches a solar share of {share:.1%} (captured {captured:.0%})"
        )
    return 0


def _jobs(
    days: list[str], base: tuple[str, ...], sweep: bool
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(day, policy, sets) for each replay: the three policies, or the sweep and the references."""
    if not sweep:
        return [(day, p, base) for day in days for p in ("default", "naive", "perfect")]
    keys = list(SWEEP)
    jobs: list[tuple[str, str, tuple[str, ...]]] = []
    for values in itertools.product(*(SWEEP[k] for k in keys)):
        sets = base + tuple(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        jobs += [(day, "default", sets) for day in days]
    return jobs + [(day, p, base) for day in days for p in ("naive", "perfect")]


def _print_table(results: list[dict[str, object]], sweep: bool) -> None:
    print(HEADER)
    for r in results:
        if sweep and r["policy"] == "default":
            label = f"{r['day']} " + " ".join(
                f"{s.split('.', 1)[1].replace('_s=', '=')}" for s in cast(list[str], r["sets"])
            )
        else:
            label = f"{r['day']} {r['policy']}"
        print(fmt_row(label, r))


if __name__ == "__main__":
    sys.exit(main())
