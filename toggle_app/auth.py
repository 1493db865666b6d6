"""Who may do what, as decorators on the views (the checks themselves are in security.py).

Pages: ``login_required`` sends a phone without a session to /login; ``csrf_required`` refuses a
form post whose hidden token does not match the session's, since a cookie alone proves nothing:
any site can make the browser send it.

JSON API: ``api_auth_required`` takes the password by HTTP Basic (any user name) or Bearer, or a
logged-in session (the page's own script), and records the caller in ``g.caller``;
``api_csrf_required`` then asks a session caller for the page's token in X-CSRF-Token. Without a
password everyone is let in, named by address (or "phone" when the token shows it is the page).
Order: credentials first, so nothing about the body is revealed to a caller without them.

Every request, before any of that (``check_host_and_origin``): the Host must be a name the app
answers to, and a POST must come from the app's own page (hosts.py: DNS rebinding, CSRF).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ParamSpec

from flask import Response, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from toggle_app.hosts import same_origin
from toggle_app.responses import api_error, cross_origin, form_expired, too_many, unknown_host
from toggle_app.security import (
    credentials_from_header,
    new_csrf_token,
    password_matches,
    tokens_match,
)
from toggle_app.state import AppState, client, state

log = logging.getLogger(__name__)

P = ParamSpec("P")
View = Callable[P, ResponseReturnValue]

REALM = "Solar Car Charge"
CHALLENGE = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called the API: ``source`` is stored with a mode change; ``by_session`` says the
    browser's cookie let it in, so a write needs the CSRF token as well."""

    source: str
    by_session: bool


def logged_in() -> bool:
    """A session made with the current password whose phone has not been logged out."""
    st = state()
    if st.fingerprint is None:
        return True
    return tokens_match(session.get("auth"), st.fingerprint) and st.sessions.valid(
        session.get("sid"), st.clock()
    )


def check_host_and_origin() -> ResponseReturnValue | None:
    """Before every request: a known Host, and for a change the app's own origin (hosts.py)."""
    st, host, who = state(), request.host, client()
    if not st.hosts.allows(host):
        if host not in st.refused_hosts and len(st.refused_hosts) < 100:
            st.refused_hosts.add(host)
            log.warning(
                "refused a request for host %r from %s: not a name of this app "
                "(add it to toggle_app.allowed_hosts if it is)",
                host[:100],
                who,
            )
        return unknown_host(host)
    h = request.headers
    if request.method not in ("GET", "HEAD", "OPTIONS") and not same_origin(
        host, h.get("Sec-Fetch-Site"), h.get("Origin"), h.get("Referer")
    ):
        log.warning("refused a %s %s from another site (%s)", request.method, request.path, who)
        return cross_origin()
    return None


def csrf_token() -> str:
    """The session's token, made on first use (a template global: every form carries it)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = new_csrf_token()
    return token


def form_csrf_ok() -> bool:
    return tokens_match(request.form.get("csrf"), session.get("csrf"))


def header_csrf_ok() -> bool:
    return tokens_match(request.headers.get("X-CSRF-Token"), session.get("csrf"))


def caller() -> Caller:
    """The API caller that api_auth_required let in."""
    found: Caller = g.caller
    return found


def login_required(view: View[P]) -> View[P]:
    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        if not logged_in():
            return redirect(url_for("pages.login"), 303)
        return view(*args, **kwargs)

    return guarded


def csrf_required(view: View[P]) -> View[P]:
    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        if not form_csrf_ok():
            return form_expired()
        return view(*args, **kwargs)

    return guarded


def api_auth_required(view: View[P]) -> View[P]:
    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        found = _api_caller(state())
        if isinstance(found, Response):
            return found
        g.caller = found
        return view(*args, **kwargs)

    return guarded


def api_csrf_required(view: View[P]) -> View[P]:
    """Goes below api_auth_required: it needs to know how the caller got in."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        if caller().by_session and not header_csrf_ok():
            return api_error(403, "missing or wrong CSRF token (X-CSRF-Token header)")
        return view(*args, **kwargs)

    return guarded


def _api_caller(st: AppState) -> Caller | Response:
    if st.password is None:
        return Caller("phone" if header_csrf_ok() else f"api:{client()}", by_session=False)
    given = credentials_from_header(request.headers.get("Authorization"))
    if given is not None:
        return _check_password(st, given, st.password)
    if logged_in():
        return Caller("phone", by_session=True)
    return api_error(
        401,
        "authentication required: HTTP Basic (any user name) or Authorization: Bearer <password>",
        CHALLENGE,
    )


def _check_password(st: AppState, given: str, password: str) -> Caller | Response:
    """Wrong API passwords count against the same throttle as the login page's."""
    now, who = st.clock(), client()
    wait_s = st.throttle.retry_after_s(who, now)
    if wait_s > 0:
        message, headers = too_many(wait_s)
        return api_error(429, message, headers)
    if password_matches(given, password):
        st.throttle.success(who)
        return Caller(f"api:{who}", by_session=False)
    failures = st.throttle.failure(who, now)
    log.warning("wrong API password from %s (%d in a row)", who, failures)
    return api_error(401, "wrong password", CHALLENGE)
