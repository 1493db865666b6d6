"""Accounts and tokens of the simulated Wallbox cloud: sign-in, refresh and the bearer check.

As the real cloud does it (docs/design.md, "The Wallbox cloud"): ``GET users/signin`` with HTTP
Basic and the ``Partner: wallbox`` header, ``GET users/refresh-token`` with the refresh token as
the bearer, and lifetimes in the answer as absolute epoch milliseconds (``ttl``), so the real
``wallbox`` package's expiry arithmetic meets what it meets on the real cloud.
"""

from __future__ import annotations

import base64
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: An HTTP status and a JSON body.
Answer = tuple[int, dict[str, Any]]

DEFAULT_USER_ID = 286113


@dataclass
class Account:
    username: str
    password: str
    user_id: int
    calls: deque[tuple[datetime, bool]] = field(default_factory=deque)  # (time, is_get)


class Accounts:
    """The cloud's accounts and the access and refresh tokens it has handed out."""

    def __init__(
        self,
        username: str,
        password: str,
        token_ttl_s: float = 3600.0,
        refresh_token_ttl_s: float = 30 * 86400.0,
    ) -> None:
        self.by_name = {username: Account(username, password, user_id=DEFAULT_USER_ID)}
        self.token_ttl_s = token_ttl_s
        self.refresh_token_ttl_s = refresh_token_ttl_s
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._refresh_tokens: dict[str, tuple[str, datetime]] = {}

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def of(self, headers: dict[str, str]) -> Account | None:
        """The account a request speaks for: its Basic user, or the owner of its bearer token."""
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            except ValueError:
                return None
            return self.by_name.get(user)
        if auth.startswith("Bearer "):
            token = auth[7:]
            owner = self._tokens.get(token) or self._refresh_tokens.get(token)
            if owner:
                return self.by_name.get(owner[0])
        return None

    def token_owner(self, headers: dict[str, str], now: datetime) -> str | None:
        """The user whose unexpired access token the request carries, else None (a 401)."""
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        entry = self._tokens.get(auth[7:])
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def answer(
        self,
        method: str,
        parts: list[str],
        headers: dict[str, str],
        now: datetime,
        account: Account | None,
    ) -> Answer:
        """A request under ``auth/``: sign-in or refresh."""
        if method != "GET":
            return 405, {"error": True}
        if parts == ["users", "signin"]:
            return self._sign_in(headers, now)
        if parts == ["users", "refresh-token"]:
            return self._refresh(headers, now, account)
        return 404, {"error": True}

    def _sign_in(self, headers: dict[str, str], now: datetime) -> Answer:
        if headers.get("partner") != "wallbox":
            return 400, {"error": True, "message": "missing Partner header"}
        auth = headers.get("authorization", "")
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return 401, {"error": True}
        acct = self.by_name.get(user)
        if not auth.startswith("Basic ") or acct is None or acct.password != pw:
            return 401, {"error": True, "message": "invalid credentials"}
        return 200, self._issue(acct, now)

    def _refresh(self, headers: dict[str, str], now: datetime, account: Account | None) -> Answer:
        owner = self._refresh_tokens.get(headers.get("authorization", "")[7:])
        if owner is None or owner[1] <= now or account is None:
            return 401, {"error": True, "message": "invalid refresh token"}
        return 200, self._issue(account, now)

    def _issue(self, acct: Account, now: datetime) -> dict[str, Any]:
        token, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        exp = now + timedelta(seconds=self.token_ttl_s)
        rexp = now + timedelta(seconds=self.refresh_token_ttl_s)
        self._tokens[token] = (acct.username, exp)
        self._refresh_tokens[refresh] = (acct.username, rexp)
        return {
            "data": {
                "attributes": {
                    "token": token,
                    "refresh_token": refresh,
                    "user_id": acct.user_id,
                    "ttl": round(exp.timestamp() * 1000),
                    "refresh_token_ttl": round(rexp.timestamp() * 1000),
                    "error": False,
                    "status": 200,
                }
            }
        }
