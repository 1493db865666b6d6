"""A synthetic but coherent day of store points: P1 readings, charger states, decisions, modes.

For tests that need realistic data in any store (dashboards on a live InfluxDB, the contract on a
whole day). Sunny day: PV a bell from 06:00 to 20:00 peaking at ``pv_peak_w``; house 300 W base
with a kettle at 08:00 and cooking at 18:30; the car plugged in 09:00-19:00 takes
floor(surplus / 690 W) A (6-16 A) while the surplus covers 6 A. The mode is solar, manual from
17:30 ("I need the car full") and solar again at 21:00. Grid power = house + car - PV; the
import/export counters integrate it. Pure: times and sizes come in as arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.models import (
    LINK_OCPP,
    Action,
    ChargerState,
    Decision,
    Mode,
    ModeChange,
    Reading,
    Reason,
)
from common.store import Store
from common.store.base import integrate_energy

WATTS_PER_AMP = 690.0
CHARGER_ID = "12345"
METER = "5c2fafabcdef"


@dataclass(frozen=True)
class SampleDay:
    start: datetime
    stop: datetime
    readings: list[Reading]
    charger_states: list[ChargerState]
    decisions: list[Decision]
    modes: list[ModeChange]

    def write_to(self, store: Store, batch: int = 5000) -> None:
        for i in range(0, len(self.readings), batch):
            store.write_readings(self.readings[i : i + batch])
        for state in self.charger_states:
            store.write_charger_state(state)
        for d in self.decisions:
            store.write_decision(d)
        for m in self.modes:
            store.set_mode(m.mode, m.source, m.ts)

    @property
    def ev_kwh_and_solar_kwh(self) -> tuple[float, float]:
        surplus = {d.ts: d.surplus_w for d in self.decisions}
        samples = [(c.ts, c.power_w or 0.0, surplus.get(c.ts)) for c in self.charger_states]
        return integrate_energy(samples, self.stop)

    def counter_delta_kwh(self, field: str) -> float:
        values = [getattr(r, field) for r in self.readings if getattr(r, field) is not None]
        return values[-1] - values[0]

    @property
    def starts(self) -> int:
        return sum(d.action is Action.START for d in self.decisions)


#: A plausible reason for each action of the sample day.
REASONS = {
    Action.START: Reason.SURPLUS_START,
    Action.STOP: Reason.SURPLUS_STOP,
    Action.ADJUST: Reason.SURPLUS_ADJUST,
    Action.HOLD: Reason.HOLD,
    Action.NONE: Reason.NO_CAR,
}


def pv_w(hour: float, peak_w: float) -> float:
    if not 6.0 <= hour <= 20.0:
        return 0.0
    return peak_w * math.sin(math.pi * (hour - 6.0) / 14.0) ** 2


def house_w(hour: float) -> float:
    load = 300.0
    if 8.0 <= hour < 8.1:
        load += 2000.0  # kettle
    if 18.5 <= hour < 19.5:
        load += 2500.0  # cooking
    return load


def mode_at(hour: float) -> Mode:
    return Mode.MANUAL if 17.5 <= hour < 21.0 else Mode.SOLAR


def sample_day(
    start: datetime, reading_interval_s: int = 10, cycle_s: int = 60, pv_peak_w: float = 6000.0
) -> SampleDay:
    """One day from ``start`` (timezone-aware): readings every ``reading_interval_s``, a
    controller cycle (charger state + decision) every ``cycle_s``."""
    readings, states, decisions = [], [], []
    import_kwh, export_kwh = 4321.0, 1234.0
    current_a = 0
    for t in range(0, 86400, reading_interval_s):
        ts = start + timedelta(seconds=t)
        hour = t / 3600.0
        plugged = 9.0 <= hour < 19.0
        if t % cycle_s == 0:
            surplus = current_a * WATTS_PER_AMP + pv_w(hour, pv_peak_w) - house_w(hour)
            mode = mode_at(hour)
            if mode is Mode.MANUAL:
                target = 16 if plugged else 0
            else:
                target = min(16, math.floor(surplus / WATTS_PER_AMP)) if plugged else 0
                target = target if target >= 6 else 0
            if target and not current_a:
                action = Action.START
            elif current_a and not target:
                action = Action.STOP
            elif target != current_a:
                action = Action.ADJUST
            else:
                action = Action.HOLD if target else Action.NONE
            current_a = target
            power = current_a * WATTS_PER_AMP
            # Steered locally (OCPP): the link, the firmware and a current on each phase.
            states.append(
                ChargerState(ts=ts, charger_id=CHARGER_ID, status_id=None,
                             status="Charging" if power else "Waiting for car demand",
                             current_a=float(current_a), power_w=power, link=LINK_OCPP,
                             firmware="6.7.38", current_l1_a=float(current_a),
                             current_l2_a=float(current_a), current_l3_a=float(current_a))
            )  # fmt: skip
            decisions.append(
                Decision(ts=ts, mode=mode, action=action, reason=REASONS[action],
                         target_a=current_a, grid_power_mean_w=power - surplus,
                         surplus_w=surplus)
            )  # fmt: skip
        grid = house_w(hour) + current_a * WATTS_PER_AMP - pv_w(hour, pv_peak_w)
        if grid > 0:
            import_kwh += grid * reading_interval_s / 3.6e6
        else:
            export_kwh += -grid * reading_interval_s / 3.6e6
        readings.append(
            Reading(ts=ts, meter=METER, active_power_w=round(grid, 1),
                    active_power_l1_w=round(grid / 3, 1), active_power_l2_w=round(grid / 3, 1),
                    active_power_l3_w=round(grid / 3, 1),
                    total_power_import_kwh=round(import_kwh, 3),
                    total_power_export_kwh=round(export_kwh, 3),
                    active_power_average_w=round(max(grid, 0.0), 1),
                    montly_power_peak_w=3560.0)
        )  # fmt: skip
    modes = [
        ModeChange(ts=start + timedelta(hours=h), mode=mode_at(h), source="phone")
        for h in (0.0, 17.5, 21.0)
    ]
    return SampleDay(start, start + timedelta(days=1), readings, states, decisions, modes)
