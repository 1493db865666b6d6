"""What the views share per app: the store, the clock, the login throttle and the settings.

It lives in ``app.extensions`` rather than in module globals or closures, so two apps in one
process (tests, a password change) never share a throttle or a store, and a view reads it with
``state()`` like flaskr's views read ``get_db()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, request

from common.config import Config
from common.models import Mode, Status, to_jsonable
from common.store import Store, StoreError, build_status, open_store
from common.timeutil import local_day_start
from toggle_app import chart, words
from toggle_app.hosts import HostPolicy
from toggle_app.security import data_dir, session_fingerprint
from toggle_app.sessions import SESSIONS_FILE, SessionList
from toggle_app.throttle import LoginThrottle
from toggle_app.view import Extras, ViewSettings, derive, needs_settled_mean

Clock = Callable[[], datetime]

#: The key in ``app.extensions``.
EXTENSION = "scc_toggle"


class LazyStore:
    """Opens the store on first use, so the app starts (and /healthz answers 503) while the
    store is down, instead of the process dying and restarting in a loop."""

    def __init__(self, config: Config, store: Store | None) -> None:
        self._config, self._store = config, store
        self._lock = threading.Lock()

    def get(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    try:
                        self._store = open_store(self._config)
                    except OSError as e:  # SqliteStore creating its folder raises it unwrapped
                        raise StoreError(f"cannot open the store: {e}") from e
        return self._store


@dataclass(frozen=True)
class AppState:
    """One app's shared parts; the clock drives the stale rules and the failed-login delays."""

    config: Config
    stores: LazyStore
    clock: Clock
    throttle: LoginThrottle
    #: The logged-in phones (sessions.py); unused without a password.
    sessions: SessionList
    hosts: HostPolicy
    settings: ViewSettings
    #: None when no password is set: then everyone on the network may switch.
    password: str | None
    #: What a logged-in session carries (security.session_fingerprint); None without a password.
    fingerprint: str | None
    #: Host names refused so far, so a stream of rebinding attempts logs each name once.
    refused_hosts: set[str] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        config: Config,
        secret_key: bytes,
        store: Store | None,
        clock: Clock,
        session_lifetime: timedelta,
    ) -> AppState:
        charging, app = config.charging, config.toggle_app
        password = app.password.get() if app.password else None
        folder = data_dir(config) if password is not None else None
        return cls(
            config=config,
            stores=LazyStore(config, store),
            clock=clock,
            throttle=LoginThrottle(),
            sessions=SessionList(
                path=None if folder is None else folder / SESSIONS_FILE, lifetime=session_lifetime
            ),
            hosts=HostPolicy.build(app.host, app.allowed_hosts),
            settings=ViewSettings(
                poll_interval_s=config.meter.poll_interval_s,
                interval_s=charging.interval_s,
                min_current_a=charging.min_current_a,
                watts_per_amp=charging.effective_watts_per_amp,
                window_s=charging.window_s,
                start_delay_s=charging.start_delay_s,
                stop_delay_s=charging.stop_delay_s,
            ),
            password=password,
            fingerprint=None if password is None else session_fingerprint(secret_key, password),
        )

    def store(self) -> Store:
        return self.stores.get()

    def payload(self, now: datetime) -> dict[str, object]:
        """What the page shows and /api/status returns (view.derive)."""
        store, window_s = self.store(), self.settings.window_s
        status = build_status(store, now, window_s, local_day_start(now))
        return derive(status, self.settings, now, self._extras(store, status, now))

    def _extras(self, store: Store, status: Status, now: datetime) -> Extras:
        """The reads beyond the Status, made only when the page needs them (view.Extras)."""
        since = needs_settled_mean(status, self.settings, now)
        settled = (
            None if since is None else store.grid_power_mean(self.settings.window_s, now, since)
        )
        d, plan = status.last_decision, self.settings.plan
        if d is None or d.reason not in words.START_WAIT | words.STOP_WAIT:
            return Extras(settled_mean_w=settled)
        span = timedelta(seconds=max(plan.start_delay_s, plan.stop_delay_s) + 2 * plan.interval_s)
        points = store.power_series(d.ts - span, now, max(plan.interval_s, 1.0))
        mode_since = status.mode.ts if status.mode is not None else None
        return Extras(settled, words.delay_start(points, d, plan, mode_since))

    def history(self, now: datetime) -> dict[str, object]:
        """The chart of the last hour (chart.py) and the points it is drawn from."""
        start = now - timedelta(seconds=chart.SPAN_S)
        points = self.store().power_series(start, now, chart.STEP_S)
        return {
            "chart": chart.build(points, now),
            "points": [to_jsonable(p) for p in points],
            "step_s": chart.STEP_S,
        }

    def set_mode(self, mode: Mode, source: str) -> dict[str, object]:
        """Store the mode and return the payload as of the same instant."""
        now = self.clock()
        self.store().set_mode(mode, source, now)
        return self.payload(now)


def state() -> AppState:
    """The current app's state (create_app put it there)."""
    found: AppState = current_app.extensions[EXTENSION]
    return found


def client() -> str:
    """Who is asking, for the throttle, the logs and the mode's source: the peer, or the client a
    trusted proxy names (proxy.py)."""
    return request.remote_addr or "unknown"


def switched_message(payload: dict[str, object]) -> str:
    """The confirmation after a switch: the form flashes it, the JSON API returns it."""
    d = payload["display"]
    assert isinstance(d, dict)
    return f"Switched to: {d['mode']}. {d['pending']}"
