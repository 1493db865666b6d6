"""What the central system knows about the charge point, kept across its connections.

The websocket server writes it on its asyncio thread; the controller reads it from its own
thread. Every write replaces one frozen ``StationView`` under a lock, so a reader always gets a
consistent whole (the status, the sample and the transaction of one moment) without waiting on
the network.

It outlives a connection on purpose: the Pulsar reconnects every few days, sometimes every 25 s,
and a reconnect must not forget the transaction we issued, the last sample (replays are judged
against it) or the limit we set (re-sent after a reboot).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from controller.ocpp.profiles import ProfileStyle
from controller.ocpp.samples import Received


@dataclass(frozen=True, slots=True)
class Boot:
    """The charge point's BootNotification: who it is and which firmware it runs."""

    vendor: str
    model: str
    firmware: str | None
    serial: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class LimitSent:
    """A limit the charge point accepted, and when it changed to it (a repeat keeps the time)."""

    limit_a: int
    at: datetime


ConnectionState = Literal["never", "connected", "booted", "disconnected"]


@dataclass(frozen=True, slots=True)
class StationView:
    """One consistent moment of ``StationState``."""

    identity: str
    connection: ConnectionState = "never"
    connection_at: datetime | None = None
    boot: Boot | None = None
    #: Connector 1's status and when it arrived (our clock).
    status: str | None = None
    status_at: datetime | None = None
    error_code: str | None = None
    #: The charge point's own status (connector 0): Faulted or Unavailable matter.
    station_status: str | None = None
    sample: Received | None = None
    dropped_samples: int = 0
    transaction_id: int | None = None
    #: The energy register when our transaction started (StartTransaction's meterStart).
    meter_start_wh: float | None = None
    limit: LimitSent | None = None
    profile_style: ProfileStyle | None = None
    configuration: dict[str, str] = field(default_factory=dict)
    setup_done: bool = False

    @property
    def ready(self) -> bool:
        """Booted on this connection: commands may go out."""
        return self.connection == "booted"


class StationState:
    """The charge point as the central system knows it (see the module docstring)."""

    def __init__(self, identity: str) -> None:
        self._lock = threading.Lock()
        self._view = StationView(identity=identity)

    @property
    def view(self) -> StationView:
        return self._view

    @property
    def identity(self) -> str:
        return self._view.identity

    def update(self, **changes: Any) -> StationView:
        with self._lock:
            self._view = replace(self._view, **changes)
            return self._view
