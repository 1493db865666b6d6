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
