"""How InfluxDB's failures reach the callers of the InfluxDB store: every one a StoreError with
one line that says what happened, a write InfluxDB refuses for good a StoreRefused, and every
request ended by its total deadline (common/deadline.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import urllib3
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.flux_csv_parser import FluxCsvParserException, FluxQueryException
from influxdb_client.rest import ApiException

from common.deadline import deadline
from common.store.base import StoreError, StoreRefused

WRITE_ERRORS = (ApiException, InfluxDBError, urllib3.exceptions.HTTPError, OSError)
#: A query answer can also fail while the client parses it: an error table InfluxDB streams after
#: a 200, or something that is not annotated CSV at all (a proxy's page), which the client's parser
#: meets with IndexError/ValueError.
QUERY_ERRORS = (*WRITE_ERRORS, FluxQueryException, FluxCsvParserException, IndexError, ValueError)
#: Write statuses that mean "never these points": retrying the same batch cannot succeed.
_REFUSED = (400, 413, 422)
_DROPPED = re.compile(r"dropped=(\d+)")


def describe(e: BaseException) -> str:
    if isinstance(e, ApiException):
        return f"HTTP {e.status} {e.reason}: {(e.body or '').strip()[:200]}"
    return f"{type(e).__name__}: {e}"


def write_error(url: str, e: BaseException, points: int) -> StoreError:
    message = f"InfluxDB {url} write failed: {describe(e)}"
    if isinstance(e, ApiException) and e.status in _REFUSED:
        dropped = _DROPPED.search(e.body or "")
        # 422 is a partial write: InfluxDB kept the other points and says how many it dropped.
        everything = e.status != 422 or (dropped is not None and int(dropped[1]) >= points)
        return StoreRefused(message, all_refused=everything and points > 0)
    return StoreError(message)


@contextmanager
def request_deadline(url: str, timeout_s: float, what: str) -> Iterator[None]:
    """The request ends within ``timeout_s``; if the deadline cut it, the error says so."""
    with deadline(timeout_s) as limit:
        message = f"InfluxDB {url} {what} failed: no complete answer within {timeout_s:g} s"
        try:
            yield
        except QUERY_ERRORS as e:
            if limit.ended:
                raise StoreError(message) from e
            raise
        if limit.ended:  # cut off where the answer could have ended: it may be partial
            raise StoreError(message)
