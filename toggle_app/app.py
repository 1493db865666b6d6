"""The toggle app's factory: settings, shared state, blueprints and what every answer carries.

The views are in pages.py (phone page, form, login) and api.py (JSON API, health check); who may
call them is in auth.py; how they refuse is in responses.py.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from common.config import Config
from common.models import utcnow
from common.store import Store, StoreError
from toggle_app import api, pages
from toggle_app.auth import csrf_token
from toggle_app.responses import http_error, store_down
from toggle_app.security import resolve_secret_key
from toggle_app.state import EXTENSION, AppState, Clock

#: No scripts or styles but our own files, no framing, no other origins.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: How often the page script refreshes the numbers (app.config["SCC_REFRESH_S"]; tests shorten it).
REFRESH_S = 5


def create_app(config: Config, store: Store | None = None, clock: Clock | None = None) -> Flask:
    """Tests inject a store and a clock; without a store the app opens the configured one when
    first asked, so it starts (and /healthz answers 503) while the store is down."""
    app = Flask(__name__)
    secret_key = resolve_secret_key(config)
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="scc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # Phones log in once: the session lasts a year (or until the password changes).
        PERMANENT_SESSION_LIFETIME=timedelta(days=365),
        MAX_CONTENT_LENGTH=16 * 1024,
        SCC_REFRESH_S=REFRESH_S,
    )
    app.extensions[EXTENSION] = AppState.build(config, secret_key, store, clock or utcnow)
    app.jinja_env.globals.update(csrf_token=csrf_token)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_error_handler(StoreError, store_down)
    app.register_error_handler(HTTPException, http_error)
    app.after_request(security_headers)
    return app


def security_headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        # Pages carry a CSRF token and live data; API answers must never be replayed.
        resp.headers["Cache-Control"] = "no-store"
    return resp
