"""Write the realistic days (bench/realistic/README.md) as CSVs that ``scc replay`` reads.

    python -m bench.make_realistic_days              # all days into bench/realistic/days/
    python -m bench.make_realistic_days jun-broken   # one day

Deterministic: the same files on every machine (bench/realistic/days.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.realistic.days import BY_NAME, DAYS, build
from sim.metrics import energy_balance
from sim.profiles import write_csv

OUT = Path(__file__).resolve().parent / "realistic" / "days"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("days", nargs="*", metavar="DAY", help=", ".join(BY_NAME))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    unknown = [d for d in args.days if d not in BY_NAME]
    if unknown:
        ap.error(f"unknown day {unknown[0]!r} (known: {', '.join(BY_NAME)})")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.days or [d.name for d in DAYS]:
        day = build(name)
        path = args.out / f"{name}.csv"
        write_csv(day, path)
        m = energy_balance(day.pv_w, day.house_w, [0.0] * len(day))
        held = " (held out)" if BY_NAME[name].held_out else ""
        print(
            f"{path}: PV {m.pv_kwh:.1f} kWh, house {m.house_kwh:.1f} kWh, "
            f"surplus {m.surplus_kwh:.1f} kWh{held}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
