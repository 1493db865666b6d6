"""The toggle app: the phone page, its plain-form fallback and the JSON API (docs/design.md, "Modes"
and "Contracts").

Everything goes through the store: a mode set here lives there, so it survives a restart of any
process, and the controller picks it up at its next cycle. The page works without JavaScript (the
switch is a form POST with a CSRF token); with JavaScript it refreshes its numbers by fetch().
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import (
    Flask,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from common.config import Config
from common.models import Mode, utcnow
from common.store import Store, StoreError, build_status, open_store
from common.timeutil import local_day_start
from toggle_app.security import (
    LoginThrottle,
    credentials_from_header,
    new_csrf_token,
    password_matches,
    resolve_secret_key,
    session_fingerprint,
    tokens_match,
)
from toggle_app.view import ViewSettings, derive, format_duration, mode_label

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: No scripts or styles but our own files, no framing, no other origins.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: How often the page script refreshes the numbers (app.config["SCC_REFRESH_S"]; tests shorten it).
REFRESH_S = 5
REALM = "Solar Car Charge"


class _LazyStore:
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


def create_app(config: Config, store: Store | None = None, clock: Clock | None = None) -> Flask:  # noqa: C901 (split in progress)
    """The Flask app; tests inject a store and a clock (the clock drives the stale rules and
    the failed-login delays)."""
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
    now_fn: Clock = clock or utcnow
    stores = _LazyStore(config, store)
    throttle = LoginThrottle()
    charging = config.charging
    settings = ViewSettings(
        poll_interval_s=config.meter.poll_interval_s,
        interval_s=charging.interval_s,
        min_current_a=charging.min_current_a,
        watts_per_amp=charging.effective_watts_per_amp,
    )
    password = config.toggle_app.password.get() if config.toggle_app.password else None
    fingerprint = session_fingerprint(secret_key, password) if password is not None else None

    # --- helpers -------------------------------------------------------------------------

    def client() -> str:
        return request.remote_addr or "unknown"

    def logged_in() -> bool:
        return fingerprint is None or tokens_match(session.get("auth"), fingerprint)

    def csrf_token() -> str:
        token = session.get("csrf")
        if not token:
            token = session["csrf"] = new_csrf_token()
        return token

    def payload(now: datetime) -> dict[str, object]:
        status = build_status(stores.get(), now, charging.window_s, local_day_start(now))
        return derive(status, settings, now)

    def api_error(code: int, message: str, headers: dict[str, str] | None = None) -> Response:
        resp = jsonify(error=message)
        resp.status_code = code
        resp.headers.update(headers or {})
        return resp

    def too_many(wait_s: float) -> tuple[str, dict[str, str]]:
        seconds = math.ceil(wait_s)
        return (
            f"Too many wrong passwords: try again in {seconds} s.",
            {"Retry-After": str(seconds)},
        )

    def api_source(require_csrf: bool) -> str | Response:
        """Who is calling the API (recorded with a mode change), or the error to return."""
        given = credentials_from_header(request.headers.get("Authorization"))
        from_page = tokens_match(request.headers.get("X-CSRF-Token"), session.get("csrf"))
        if password is None:
            return "phone" if from_page else f"api:{client()}"
        if given is not None:
            now = now_fn()
            wait_s = throttle.retry_after_s(client(), now)
            if wait_s > 0:
                message, headers = too_many(wait_s)
                return api_error(429, message, headers)
            if password_matches(given, password):
                throttle.success(client())
                return f"api:{client()}"
            failures = throttle.failure(client(), now)
            log.warning("wrong API password from %s (%d in a row)", client(), failures)
            return api_error(401, "wrong password", {"WWW-Authenticate": f'Bearer realm="{REALM}"'})
        if session.get("auth") is not None and logged_in():
            if require_csrf and not from_page:
                return api_error(403, "missing or wrong CSRF token (X-CSRF-Token header)")
            return "phone"
        return api_error(
            401,
            "authentication required: HTTP Basic (any user name) or Authorization: Bearer "
            "<password>",
            {"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )

    def message_page(code: int, title: str, text: str) -> tuple[str, int]:
        return render_template("message.html", title=title, text=text), code

    app.jinja_env.globals.update(csrf_token=csrf_token)

    # --- responses everywhere --------------------------------------------------------------

    @app.after_request
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

    @app.errorhandler(StoreError)
    def store_down(e: StoreError) -> Response | tuple[str, int]:
        log.warning("store unavailable: %s", e)
        if request.path.startswith("/api/"):
            return api_error(503, "store unavailable")
        return message_page(503, "Store unavailable", "The data store does not answer. Retry soon.")

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response | HTTPException:
        if request.path.startswith("/api/"):
            return api_error(e.code or 500, e.description or e.name)
        return e

    # --- the page --------------------------------------------------------------------------

    @app.get("/")
    def index() -> ResponseReturnValue:
        if not logged_in():
            return redirect(url_for("login"), 303)
        v = payload(now_fn())
        return render_template(
            "index.html",
            v=v,
            d=v["display"],
            labels={m.value: mode_label(m, settings.min_current_a) for m in Mode},
            password_set=password is not None,
            refresh_s=app.config["SCC_REFRESH_S"],
            window=format_duration(charging.window_s),
        )

    @app.post("/mode")
    def mode_form() -> ResponseReturnValue:
        if not logged_in():
            return redirect(url_for("login"), 303)
        if not tokens_match(request.form.get("csrf"), session.get("csrf")):
            return message_page(400, "Form expired", "The form expired: go back, reload, retry.")
        try:
            mode = Mode.parse(request.form.get("mode"))
        except ValueError as e:
            return message_page(400, "Unknown mode", str(e))
        now = now_fn()
        stores.get().set_mode(mode, "phone", now)
        log.info("mode set to %s by phone (%s)", mode.value, client())
        v = payload(now)
        d = v["display"]
        assert isinstance(d, dict)
        flash(f"Switched to: {d['mode']}. {d['pending']}")
        return redirect(url_for("index"), 303)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> ResponseReturnValue:
        if password is None or logged_in():
            return redirect(url_for("index"), 303)
        if request.method == "GET":
            return render_template("login.html", error=None)
        now = now_fn()
        wait_s = throttle.retry_after_s(client(), now)
        if wait_s > 0:
            message, headers = too_many(wait_s)
            return render_template("login.html", error=message), 429, headers
        if not tokens_match(request.form.get("csrf"), session.get("csrf")):
            return render_template("login.html", error="The form expired: try again."), 400
        if not password_matches(request.form.get("password", ""), password):
            failures = throttle.failure(client(), now)
            log.warning(
                "wrong password on the login page from %s (%d in a row)", client(), failures
            )
            return render_template("login.html", error="Wrong password."), 401
        throttle.success(client())
        session.clear()  # a fresh session (and CSRF token) after login: no fixation
        session.permanent = True
        session["auth"] = fingerprint
        log.info("login from %s", client())
        return redirect(url_for("index"), 303)

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        if not tokens_match(request.form.get("csrf"), session.get("csrf")):
            return message_page(400, "Form expired", "The form expired: go back, reload, retry.")
        session.clear()
        return redirect(url_for("login" if password is not None else "index"), 303)

    # --- the JSON API ----------------------------------------------------------------------

    @app.get("/api/status")
    def api_status() -> Response:
        source = api_source(require_csrf=False)
        if isinstance(source, Response):
            return source
        return jsonify(payload(now_fn()))

    @app.post("/api/mode")
    def api_mode() -> Response:
        source = api_source(require_csrf=True)
        if isinstance(source, Response):
            return source
        # Only real JSON: a cross-site form can send text/plain but not application/json.
        if not request.is_json:
            return api_error(415, "send JSON with Content-Type: application/json")
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or "mode" not in data:
            return api_error(400, 'invalid JSON: expected an object like {"mode": "solar"}')
        try:
            mode = Mode.parse(data["mode"])
        except ValueError as e:
            return api_error(400, str(e))
        now = now_fn()
        stores.get().set_mode(mode, source, now)
        log.info("mode set to %s by %s", mode.value, source)
        v = payload(now)
        d = v["display"]
        assert isinstance(d, dict)
        v["message"] = f"Switched to: {d['mode']}. {d['pending']}"
        return jsonify(v)

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            stores.get().get_mode()
        except Exception as e:  # a health check answers, whatever the store raised
            log.warning("health check: store unavailable: %s", e)
            resp = jsonify(ok=False, error="store unavailable")
            resp.status_code = 503
            return resp
        return jsonify(ok=True, store=config.store.backend)

    return app
