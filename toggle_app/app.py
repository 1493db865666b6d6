"""The toggle app's factory: settings, shared state, blueprints and what every answer carries.

The views are in pages.py (phone page, form, login) and api.py (JSON API, health check); who may
call them is in auth.py (host names and origins: hosts.py; reverse proxies: proxy.py); how they
refuse is in responses.py.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from common.config import Config
from common.models import utcnow
from common.store import Store, StoreError
from toggle_app import api, pages
from toggle_app.auth import check_host_and_origin, csrf_token
from toggle_app.proxy import TrustedProxies, parse_networks
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
#: ... and the chart, whose points are minute means (app.config["SCC_CHART_REFRESH_S"]).
CHART_REFRESH_S = 30


def create_app(config: Config, store: Store | None = None, clock: Clock | None = None) -> Flask:
    """Tests inject a store and a clock; without a store the app opens the configured one when
    first asked, so it starts (and /healthz answers 503) while the store is down."""
    app = Flask(__name__)
    proxies = parse_networks(
        config.toggle_app.trusted_proxies, "toggle_app.trusted_proxies", config.source
    )
    # WSGI middleware goes around wsgi_app, as Flask documents; mypy sees a method replaced.
    app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)  # type: ignore[method-assign]  # see above
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
        SCC_CHART_REFRESH_S=CHART_REFRESH_S,
    )
    app.session_interface = SessionCookies()
    app.extensions[EXTENSION] = AppState.build(
        config, secret_key, store, clock or utcnow, app.permanent_session_lifetime
    )
    app.jinja_env.globals.update(csrf_token=csrf_token)
    app.before_request(check_host_and_origin)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_error_handler(StoreError, store_down)
    app.register_error_handler(HTTPException, http_error)
    app.after_request(security_headers)
    return app


class SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the phone came over HTTPS, directly or through a
    trusted proxy (proxy.py), so it never travels in clear text afterwards."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


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
