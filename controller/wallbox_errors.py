"""What the Wallbox cloud's refusals mean, and the words the user sees for each.

HTTP statuses as Home Assistant's Wallbox integration and owners meet them (docs/design.md, "The
Wallbox cloud"): 429 is throttling; 403 on a read has also been throttling, but 403 on a command
means the charger is in OCPP mode or the account lacks the rights; 401 is an expired token, and
at sign-in wrong credentials, or an account made with Google or Apple, which has no password for
the API (home-assistant/home-assistant.io#40861: only e-mail and password logins work).

``PackageError`` is no part of the charger error tree (common.ports): it carries what the package
raised, once, to the adapter's call that knows the request and maps it onto the tree; it never
leaves controller.wallbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import requests

from common.ports import ChargerAuthError, ChargerError, ChargerRefused, ChargerUnavailable
from controller.ratelimit import RateLimiter

log = logging.getLogger("controller.wallbox")

#: Both remote actions go to one endpoint: the cloud that refuses one refuses the other.
REMOTE_ACTIONS = ("pause", "resume")

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


class PackageError(Exception):
    """What the ``wallbox`` package (or ``requests`` under it) raised, with its HTTP status:
    the adapter maps it onto the charger error tree where it knows what the request was."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error
        self.status = http_status(error)


def sign_in_refused(status: int, until: datetime) -> ChargerAuthError:
    return ChargerAuthError(
        f"Wallbox sign-in refused (HTTP {status}): {SIGN_IN_HELP}; next try after {until:%H:%M:%S}"
    )


def transport_error(
    e: BaseException, status: int | None, where: str, charger_id: str | None = None
) -> ChargerError | None:
    """The error for an answer that is no refusal we act on; None: not ours to map (a bug).
    ``where``: the cloud's address as configured, so that a wrong URL shows in the line."""
    if status == 401:
        return ChargerAuthError("Wallbox cloud refused the token twice (HTTP 401)")
    if status == 404 and charger_id is not None:
        return ChargerUnavailable(
            f"Wallbox cloud knows no charger {charger_id} on this account (HTTP 404): check "
            "wallbox.charger_id (the serial number in the Wallbox app), or leave it out to use "
            "the account's charger"
        )
    if status is not None:
        return ChargerUnavailable(f"Wallbox cloud answered HTTP {status} ({where})")
    if isinstance(e, requests.Timeout):
        return ChargerUnavailable(f"Wallbox cloud timed out ({where})")
    if isinstance(e, requests.RequestException):
        return ChargerUnavailable(f"Wallbox cloud unreachable at {where}: {type(e).__name__}")
    if isinstance(e, ValueError | KeyError | TypeError):
        return ChargerUnavailable(f"unexpected answer from the Wallbox cloud: {e!r}")
    return None


@dataclass(frozen=True, slots=True)
class _Refusal:
    until_s: float  # monotonic
    strikes: int


class Refusals:
    """Commands the cloud refuses this account (403 on a write: OCPP mode, missing rights).

    Not throttling: sending the same command every cycle would change nothing, so a refused
    command is not sent again for an hour, doubling up to six (``RateLimits``), while reads go
    on (docs/design.md, "The Wallbox cloud").
    """

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self._refused: dict[str, _Refusal] = {}

    def check(self, command: str) -> None:
        """Raise ChargerRefused while ``command``'s back-off lasts; nothing is sent then."""
        refusal = self._refused.get(command)
        if refusal is not None and self._limiter.now_s() < refusal.until_s:
            until = self._limiter.wall(refusal.until_s)
            raise ChargerRefused(
                f"{command} refused by the Wallbox cloud (HTTP 403); next try at {until:%H:%M}",
                command,
                until,
            )

    def refuse(self, command: str) -> ChargerRefused:
        """A 403 on ``command``: not again for an hour, doubling up to six."""
        limits, before = self._limiter.limits, self._refused.get(command)
        strikes = 1 if before is None else before.strikes + 1
        wait_s = min(limits.refused_backoff_s * 2 ** (strikes - 1), limits.max_refused_backoff_s)
        refusal = _Refusal(self._limiter.now_s() + wait_s, strikes)
        for name in _one_endpoint(command):
            self._refused[name] = refusal
        until = self._limiter.wall(refusal.until_s)
        log.warning(
            "Wallbox cloud refused %s (HTTP 403): %s. Not sent again before %s; the status is "
            "still read every minute",
            command,
            REFUSED_HELP,
            f"{until:%H:%M}",
        )
        return ChargerRefused(f"{command} refused (HTTP 403)", command, until)

    def accepted(self, command: str) -> None:
        for name in _one_endpoint(command):
            self._refused.pop(name, None)

    def clear(self) -> None:
        """The charger left OCPP mode: everything may be sent again."""
        if self._refused:
            log.info("The charger left OCPP mode: commands are sent again")
        self._refused.clear()

    def now(self) -> frozenset[str]:
        """The commands refused right now (for the snapshot, the page and ``scc status``)."""
        now_s = self._limiter.now_s()
        return frozenset(name for name, r in self._refused.items() if r.until_s > now_s)


def _one_endpoint(command: str) -> tuple[str, ...]:
    """The commands one refusal covers: pause and resume share an endpoint."""
    return REMOTE_ACTIONS if command in REMOTE_ACTIONS else (command,)
