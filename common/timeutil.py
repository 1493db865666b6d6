"""Local-time helpers: "today" means the user's day, daylight saving included."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from common.models import utc


def local_day_start(now: datetime) -> datetime:
    """Midnight of the machine's local day (``TZ``) containing ``now``, in UTC.

    Computed through mktime with DST left to the zone rules, because ``now.astimezone()`` carries
    today's offset, which is an hour off at midnight on the days the clocks change.
    """
    local = time.localtime(utc(now).timestamp())
    midnight = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
    return datetime.fromtimestamp(midnight, UTC)


def format_age(age_s: float | None) -> str:
    """ "20 s ago", "3 min ago": ages on the phone page and in ``scc status``."""
    if age_s is None:
        return "never"
    if age_s < 0:
        age_s = 0.0
    if age_s < 5:
        return "just now"
    if age_s < 120:
        return f"{age_s:.0f} s ago"
    if age_s < 7200:
        return f"{age_s / 60:.0f} min ago"
    if age_s < 172800:
        return f"{age_s / 3600:.0f} h ago"
    return f"{age_s / 86400:.0f} days ago"


def format_duration(seconds: float) -> str:
    """ "40 s", "5 min", "2 h": whole units a person reads at a glance."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
