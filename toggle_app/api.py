"""The JSON API: what the page's script polls and what scripts and home automation call
(docs/design.md, "Contracts"), and the health check compose asks.

A mode set here lives in the store, so it survives a restart of any process, and the controller
picks it up at its next cycle.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, jsonify, request

from common.models import Mode
from toggle_app.auth import api_auth_required, api_csrf_required, caller
from toggle_app.responses import api_error
from toggle_app.state import state, switched_message

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)


@bp.get("/api/status")
@api_auth_required
def status() -> Response:
    st = state()
    return jsonify(st.payload(st.clock()))


@bp.get("/api/history")
@api_auth_required
def history() -> Response:
    """The last hour for the page's chart: SVG path data and labels, and the points."""
    st = state()
    return jsonify(st.history(st.clock()))


@bp.post("/api/mode")
@api_auth_required
@api_csrf_required
def mode() -> Response:
    wanted = _mode_from_json()
    if isinstance(wanted, Response):
        return wanted
    source = caller().source
    v = state().set_mode(wanted, source)
    log.info("mode set to %s by %s", wanted.value, source)
    v["message"] = switched_message(v)
    return jsonify(v)


@bp.get("/healthz")
def healthz() -> Response:
    st = state()
    try:
        st.store().get_mode()
    except Exception as e:  # a health check answers, whatever the store raised
        log.warning("health check: store unavailable: %s", e)
        resp = jsonify(ok=False, error="store unavailable")
        resp.status_code = 503
        return resp
    return jsonify(ok=True, store=st.config.store.backend)


def _json_body() -> object:
    """The parsed body, None when it is not JSON. Nesting deeper than the parser's recursion
    limit (a few kB of ``[[[[``) raises RecursionError, not ValueError: it is bad input too."""
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return None


def _mode_from_json() -> Mode | Response:
    # Only real JSON: a cross-site form can send text/plain but not application/json.
    if not request.is_json:
        return api_error(415, "send JSON with Content-Type: application/json")
    data = _json_body()
    if not isinstance(data, dict) or "mode" not in data:
        return api_error(400, 'invalid JSON: expected an object like {"mode": "solar"}')
    try:
        return Mode.parse(data["mode"])
    except ValueError as e:
        return api_error(400, str(e))
