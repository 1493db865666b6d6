"""How numbers and times read on the phone page: watts with a thin-space thousands separator and
a real minus sign, clock times in the machine's local time (the house's, like "today")."""

from __future__ import annotations

from datetime import datetime


def format_w(value: float | None) -> str:
    """Whole watts with a thin-space thousands separator and a real minus sign."""
    if value is None:
        return "–"
    text = f"{abs(value):,.0f}".replace(",", "\u202f")
    return f"{'−' if round(value) < 0 else ''}{text} W"


def format_kw(value: float, decimals: int = 0) -> str:
    """Kilowatts, whole for chart labels ("8 kW", "−2 kW") or with ``decimals``."""
    text = f"{abs(value) / 1000:.{decimals}f}"
    negative = value < 0 and text.strip("0.") != ""
    return f"{'−' if negative else ''}{text} kW"


def clock_time(ts: datetime, seconds: bool = False) -> str:
    """ "12:04" (or "12:04:05"), local time."""
    return ts.astimezone().strftime("%H:%M:%S" if seconds else "%H:%M")
