"""The interfaces the controller and the collector depend on, and nothing else.

evcc's ``api`` package is the model: the policy and the loops see a charger, a meter and a store
only through these small protocols, so the Wallbox cloud adapter, a local OCPP charge point or a
test double can stand behind them. Adapters raise only the errors below; the loop catches
``ChargerError`` and carries on at the next cycle.

Charger errors::

    ChargerError                  could not read or command the charger this time (retry)
    +-- ChargerAuthError          sign-in refused: wrong credentials (or a Google/Apple login)
    +-- ChargerRateLimited        no request before ``until`` (the cloud's or our own budget)
    +-- ChargerRefused            this command is refused (403: OCPP mode or missing rights);
    |                             not sent again before ``until``, reads go on
    +-- ChargerUnavailable        network error, timeout, 5xx, an answer we cannot read
        +-- ChargerStarting       signed in this cycle: the status read waits for the next

The store's errors are ``common.store.StoreError`` (one class: every store failure is handled the
same way, retry or spool); the meter's are drawn in ``collector.errors``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from common.models import CommandError, Reading
from common.snapshot import ChargerSnapshot
from common.store.base import Store, StoreError

__all__ = [
    "Charger",
    "ChargerAuthError",
    "ChargerError",
    "ChargerRateLimited",
    "ChargerRefused",
    "ChargerStarting",
    "ChargerUnavailable",
    "MeterSource",
    "Store",
    "StoreError",
]


class ChargerError(Exception):
    """The charger could not be read or commanded this time; the next cycle tries again."""

    code: CommandError = CommandError.CHARGER_ERROR


class ChargerAuthError(ChargerError):
    """Sign-in refused: wrong username/password, or the account lacks rights."""

    code = CommandError.AUTH_ERROR


class ChargerRateLimited(ChargerError):
    """The cloud (or our own budget) says: no request before ``until``."""

    code = CommandError.RATE_LIMITED

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class ChargerRefused(ChargerError):
    """The cloud refuses this command for this account (403): the charger is in OCPP mode, or
    the account lacks the rights. Sending it again every cycle would change nothing."""

    code = CommandError.REFUSED

    def __init__(self, message: str, command: str, until: datetime) -> None:
        super().__init__(message)
        self.command = command
        self.until = until


class ChargerUnavailable(ChargerError):
    """Network error, timeout, 5xx or an answer we cannot read."""

    code = CommandError.UNAVAILABLE


class ChargerStarting(ChargerUnavailable):
    """Signed in and found the charger this cycle: the status read waits for the next one."""

    code = CommandError.STARTING


class Charger(Protocol):
    """What the controller needs from a charger (evcc style: state in, a few commands out)."""

    def snapshot(self, now: datetime, *, allow_read: bool = True) -> ChargerSnapshot:
        """What the charger is doing; reads the cloud only when allowed and due."""

    def set_current(self, current_a: int, now: datetime) -> None: ...

    def pause(self, now: datetime) -> None: ...

    def resume(self, now: datetime) -> None: ...


class MeterSource(Protocol):
    """Where the collector gets its readings: the HomeWizard client, or a test double."""

    def read(self) -> Reading:
        """One reading now; raises the meter's own errors (``collector.errors.MeterError``)."""
