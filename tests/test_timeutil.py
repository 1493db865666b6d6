""" "Today" starts at local midnight, also on the days the clocks change."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from common.timeutil import local_day_start


@pytest.fixture
def brussels():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Brussels"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize(
    ("now", "midnight"),
    [
        (datetime(2026, 5, 18, 11, tzinfo=UTC), datetime(2026, 5, 17, 22, tzinfo=UTC)),  # CEST
        (datetime(2026, 1, 10, 11, tzinfo=UTC), datetime(2026, 1, 9, 23, tzinfo=UTC)),  # CET
        # clocks go back at 03:00 CEST on 25 Oct: midnight was still summer time
        (datetime(2026, 10, 25, 11, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC)),
        # clocks go forward at 02:00 CET on 29 Mar: midnight was still winter time
        (datetime(2026, 3, 29, 11, tzinfo=UTC), datetime(2026, 3, 28, 23, tzinfo=UTC)),
        # 23:30 UTC on 17 May is already 18 May in Brussels
        (datetime(2026, 5, 17, 23, 30, tzinfo=UTC), datetime(2026, 5, 17, 22, tzinfo=UTC)),
    ],
)
def test_local_midnight_in_brussels(brussels, now, midnight):
    assert local_day_start(now) == midnight
