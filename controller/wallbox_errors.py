"""What the Wallbox cloud's refusals mean, and the words the user sees for each.

HTTP statuses as Home Assistant's Wallbox integration and owners meet them (docs/design.md, "The
Wallbox cloud"): 429 is throttling; 403 on a read has also been throttling, but 403 on a command
means the charger is in OCPP mode or the account lacks the rights; 401 is an expired token, and
at sign-in wrong credentials, or an account made with Google or Apple, which has no password for
the API (home-assistant/home-assistant.io#40861: only e-mail and password logins work).
"""

from __future__ import annotations

from datetime import datetime

import requests

from common.ports import ChargerAuthError, ChargerError, ChargerUnavailable

#: What to do when the sign-in is refused: the message names both ways out.
SIGN_IN_HELP = (
    "check wallbox.username and wallbox.password (the password must work on my.wallbox.com). "
    "An account made with Google or Apple sign-in has no password for the API: set one on "
    "my.wallbox.com with 'Forgot password' for the same e-mail address, or give a second, "
    "e-mail-and-password account access to the charger in the Wallbox app"
)

#: Why a command was refused with 403, and the two ways out.
REFUSED_HELP = (
    "the charger is in OCPP mode, or this account lacks the rights to control it. Either switch "
    "OCPP off in the Wallbox app (charger settings, OCPP), or let Solar Car Charge control the "
    "charger over local OCPP; an account shared with you needs control rights from the owner"
)


def http_status(e: BaseException) -> int | None:
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return e.response.status_code
    return None


def sign_in_refused(status: int, until: datetime) -> ChargerAuthError:
    return ChargerAuthError(
        f"Wallbox sign-in refused (HTTP {status}): {SIGN_IN_HELP}; next try after {until:%H:%M:%S}"
    )


def transport_error(e: BaseException, status: int | None) -> ChargerError | None:
    """The error for an answer that is no refusal we act on; None: not ours to map (a bug)."""
    if status == 401:
        return ChargerAuthError("Wallbox cloud refused the token twice (HTTP 401)")
    if status is not None:
        return ChargerUnavailable(f"Wallbox cloud answered HTTP {status}")
    if isinstance(e, requests.Timeout):
        return ChargerUnavailable("Wallbox cloud timed out")
    if isinstance(e, requests.RequestException):
        return ChargerUnavailable(f"Wallbox cloud unreachable: {type(e).__name__}")
    if isinstance(e, ValueError | KeyError | TypeError):
        return ChargerUnavailable(f"unexpected answer from the Wallbox cloud: {e!r}")
    return None
