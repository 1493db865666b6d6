"""What the controller keeps for itself beside the Wallbox session file (controller/session.py).

The store is the record, but the controller must still act when it cannot read it: at a start
with the store down, today's mode decides whether a car left charging from the grid is paused
(docs/design.md, "Fail-safe"). So the last mode it read (and whether it already handed the
charger back in manual mode) lives in this small file too, with the car's measured watts per
ampere (controller.measure): the running session's, kept across a restart, and the last
session's, the start threshold of the next one. And when the dip in progress began: a restart
must not give a dip a fresh stop delay, or a controller restarted every few minutes would hold
min current from the grid for as long as it kept restarting. Written only when something
changes; a damaged file is ignored, never fatal.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast, get_args

from common.config import Config
from common.models import Mode
from controller.measure import CarSession, Source, WattsPerAmp, plausible
from controller.session import session_path, write_private
from controller.state import DIP_KEEP_STEP_S

log = logging.getLogger(__name__)

STATE_FILE = "scc-controller-state.json"


@dataclass(frozen=True, slots=True)
class LocalState:
    mode: Mode | None = None
    #: In manual mode: the charger was handed back already (a restart must not do it again).
    released: bool = False
    #: The running session's measurement (controller.measure.CarSession.measured).
    session: WattsPerAmp | None = None
    session_best_status_w_per_a: float | None = None
    #: The last measurement of any session.
    last_w_per_a: float | None = None
    #: The least of all: a car on fewer phases than configured was charged here (a start at
    #: min current then measures the next car; docs/design.md, "Surplus arithmetic").
    lightest_w_per_a: float | None = None
    #: When the dip in progress began (``PolicyState.short_since``, at most ``DIP_KEEP_STEP_S``
    #: older); None: no dip.
    dip_since: datetime | None = None

    def car(self) -> CarSession:
        return CarSession(
            measured=self.session, best_status_w_per_a=self.session_best_status_w_per_a
        )


def state_path(config: Config) -> Path | None:
    """Beside the Wallbox session file, or None where nothing can be kept."""
    session = session_path(config)
    return None if session is None else session.with_name(STATE_FILE)


class LocalStateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: LocalState | None = None
        self._warned = False

    def load(self) -> LocalState | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            state = _parse(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignoring the controller state file %s (unreadable)", self.path)
            return None
        self._saved = state
        return state

    def save(self, state: LocalState) -> None:
        """Write when it changed; a failure is logged once and costs only what a restart knows."""
        if state == self._saved:
            return
        data = asdict(state)
        data["mode"] = None if state.mode is None else state.mode.value
        data["dip_since"] = None if state.dip_since is None else state.dip_since.isoformat()
        error = write_private(self.path, data)
        if error is None:
            self._saved = state
        elif not self._warned:
            log.warning("cannot keep the controller state in %s (%s)", self.path, error)
            self._warned = True


def _parse(data: dict) -> LocalState:
    session = data.get("session")
    measured = None
    if isinstance(session, dict) and plausible(float(session["value"])):
        source = session.get("source")
        measured = WattsPerAmp(
            float(session["value"]),
            cast(Source, source) if source in get_args(Source) else "status",
            str(session.get("phases") or ""),
        )
    best = data.get("session_best_status_w_per_a")
    last = _w_per_a(data.get("last_w_per_a"))
    lightest = _w_per_a(data.get("lightest_w_per_a", last))
    return LocalState(
        mode=None if data.get("mode") is None else Mode(data["mode"]),
        released=bool(data.get("released")),
        session=measured,
        session_best_status_w_per_a=None if best is None else float(best),
        last_w_per_a=last,
        lightest_w_per_a=lightest,
        dip_since=_when(data.get("dip_since")),
    )


def dip_to_keep(kept: datetime | None, dip_since: datetime | None) -> datetime | None:
    """The dip start to write, in whole seconds: the kept one until the dip ended, began
    earlier, or moved on by ``DIP_KEEP_STEP_S`` or more. Whole seconds, rounded down: the store
    keeps a decision's time in ms, and a dip that began at the last decision must not look as
    if it began after it."""
    since = None if dip_since is None else dip_since.replace(microsecond=0)
    if kept is None or since is None or since < kept:
        return since
    return since if since - kept >= timedelta(seconds=DIP_KEEP_STEP_S) else kept


def _when(value: object) -> datetime | None:
    """A kept time with its zone; anything else is no time (the dip starts afresh)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _w_per_a(value: object) -> float | None:
    """A kept watts per ampere, or None when there is none or it is not plausible."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    w_per_a = float(value)
    return w_per_a if plausible(w_per_a) else None
