"""How the app says no: JSON ``{"error": ...}`` under /api/ (scripts read it), a small page
elsewhere (people read it). Every refusal is built here so the two never drift apart.
"""

from __future__ import annotations

import logging
import math

from flask import Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from common.store import StoreError

log = logging.getLogger(__name__)


def is_api() -> bool:
    return request.path.startswith("/api/")


def api_error(code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    resp = jsonify(error=message)
    resp.status_code = code
    resp.headers.update(headers or {})
    return resp


def message_page(code: int, title: str, text: str) -> tuple[str, int]:
    return render_template("message.html", title=title, text=text), code


def form_expired() -> tuple[str, int]:
    """A form whose CSRF token does not match the session's (old tab, restarted session)."""
    return message_page(400, "Form expired", "The form expired: go back, reload, retry.")


def too_many(wait_s: float) -> tuple[str, dict[str, str]]:
    """The text and header of a 429: whole seconds, rounded up so a retry is never early."""
    seconds = math.ceil(wait_s)
    return (
        f"Too many wrong passwords: try again in {seconds} s.",
        {"Retry-After": str(seconds)},
    )


def unknown_host(host: str) -> Response | tuple[str, int]:
    """A Host the app does not answer to (hosts.py): what a DNS rebinding attack sends."""
    text = (
        f"This app does not answer to the name {host[:100]!r}. If that is how you reach it, "
        "add the name to toggle_app.allowed_hosts (or $SCC_TOGGLE_APP__ALLOWED_HOSTS)."
    )
    if is_api():
        return api_error(400, text)
    return message_page(400, "Unknown host name", text)


def cross_origin() -> Response | tuple[str, int]:
    """A change sent from another site's page (hosts.py)."""
    if is_api():
        return api_error(403, "cross-origin request refused: changes come from this app's page")
    return message_page(
        403, "Refused", "Changes come from this app's own page; another site sent this one."
    )


def store_down(e: StoreError) -> Response | tuple[str, int]:
    log.warning("store unavailable: %s", e)
    if is_api():
        return api_error(503, "store unavailable")
    return message_page(503, "Store unavailable", "The data store does not answer. Retry soon.")


def http_error(e: HTTPException) -> Response | HTTPException:
    """Flask's own refusals (404, 405, 413): JSON for the API, Flask's page elsewhere."""
    if is_api():
        return api_error(e.code or 500, e.description or e.name)
    return e
