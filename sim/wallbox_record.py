"""What the simulated Wallbox cloud records and the faults a test can inject into it.

Kept apart from the HTTP API (sim.wallbox_cloud) so each stays short: every request the cloud
answers is recorded (method, path, status, time, body, account), and a test asks the record how
many reads, writes and refusals there were, or which commands the charger accepted.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass
class RequestRecord:
    method: str
    path: str
    status: int  # 0: the client got no answer (simulated timeout)
    ts: datetime
    body: str = ""
    account: str | None = None


@dataclass
class Fault:
    status: int | str  # HTTP status, or "timeout"
    times: int
    path_contains: str | None
    method: str | None


class Recorder:
    """The request record and the injected faults, behind one lock."""

    def __init__(self) -> None:
        self.requests: list[RequestRecord] = []
        self._faults: list[Fault] = []
        self._lock = threading.RLock()

    def inject(
        self,
        status: int | str,
        times: int = 1,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (or "timeout")."""
        with self._lock:
            self._faults.append(Fault(status, times, path_contains, method))

    def count(
        self, method: str | None = None, path_contains: str | None = None, status: int | None = None
    ) -> int:
        return len(self.select(method, path_contains, status))

    def select(
        self, method: str | None = None, path_contains: str | None = None, status: int | None = None
    ) -> list[RequestRecord]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (path_contains is None or path_contains in r.path)
                and (status is None or r.status == status)
            ]

    def commands(self) -> list[str]:
        """The accepted non-GET requests as short names: current(10), resume, pause, lock(1)."""
        out = []
        for r in self.select(status=200):
            if r.method == "GET":
                continue
            body = json.loads(r.body) if r.body else {}
            if "maxChargingCurrent" in body:
                out.append(f"current({body['maxChargingCurrent']})")
            elif "locked" in body:
                out.append(f"lock({body['locked']})")
            elif body.get("action") == 1:
                out.append("resume")
            elif body.get("action") == 2:
                out.append("pause")
            else:
                out.append(f"{r.method} {r.path}")
        return out

    def fault_for(self, method: str, path: str) -> int | str | None:
        """The injected answer for this request, if one is still due (counts it down)."""
        for f in self._faults:
            if f.times <= 0:
                continue
            if f.path_contains is not None and f.path_contains not in path:
                continue
            if f.method is not None and f.method != method:
                continue
            f.times -= 1
            return f.status
        return None
