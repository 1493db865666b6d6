"""What the views share per app: the store, the clock, the login throttle and the settings.

It lives in ``app.extensions`` rather than in module globals or closures, so two apps in one
process (tests, a password change) never share a throttle or a store, and a view reads it with
``state()`` like flaskr's views read ``get_db()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, request

from common.config import Config
from common.models import Mode
from common.store import Store, StoreError, build_status, open_store
from common.timeutil import local_day_start
from toggle_app.security import LoginThrottle, session_fingerprint
from toggle_app.view import ViewSettings, derive

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
    settings: ViewSettings
    #: None when no password is set: then everyone on the network may switch.
    password: str | None
    #: What a logged-in session carries (security.session_fingerprint); None without a password.
    fingerprint: str | None

    @classmethod
    def build(
        cls, config: Config, secret_key: bytes, store: Store | None, clock: Clock
    ) -> AppState:
        charging = config.charging
        password = config.toggle_app.password.get() if config.toggle_app.password else None
        return cls(
            config=config,
            stores=LazyStore(config, store),
            clock=clock,
            throttle=LoginThrottle(),
            settings=ViewSettings(
                poll_interval_s=config.meter.poll_interval_s,
                interval_s=charging.interval_s,
                min_current_a=charging.min_current_a,
                watts_per_amp=charging.effective_watts_per_amp,
            ),
            password=password,
            fingerprint=None if password is None else session_fingerprint(secret_key, password),
        )

    def store(self) -> Store:
        return self.stores.get()

    def payload(self, now: datetime) -> dict[str, object]:
        """What the page shows and /api/status returns (view.derive)."""
        window_s = self.config.charging.window_s
        status = build_status(self.store(), now, window_s, local_day_start(now))
        return derive(status, self.settings, now)

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
    """Who is asking, for the throttle, the logs and the mode's source."""
    return request.remote_addr or "unknown"


def switched_message(payload: dict[str, object]) -> str:
    """The confirmation after a switch: the form flashes it, the JSON API returns it."""
    d = payload["display"]
    assert isinstance(d, dict)
    return f"Switched to: {d['mode']}. {d['pending']}"
