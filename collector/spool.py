"""The collector's on-disk spool: readings the store could not take yet, oldest first.

Why a small SQLite file rather than a file of JSON lines: the spool must survive a crash or a
power cut in the middle of a write (a transaction is all or nothing, a half-written line is not),
must hand out readings in order and forget exactly those the store confirmed (delete by sequence
number, in one transaction), and must stay bounded by dropping the oldest, which in a flat file
means rewriting it. SQLite does all three in the standard library. Each reading is one row of
REAL columns (about 150 bytes), so the default bound of 200 000 readings, 55 hours at 1 Hz, is
about 30 MB on disk.

A reading leaves the spool only after the store accepted it. If the process dies between the two,
the reading is written again at the next start; the stores are idempotent on series + timestamp,
so that second write replaces the first instead of adding to it.

A damaged spool file ("file is not a database", "database disk image is malformed": a disk error,
a file copied in half) must not stop the collector from starting, or under ``restart:
unless-stopped`` it would start and fail for ever. It is moved aside (``<name>.damaged-<time>``,
kept for a person to look at) with a warning, and a fresh spool takes its place.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from common.models import P1_FIELDS, Reading

#: 55 hours at 1 Hz: a weekend away with the InfluxDB box off still loses nothing.
DEFAULT_MAX_READINGS = 200_000

_COLS = ", ".join(P1_FIELDS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_us INTEGER NOT NULL,
    meter TEXT NOT NULL,
    {", ".join(f"{f} REAL" for f in P1_FIELDS)}
);
"""
log = logging.getLogger("writer")

_INSERT = (
    f"INSERT INTO spool (ts_us, meter, {_COLS}) VALUES (?, ?, {', '.join('?' for _ in P1_FIELDS)})"
)


class SpoolError(Exception):
    """The spool file cannot be opened or written (disk full, no permission)."""


def _damaged(e: sqlite3.Error) -> bool:
    """A file that is not, or no longer, a spool, as opposed to one we may not open now."""
    text = str(e).lower()
    return any(w in text for w in ("not a database", "malformed", "corrupt"))


def _to_us(ts: datetime) -> int:
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


class Spool:
    """A bounded FIFO of readings in one SQLite file; safe to use from two threads."""

    def __init__(self, path: str | Path, max_readings: int = DEFAULT_MAX_READINGS) -> None:
        if max_readings < 1:
            raise ValueError("max_readings must be at least 1")
        self.path = Path(path)
        if self.path.is_dir():
            self.path = self.path / "collector-spool.sqlite"
        self.max_readings = max_readings
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db, self._len = self._open()
        except sqlite3.DatabaseError as e:
            if not _damaged(e):
                raise SpoolError(f"cannot open spool {self.path}: {e}") from None
            self._move_aside(e)
        except OSError as e:
            raise SpoolError(f"cannot open spool {self.path}: {e}") from None

    def _open(self) -> tuple[sqlite3.Connection, int]:
        db = sqlite3.connect(
            str(self.path), timeout=10, check_same_thread=False, isolation_level=None
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # spooled means on disk, power cut or not
            db.executescript(_SCHEMA)
            check = str(db.execute("PRAGMA quick_check(1)").fetchone()[0])
            if check != "ok":
                first = check.splitlines()[-1].strip()
                raise sqlite3.DatabaseError(f"database disk image is malformed: {first}")
            return db, int(db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])
        except BaseException:
            db.close()
            raise

    def _move_aside(self, e: sqlite3.DatabaseError) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        try:
            for suffix in ("", "-wal", "-shm"):
                part = Path(str(self.path) + suffix)
                if part.exists():
                    part.rename(Path(str(aside) + suffix))
            self._db, self._len = self._open()
        except (OSError, sqlite3.Error) as again:
            raise SpoolError(f"cannot open spool {self.path}: {e}; and then: {again}") from None
        log.warning(
            "spool %s is damaged (%s): moved aside to %s (the readings in it are not written); "
            "starting with an empty spool",
            self.path,
            e,
            aside,
        )

    def __len__(self) -> int:
        return self._len

    def append(self, readings: Sequence[Reading]) -> int:
        """Add readings after the ones already there; returns how many old ones were dropped."""
        if not readings:
            return 0
        rows = [(_to_us(r.ts), r.meter, *(getattr(r, f) for f in P1_FIELDS)) for r in readings]
        with self._lock:
            overflow = max(self._len + len(rows) - self.max_readings, 0)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if overflow:
                        self._db.execute(
                            "DELETE FROM spool WHERE seq IN "
                            "(SELECT seq FROM spool ORDER BY seq LIMIT ?)",
                            (overflow,),
                        )
                    # A batch larger than the bound keeps only its newest part.
                    self._db.executemany(_INSERT, rows[-self.max_readings :])
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                raise SpoolError(f"cannot write spool {self.path}: {e}") from None
            self._len = min(self._len + len(rows), self.max_readings)
            return overflow

    def peek(self, limit: int) -> list[tuple[int, Reading]]:
        """The oldest ``limit`` readings with their sequence numbers, oldest first."""
        with self._lock:
            try:
                rows = self._db.execute(
                    f"SELECT seq, ts_us, meter, {_COLS} FROM spool ORDER BY seq LIMIT ?", (limit,)
                ).fetchall()
            except sqlite3.Error as e:
                raise SpoolError(f"cannot read spool {self.path}: {e}") from None
        out = []
        for seq, ts_us, meter, *values in rows:
            fields = dict(zip(P1_FIELDS, values, strict=True))
            out.append((seq, Reading(ts=_from_us(ts_us), meter=meter, **fields)))
        return out

    def remove_through(self, seq: int) -> None:
        """Forget every reading up to and including ``seq`` (the store has them now)."""
        with self._lock:
            try:
                cur = self._db.execute("DELETE FROM spool WHERE seq <= ?", (seq,))
            except sqlite3.Error as e:
                raise SpoolError(f"cannot write spool {self.path}: {e}") from None
            self._len = max(self._len - cur.rowcount, 0)

    def close(self) -> None:
        with self._lock:
            self._db.close()
