"""``scc replay``'s table: a day's result as a person reads it (scc/replay.py runs the day)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scc.replay import ReplayResult


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def format_table(r: ReplayResult) -> str:
    m = r.metrics
    settings = ", ".join(f"{k} {v:g}" for k, v in r.charging.items())
    lines = [
        f"Replay of {r.profile} ({r.duration_s / 3600:.1f} h), policy {r.policy}",
        f"  {settings}",
        "",
        f"  {'PV':<34}{m.pv_kwh:8.2f} kWh",
        f"  {'house':<34}{m.house_kwh:8.2f} kWh",
        f"  {'surplus (PV above house)':<34}{m.surplus_kwh:8.2f} kWh",
        f"  {'EV':<34}{m.ev_kwh:8.2f} kWh",
        f"  {'  from solar':<34}{m.ev_solar_kwh:8.2f} kWh   solar share {_pct(m.solar_share)}",
        f"  {'  from the grid':<34}{m.ev_grid_kwh:8.2f} kWh",
        f"  {'grid import':<34}{m.import_kwh:8.2f} kWh",
        f"  {'grid export':<34}{m.export_kwh:8.2f} kWh",
        f"  {'limit (perfect tracking), solar':<34}{r.limit_solar_kwh:8.2f} kWh   "
        f"captured {_pct(r.captured)}",
        "",
        f"  {'starts / stops':<34}{m.starts:>4} / {m.stops}",
        f"  {'current changes':<34}{m.current_changes:>4}",
    ]
    if r.cloud_requests is not None and r.charger == "ocpp":
        lines += [
            f"  {'charger commands (OCPP)':<34}{m.charger_writes:>4}",
            f"  {'samples asked for':<34}{m.charger_reads:>4}",
            f"  {'OCPP calls in all':<34}{r.cloud_requests:>4}",
        ]
    elif r.cloud_requests is not None:
        lines += [
            f"  {'charger writes':<34}{m.charger_writes:>4}",
            f"  {'status reads':<34}{m.charger_reads:>4}",
            f"  {'429 answers from the cloud':<34}{m.rate_limited:>4}",
            f"  {'cloud requests in all':<34}{r.cloud_requests:>4}",
        ]
    lines.append(f"\nReplayed in {r.runtime_s:.1f} s")
    return "\n".join(lines)
