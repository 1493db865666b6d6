"""The collector's writer: readings into the store in batches, through the spool when it is down.

The poll loop only hands readings over (``add``); ``flush`` runs every couple of seconds in a
thread of its own (collector/service.py starts it), so a slow store never delays a poll. When the
store fails, the batch goes to the on-disk spool (collector/spool.py) and so does every later
reading until the spool has been written out, oldest first, so order holds and nothing is lost.
Store failures are logged once per episode, retries back off up to 30 s, and the recovery line
says how long the store was away.

A store that answers but refuses readings for good (``StoreRefused``: InfluxDB's 422 for points
beyond its retention) is not down: retrying the same batch would fail the same way and block
every reading behind it. The batch is split in halves until the refused readings are found (at
once when the store says it kept none), those go to the dead-letter file (collector/deadletter.py),
and the rest goes on. ``stalled_s`` tells how long readings have waited without any reaching the
store, so the heartbeat can stop saying "healthy" while nothing gets through.

Between writes the writer also asks the store to apply its retention (``Store.prune``), in short
rounds, so that a poll never waits on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime

from collector.deadletter import DeadLetter
from collector.spool import Spool, SpoolError
from common.models import Reading, utcnow
from common.store import Store, StoreError, StoreRefused

log = logging.getLogger("writer")

#: Longest wait between store retries while it is down (and between polls while the meter fails).
MAX_BACKOFF_S = 30.0
#: The writer flushes this often, or sooner when this many readings wait.
FLUSH_INTERVAL_S = 2.0
MAX_BATCH = 100
#: Spooled readings go back to the store in chunks of this many, for at most this long per flush,
#: so a long backlog neither makes one huge request nor holds up shutdown.
DRAIN_CHUNK = 1000
DRAIN_BUDGET_S = 5.0
#: The store's retention runs this often, for at most PRUNE_BUDGET_S at a time (again at the next
#: flush while work is left).
PRUNE_EVERY_S = 600.0
PRUNE_BUDGET_S = 0.5


def format_gap(seconds: float) -> str:
    """42 s, 3 min 5 s, 1 h 2 min: for log lines a person reads."""
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


class ReadingWriter:
    """Batches readings into the store, spooling them on disk while the store is down.

    ``add`` may be called from the poll thread while ``flush`` runs in the writer thread. The
    store is opened lazily through ``open_store`` and reopened after a failure, so a store that
    is down at start, or a SQLite file that vanished, heals by itself.
    """

    def __init__(
        self,
        open_store: Callable[[], Store],
        spool: Spool,
        *,
        clock: Callable[[], float] = time.monotonic,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        max_batch: int = MAX_BATCH,
        max_backoff_s: float = MAX_BACKOFF_S,
        drain_chunk: int = DRAIN_CHUNK,
        drain_budget_s: float = DRAIN_BUDGET_S,
        on_written: Callable[[Sequence[Reading]], None] | None = None,
        dead_letter: DeadLetter | None = None,
        wall_clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._open_store = open_store
        self.spool = spool
        self._clock = clock
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.max_backoff_s = max_backoff_s
        self.drain_chunk = drain_chunk
        self.drain_budget_s = drain_budget_s
        self.on_written = on_written
        self.dead_letter = dead_letter or DeadLetter(
            spool.path.with_name(spool.path.name + ".refused.jsonl")
        )
        self._wall_clock = wall_clock
        self.batch_ready = threading.Event()
        self._pending: deque[Reading] = deque()
        self._flush_lock = threading.Lock()
        self._store: Store | None = None
        self._last_flush = clock()
        # store outage episode
        self._down_since: float | None = None
        self._failures = 0
        self._retry_at = 0.0
        self.last_error: str | None = None
        # counters (tests, bench, the shutdown line)
        self.written = 0
        self.spooled = 0
        self.dropped = 0
        self._held: list[Reading] = []  # only while the spool itself cannot be written
        self._waiting_since: float | None = None  # first reading handed over since a write
        self._in_flight: list[Reading] = []  # the batch being written, not in the spool
        self._prune_at = clock()
        self._prune_error: str | None = None
        if len(spool):
            log.info(
                "spool %s holds %d readings from before; writing them first", spool.path, len(spool)
            )

    # -- poll thread ------------------------------------------------------------------------
    def add(self, reading: Reading) -> None:
        if self._waiting_since is None:
            self._waiting_since = self._clock()
        self._pending.append(reading)
        if len(self._pending) >= self.max_batch:
            self.batch_ready.set()

    def due(self) -> bool:
        return (
            len(self._pending) >= self.max_batch
            or self._clock() - self._last_flush >= self.flush_interval_s
        )

    def stalled_s(self) -> float:
        """How long readings have been waiting with none reaching the store (0: flowing)."""
        since = self._waiting_since
        return 0.0 if since is None else max(self._clock() - since, 0.0)

    @property
    def set_aside(self) -> int:
        """Readings the store refused for good, in the dead-letter file."""
        return self.dead_letter.count

    @property
    def store_ok(self) -> bool:
        """Everything handed over so far is in the store (nothing pending or spooled)."""
        return (
            self._down_since is None
            and not self._pending
            and not self._held
            and not len(self.spool)
        )

    # -- writer thread ----------------------------------------------------------------------
    def flush(self, final: bool = False) -> None:
        """Write what is pending; while the store is down (or the spool not empty), spool it."""
        with self._flush_lock:
            self.batch_ready.clear()
            now = self._clock()
            self._last_flush = now
            batch = [self._pending.popleft() for _ in range(len(self._pending))]
            if self._down_since is None and not len(self.spool) and not self._held:
                self._in_flight = batch
                done = self._put(batch, now)
                self._in_flight = []
                if done < len(batch):
                    self._to_spool(batch[done:])
                elif not final:
                    self._maybe_prune(now)
                return
            self._to_spool(batch)
            if now >= self._retry_at or final:
                self._drain(now)

    def _put(self, readings: list[Reading], now: float) -> int:
        """Into the store, what it refuses for good aside; how many (from the first) are done.

        Fewer than all when the store failed: the rest must wait (in the spool).
        """
        done = 0
        pieces = [len(readings)]  # sizes still to write, the next one last
        while pieces:
            size = pieces.pop()
            piece = readings[done : done + size]
            try:
                self._write(piece)
            except StoreRefused as e:
                if size > 1 and not e.all_refused:
                    pieces += [size - size // 2, size // 2]  # first half next
                    continue
                self._set_aside(piece, e)
            except StoreError as e:
                self._store_failed(e, now)
                return done
            done += size
        return done

    def _write(self, readings: list[Reading]) -> None:
        if not readings:
            return
        try:
            if self._store is None:
                self._store = self._open_store()
            self._store.write_readings(readings)
        except StoreError:
            raise
        except Exception as e:  # whatever the store raised, the readings must not be lost
            raise StoreError(f"{type(e).__name__}: {e}") from e
        self._waiting_since = None
        self.written += len(readings)
        if self.on_written is not None:
            self.on_written(readings)

    def _set_aside(self, readings: list[Reading], e: StoreRefused) -> None:
        first = not self.dead_letter.count
        self.dead_letter.add(readings, str(e))
        if first:
            log.warning(
                "store refused %d readings for good (%s); set aside in %s, not retried "
                "(further refusals are counted, not logged)",
                len(readings),
                e,
                self.dead_letter.path,
            )

    def _maybe_prune(self, now: float) -> None:
        """A short round of the store's retention, every PRUNE_EVERY_S or while work is left."""
        if now < self._prune_at or self._store is None:
            return
        try:
            more = self._store.prune(self._wall_clock(), PRUNE_BUDGET_S)
        except Exception as e:  # retention is housekeeping: readings keep flowing without it
            more = False
            if str(e) != self._prune_error:
                log.warning("store retention failed: %s; trying again later", e)
            self._prune_error = str(e)
        else:
            self._prune_error = None
        self._prune_at = now if more else now + PRUNE_EVERY_S

    def _store_failed(self, e: StoreError, now: float) -> None:
        self._failures += 1
        backoff = min(self.flush_interval_s * 2 ** (self._failures - 1), self.max_backoff_s)
        self._retry_at = now + backoff
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "store unavailable: %s; spooling readings to %s until it is back",
                e,
                self.spool.path,
            )
        elif str(e) != self.last_error:
            log.warning("store still unavailable, now: %s", e)
        self.last_error = str(e)
        if self._store is not None:
            store, self._store = self._store, None
            try:
                store.close()
            except Exception:  # a broken store may fail to close too; it is dropped anyway
                log.debug("closing the failed store", exc_info=True)

    def _to_spool(self, batch: list[Reading]) -> None:
        # Readings held in memory (the spool failed before) are older than this batch.
        items = [*self._held, *batch]
        if not items:
            return
        try:
            dropped = self.spool.append(items)
        except SpoolError as e:
            # Keep them in memory, bounded like the spool, and try the spool again next time.
            if not self._held:
                log.error("%s; keeping readings in memory meanwhile", e)
            overflow = max(len(items) - self.spool.max_readings, 0)
            self.dropped += overflow
            self._held = items[overflow:]
            return
        if self._held:
            log.info("spool %s writable again", self.spool.path)
            self._held = []
        self.spooled += len(items)
        if dropped:
            if not self.dropped:
                log.warning(
                    "spool full (%d readings): dropping the oldest to keep the newest",
                    self.spool.max_readings,
                )
            self.dropped += dropped

    def _drain(self, now: float) -> None:
        """Write spooled readings out, oldest first, until empty, failing, or out of time."""
        total = self._drain_spool(now)
        if total is None:
            return
        held = self._write_held(now)
        if held is None:
            return
        total += held
        if self._down_since is not None:
            log.info(
                "store back after %s; wrote %d spooled readings",
                format_gap(now - self._down_since),
                total,
            )
        elif total:
            log.info("wrote %d spooled readings", total)
        self._down_since, self._failures, self.last_error = None, 0, None

    def _drain_spool(self, now: float) -> int | None:
        """How many spooled readings went to the store; None when it had to stop early."""
        started = self._clock()
        total = 0
        while len(self.spool):
            moved = self._drain_chunk(now)
            if not moved:  # None: failed; 0: nothing there after all
                return None if moved is None else total
            total += moved
            if self._clock() - started > self.drain_budget_s:
                log.info("wrote %d spooled readings, %d left; continuing", total, len(self.spool))
                return None
        return total

    def _drain_chunk(self, now: float) -> int | None:
        """The oldest chunk from the spool to the store; None when the spool or the store fails."""
        try:
            rows = self.spool.peek(self.drain_chunk)
        except SpoolError as e:
            log.error("%s", e)
            return None
        if not rows:
            return 0
        done = self._put([r for _, r in rows], now)
        try:
            if done:
                self.spool.remove_through(rows[done - 1][0])
        except SpoolError as e:
            log.error("%s (those readings will be written again, harmlessly)", e)
            return None
        return len(rows) if done == len(rows) else None

    def _write_held(self, now: float) -> int | None:
        """What the spool could not take (newer than anything it holds); None if the store fails."""
        done = self._put(self._held, now)
        self._held = self._held[done:]
        return None if self._held else done

    def spool_pending(self) -> int:
        """The last resort of a stop that hangs (in another thread): everything not yet in the
        store or the spool goes to the spool; how many readings. Some may be written twice."""
        items = [*self._in_flight, *self._held, *list(self._pending)]
        try:
            self.spool.append(items)
        except SpoolError as e:
            log.error("%s", e)
            return 0
        return len(items)

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                log.debug("closing the store", exc_info=True)
            self._store = None
