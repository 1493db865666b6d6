"""Password check, CSRF tokens and the session key (the failed-password throttle is in
throttle.py, the list of logged-in phones in sessions.py).

Small on purpose: one password, two forms and a JSON API do not need Flask-Login or Flask-WTF
(which pulls in WTForms for one hidden field). Everything that compares a secret does it in
constant time, and nothing here ever logs or returns a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from common.config import Config

log = logging.getLogger(__name__)

#: The session key file, kept beside the SQLite store so sessions survive restarts.
SECRET_KEY_FILE = "scc-toggle-secret.key"


def password_matches(given: str, expected: str) -> bool:
    """Constant time, also in the length: compare digests, not the strings themselves."""
    a = hashlib.sha256(given.encode("utf-8")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def credentials_from_header(header: str | None) -> str | None:
    """The password in ``Authorization: Basic`` (any user) or ``Bearer``; None when absent.

    A header that is present but unreadable yields "" so that it counts as a wrong password.
    """
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer":
        return value
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        _user, sep, password = decoded.partition(":")
        return password if sep else ""
    return ""


def session_fingerprint(secret_key: bytes, password: str) -> str:
    """What a logged-in session carries: changing the password logs every phone out."""
    return hmac.new(secret_key, b"login:" + password.encode("utf-8"), hashlib.sha256).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time equality of two tokens (CSRF, session fingerprint); absent never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def data_dir(config: Config) -> Path | None:
    """Where the app keeps its small files (session key, session list): beside the SQLite
    store, which is where a deployment keeps its state; None for an in-memory store."""
    if config.store.sqlite_path == ":memory:":
        return None
    return Path(config.store.sqlite_path).parent


def resolve_secret_key(config: Config) -> bytes:
    """The Flask session key: the configured one, else a random one kept in a file.

    Not derived from the password: a key made from the password would let anyone holding a
    session cookie test password guesses offline against its signature. A random 256-bit key in a
    0600 file beside the SQLite store survives restarts (phones stay logged in) and is shared by
    every process using that store. Where the file cannot be written, the key lives only as long
    as the process: phones log in again after a restart, which is safe.
    """
    configured = config.toggle_app.secret_key
    if configured:
        return configured.get().encode("utf-8")
    folder = data_dir(config)
    if folder is None:
        return secrets.token_bytes(32)
    path = folder / SECRET_KEY_FILE
    try:
        return _read_or_create_key(path)
    except OSError as e:
        log.warning(
            "cannot keep the session key in %s (%s): using a temporary one; phones will have to "
            "log in again after a restart (set toggle_app.secret_key to avoid this)",
            path,
            e.strerror or e,
        )
        return secrets.token_bytes(32)


def _read_or_create_key(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            key = path.read_text(encoding="ascii").strip()
        except ValueError:  # not text: a damaged file must not stop the app from starting
            raise OSError(0, f"{path} holds no usable key (not text)") from None
        if len(key) < 32:
            raise OSError(0, f"{path} holds no usable key (too short)") from None
        return key.encode("ascii")
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    log.info("created a new session key in %s", path)
    return key.encode("ascii")
