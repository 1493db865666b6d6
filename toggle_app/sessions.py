"""The phones that are logged in, kept on the server, so that logging out means it.

A session cookie is signed, not secret from whoever holds it: a copy (a backup, a synced browser
profile, a phone lent out) would work for a year, logout or not. So each login gets a random id
that the server lists; a session counts only while its id is on the list. Logging out takes the
phone's id off, "Log out all phones" empties the list, and a new password logs every phone out as
well (security.session_fingerprint).

The list lives in a small file beside the session key (``scc-toggle-sessions.json``, mode 0600,
ids stored only as hashes), so a restart neither logs phones out nor lets a logged-out cookie back
in; a change another process made is read back at the next request. Where no file can be written
the list lives in memory: after a restart every phone logs in again, which is safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

SESSIONS_FILE = "scc-toggle-sessions.json"
#: A phone's "last seen" is written at most this often (the page polls every few seconds).
TOUCH_EVERY = timedelta(days=1)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass
class SessionList:
    """Session ids by hash, with when each phone logged in and was last seen."""

    path: Path | None
    lifetime: timedelta
    max_sessions: int = 64
    _seen: dict[str, tuple[datetime, datetime]] = field(default_factory=dict, repr=False)
    _stamp: tuple[int, int] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, now: datetime) -> str:
        """A new id for a phone that just logged in; the longest unseen phones make room."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._load()
            self._seen[_hash(session_id)] = (now, now)
            for key in sorted(self._seen, key=lambda k: self._seen[k][1])[: -self.max_sessions]:
                del self._seen[key]
            self._save()
        return session_id

    def valid(self, session_id: object, now: datetime) -> bool:
        if not isinstance(session_id, str) or not session_id:
            return False
        key = _hash(session_id)
        with self._lock:
            self._load()
            entry = self._seen.get(key)
            if entry is None:
                return False
            since, seen = entry
            if now - seen > self.lifetime:
                del self._seen[key]
                self._save()
                return False
            if now - seen > TOUCH_EVERY:
                self._seen[key] = (since, now)
                self._save()
            return True

    def remove(self, session_id: object) -> None:
        if isinstance(session_id, str) and session_id:
            with self._lock:
                self._load()
                if self._seen.pop(_hash(session_id), None) is not None:
                    self._save()

    def clear(self) -> int:
        """Log out every phone; returns how many were logged in."""
        with self._lock:
            self._load()
            count = len(self._seen)
            self._seen.clear()
            self._save()
            return count

    def __len__(self) -> int:
        with self._lock:
            self._load()
            return len(self._seen)

    def _load(self) -> None:
        if self.path is None:
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            stamp = None
        except OSError as e:
            self._give_up(e)
            return
        else:
            stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        self._seen = {} if stamp is None else self._read(self.path)

    @staticmethod
    def _read(path: Path) -> dict[str, tuple[datetime, datetime]]:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return {
                str(k): (datetime.fromisoformat(v["since"]), datetime.fromisoformat(v["seen"]))
                for k, v in raw["sessions"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            # Damaged: every phone logs in again, which is safe; the next save rewrites it.
            log.warning("cannot read the session list %s (%s): phones must log in again", path, e)
            return {}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "sessions": {
                k: {"since": since.isoformat(), "seen": seen.isoformat()}
                for k, (since, seen) in self._seen.items()
            }
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
            st = self.path.stat()
        except OSError as e:
            self._give_up(e)
            return
        self._stamp = (st.st_mtime_ns, st.st_size)

    def _give_up(self, e: OSError) -> None:
        log.warning(
            "cannot keep the session list in %s (%s): it lives in memory; phones will have to "
            "log in again after a restart",
            self.path,
            e.strerror or e,
        )
        self.path = None
