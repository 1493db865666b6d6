"""Every way the P1 meter can fail to give a reading, in one place.

The collector catches ``MeterError``, logs its message once per episode and keeps polling, so
each message is one line a person can act on, and no raw ``requests`` error or traceback ever
reaches the loop. ``collector.homewizard`` raises the transport errors, ``collector.parse`` the
ones that come from what the meter said.

Meter errors::

    MeterError                      no usable reading this time (the next poll may work)
    +-- MeterHTTPError              an HTTP error status (``.status``), e.g. 404 for a wrong URL
    |   +-- MeterDisabledError      403 on API v1: the local API is off in the HomeWizard app
    |   +-- MeterUnauthorizedError  401: the v2 token is missing, wrong or revoked
    |   +-- MeterServerError        5xx: the meter itself failed (often just after a reboot)
    +-- MeterInvalidResponse        not the JSON object expected (garbage, truncated, wrong shape)
    +-- MeterTimeout                no answer within the timeout
    +-- MeterUnreachable            no connection: refused, no route, unknown name, dropped
    +-- MeterTLSError               API v2: the certificate failed the HomeWizard CA or name check
"""

from __future__ import annotations


class MeterError(Exception):
    """The meter gave no usable reading; the message is one line that says what to do."""


class MeterHTTPError(MeterError):
    """The meter answered with an HTTP error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class MeterDisabledError(MeterHTTPError):
    """403 on API v1: the local API is switched off in the HomeWizard app."""


class MeterUnauthorizedError(MeterHTTPError):
    """401: the v2 token is missing, wrong, or was revoked."""


class MeterServerError(MeterHTTPError):
    """5xx: the meter itself failed (often right after a reboot or firmware update)."""


class MeterInvalidResponse(MeterError):
    """The reply was not the JSON object expected (garbage, truncated, wrong shape)."""


class MeterTimeout(MeterError):
    """No answer within the timeout."""


class MeterUnreachable(MeterError):
    """No connection: refused, no route, name not found, connection dropped."""


class MeterTLSError(MeterError):
    """API v2: the meter's certificate did not verify against the HomeWizard CA and its name."""
