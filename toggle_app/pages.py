"""The phone page, its plain-form switch and the login (docs/design.md, "Modes").

The page works without JavaScript: the switch is a form POST that redirects back (303, so a
reload does not post again) with a flashed confirmation.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from common.models import Mode
from toggle_app.auth import csrf_required, form_csrf_ok, logged_in, login_required
from toggle_app.responses import message_page, too_many
from toggle_app.security import password_matches
from toggle_app.state import AppState, client, state, switched_message
from toggle_app.view import format_duration, mode_label

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    st = state()
    now = st.clock()
    v = st.payload(now)
    min_a = st.settings.min_current_a
    return render_template(
        "index.html",
        v=v,
        d=v["display"],
        chart=st.history(now)["chart"],
        labels={m.value: mode_label(m, min_a) for m in Mode},
        password_set=st.password is not None,
        refresh_s=current_app.config["SCC_REFRESH_S"],
        chart_refresh_s=current_app.config["SCC_CHART_REFRESH_S"],
        window=format_duration(st.config.charging.window_s),
    )


@bp.post("/mode")
@login_required
@csrf_required
def mode_form() -> ResponseReturnValue:
    try:
        mode = Mode.parse(request.form.get("mode"))
    except ValueError as e:
        return message_page(400, "Unknown mode", str(e))
    v = state().set_mode(mode, "phone")
    log.info("mode set to %s by phone (%s)", mode.value, client())
    flash(switched_message(v))
    return redirect(url_for("pages.index"), 303)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    st = state()
    if st.password is None or logged_in():
        return redirect(url_for("pages.index"), 303)
    if request.method == "GET":
        return render_template("login.html", error=None)
    return _log_in(st, st.password)


@bp.post("/logout")
@csrf_required
def logout() -> ResponseReturnValue:
    """This phone: its id comes off the server's list, so a copy of the cookie is dead too."""
    st = state()
    st.sessions.remove(session.get("sid"))
    session.clear()
    log.info("logout from %s", client())
    return redirect(url_for("pages.login" if st.password is not None else "pages.index"), 303)


@bp.post("/logout-all")
@login_required
@csrf_required
def logout_all() -> ResponseReturnValue:
    """Every phone, this one included: for a lost phone, or a cookie that got out."""
    st = state()
    count = st.sessions.clear()
    session.clear()
    log.warning("all phones logged out (%d sessions) from %s", count, client())
    return redirect(url_for("pages.login" if st.password is not None else "pages.index"), 303)


def _log_in(st: AppState, password: str) -> ResponseReturnValue:
    """The throttle comes before the CSRF check: a locked-out client learns nothing else."""
    now, who = st.clock(), client()
    wait_s = st.throttle.retry_after_s(who, now)
    if wait_s > 0:
        message, headers = too_many(wait_s)
        return render_template("login.html", error=message), 429, headers
    if not form_csrf_ok():
        return render_template("login.html", error="The form expired: try again."), 400
    if not password_matches(request.form.get("password", ""), password):
        failures = st.throttle.failure(who, now)
        log.warning("wrong password on the login page from %s (%d in a row)", who, failures)
        return render_template("login.html", error="Wrong password."), 401
    st.throttle.success(who)
    session.clear()  # a fresh session (and CSRF token) after login: no fixation
    session.permanent = True
    session["auth"] = st.fingerprint
    session["sid"] = st.sessions.add(now)
    log.info("login from %s", who)
    return redirect(url_for("pages.index"), 303)
