"""Write the reference days shipped in bench/days/ (deterministic: same files on every machine).

    python -m bench.make_days
How they are made: see sim/profiles.py (clear-sky bell for an 8 kWp Belgian roof in late
spring, a seeded cloud process, a house load with fixed appliance times).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.metrics import energy_balance
from sim.profiles import synthetic_day, write_csv

OUT = Path(__file__).resolve().parent / "days"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for kind in ("clear", "broken", "overcast"):
        day = synthetic_day(kind)
        path = OUT / f"{kind}.csv"
        write_csv(day, path)
        m = energy_balance(day.pv_w, day.house_w, [0.0] * len(day))
        print(
            f"{path.name}: PV {m.pv_kwh:.1f} kWh, house {m.house_kwh:.1f} kWh, "
            f"surplus {m.surplus_kwh:.1f} kWh"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
