"""The Wallbox sign-in and charger id, kept across controller restarts.

Without it every start signs in, looks the charger up and reads the status within milliseconds:
three GETs, the cloud's whole announced minute (and three times the measured one read a minute),
so a quick restart drew 429s. The token (with its refresh token and both expiries) and the
discovered charger id therefore live in a small 0600 JSON file beside the SQLite store, as the
toggle app's session key does. No config key: where that folder cannot be written the controller
simply signs in at each start. The token is a password for an hour: it is never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.config import Config

log = logging.getLogger(__name__)

SESSION_FILE = "scc-wallbox-session.json"


@dataclass(frozen=True, slots=True)
class WallboxSession:
    #: Which account and cloud this session belongs to (a hash: the file holds no username).
    account: str
    token: str = ""
    token_ttl_ms: int = 0
    refresh_token: str = ""
    refresh_token_ttl_ms: int = 0
    charger_id: str | None = None
    #: The file it came from (not saved in it).
    path: Path | None = field(default=None, compare=False)


def put_tokens(w: Any, s: WallboxSession) -> None:
    """Hand a kept token to a ``wallbox.Wallbox`` as if it had signed in itself."""
    if s.token:
        w.jwtToken, w.jwtTokenTtl = s.token, s.token_ttl_ms
        w.jwtRefreshToken, w.jwtRefreshTokenTtl = s.refresh_token, s.refresh_token_ttl_ms
        w.headers["Authorization"] = f"Bearer {s.token}"


def taken_tokens(w: Any, account: str, charger_id: str | None) -> WallboxSession:
    """What to keep of a ``wallbox.Wallbox``'s sign-in."""
    return WallboxSession(
        account=account,
        token=w.jwtToken,
        token_ttl_ms=int(w.jwtTokenTtl or 0),
        refresh_token=w.jwtRefreshToken,
        refresh_token_ttl_ms=int(w.jwtRefreshTokenTtl or 0),
        charger_id=charger_id,
    )


def account_key(username: str, auth_url: str, api_url: str) -> str:
    """A session is only reused for the same account on the same cloud."""
    text = "\n".join((username, auth_url, api_url))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def session_path(config: Config) -> Path | None:
    """Beside the SQLite store (whatever the backend), or None where nothing can be kept."""
    if config.store.sqlite_path == ":memory:":
        return None
    folder = Path(config.store.sqlite_path).parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        log.info("cannot keep the Wallbox session in %s: signing in at each start", folder)
        return None
    return folder / SESSION_FILE


class SessionFile:
    """Load and save a ``WallboxSession``; a damaged or foreign file is ignored, never fatal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._warned = False

    def load(self, account: str) -> WallboxSession | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.warning("ignoring the Wallbox session file %s (%s)", self.path, type(e).__name__)
            return None
        try:
            session = WallboxSession(
                account=str(data["account"]),
                token=str(data.get("token") or ""),
                token_ttl_ms=int(data.get("token_ttl_ms") or 0),
                refresh_token=str(data.get("refresh_token") or ""),
                refresh_token_ttl_ms=int(data.get("refresh_token_ttl_ms") or 0),
                charger_id=None if data.get("charger_id") is None else str(data["charger_id"]),
                path=self.path,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("ignoring the Wallbox session file %s (unreadable)", self.path)
            return None
        return session if session.account == account else None

    def save(self, session: WallboxSession) -> None:
        """Write atomically with mode 0600; a failure costs a sign-in at the next start only."""
        kept = asdict(session)
        kept.pop("path")
        error = write_private(self.path, kept)
        if error is not None and not self._warned:
            log.warning(
                "cannot keep the Wallbox session in %s (%s): signing in at each start",
                self.path,
                error,
            )
            self._warned = True


def write_private(path: Path, data: dict[str, Any]) -> str | None:
    """Write JSON atomically with mode 0600; the reason it failed, or None."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        return e.strerror or type(e).__name__
    return None
