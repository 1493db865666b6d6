"""The collector: poll the P1 meter on a fixed cadence and get every reading into the store.

Two threads, so that a slow store never delays a poll: the poll loop (the main thread) reads the
meter every ``meter.poll_interval_s`` on a fixed grid (a slow reply never shifts later polls) and
hands readings to the ``ReadingWriter``; the writer thread writes them in batches every couple of
seconds. When the store fails, the batch goes to the on-disk spool (collector/spool.py) and so
does every later reading until the spool has been written out, oldest first, so order holds and
nothing is lost. Meter failures are logged once per episode (and again only if the error
changes), polls back off up to 30 s while they last, and the recovery line says how long the gap
was. SIGTERM and SIGINT stop the loop, flush, and exit 0.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from types import FrameType

from collector.homewizard import HomeWizardClient, MeterError
from collector.spool import Spool, SpoolError
from common.config import Config, ConfigError
from common.heartbeat import write_heartbeat
from common.models import Reading, utcnow
from common.ports import MeterSource
from common.store import Store, StoreError, open_store

log = logging.getLogger("poll")
wlog = logging.getLogger("writer")

#: Longest wait between polls while the meter fails, and between store retries while it is down.
MAX_BACKOFF_S = 30.0
#: The writer flushes this often, or sooner when this many readings wait.
FLUSH_INTERVAL_S = 2.0
MAX_BATCH = 100
#: Spooled readings go back to the store in chunks of this many, for at most this long per flush,
#: so a long backlog neither makes one huge request nor holds up shutdown.
DRAIN_CHUNK = 1000
DRAIN_BUDGET_S = 5.0


def format_gap(seconds: float) -> str:
    """42 s, 3 min 5 s, 1 h 2 min: for log lines a person reads."""
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def format_reading(r: Reading) -> str:
    """``P1: -4200 W (L1 -1420, L2 -1390, L3 -1390)``."""
    total = "? W" if r.active_power_w is None else f"{r.active_power_w:.0f} W"
    phases = [
        f"L{i} {v:.0f}"
        for i, v in enumerate((r.active_power_l1_w, r.active_power_l2_w, r.active_power_l3_w), 1)
        if v is not None
    ]
    return f"P1: {total}" + (f" ({', '.join(phases)})" if phases else "")


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
        if len(spool):
            wlog.info(
                "spool %s holds %d readings from before; writing them first", spool.path, len(spool)
            )

    # -- poll thread ------------------------------------------------------------------------
    def add(self, reading: Reading) -> None:
        self._pending.append(reading)
        if len(self._pending) >= self.max_batch:
            self.batch_ready.set()

    def due(self) -> bool:
        return (
            len(self._pending) >= self.max_batch
            or self._clock() - self._last_flush >= self.flush_interval_s
        )

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
                if batch and not self._write(batch, now):
                    self._to_spool(batch)
                return
            self._to_spool(batch)
            if now >= self._retry_at or final:
                self._drain(now)

    def _write(self, readings: list[Reading], now: float) -> bool:
        try:
            if self._store is None:
                self._store = self._open_store()
            self._store.write_readings(readings)
        except Exception as e:  # whatever the store raised, the readings must not be lost
            if not isinstance(e, StoreError):
                e = StoreError(f"{type(e).__name__}: {e}")
            self._store_failed(e, now)
            return False
        self.written += len(readings)
        if self.on_written is not None:
            self.on_written(readings)
        return True

    def _store_failed(self, e: StoreError, now: float) -> None:
        self._failures += 1
        backoff = min(self.flush_interval_s * 2 ** (self._failures - 1), self.max_backoff_s)
        self._retry_at = now + backoff
        if self._down_since is None:
            self._down_since = now
            wlog.warning(
                "store unavailable: %s; spooling readings to %s until it is back",
                e,
                self.spool.path,
            )
        elif str(e) != self.last_error:
            wlog.warning("store still unavailable, now: %s", e)
        self.last_error = str(e)
        if self._store is not None:
            store, self._store = self._store, None
            try:
                store.close()
            except Exception:  # a broken store may fail to close too; it is dropped anyway
                wlog.debug("closing the failed store", exc_info=True)

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
                wlog.error("%s; keeping readings in memory meanwhile", e)
            overflow = max(len(items) - self.spool.max_readings, 0)
            self.dropped += overflow
            self._held = items[overflow:]
            return
        if self._held:
            wlog.info("spool %s writable again", self.spool.path)
            self._held = []
        self.spooled += len(items)
        if dropped:
            if not self.dropped:
                wlog.warning(
                    "spool full (%d readings): dropping the oldest to keep the newest",
                    self.spool.max_readings,
                )
            self.dropped += dropped

    def _drain(self, now: float) -> None:  # noqa: C901 (split in progress)
        """Write spooled readings out, oldest first, until empty, failing, or out of time."""
        started = self._clock()
        total = 0
        while len(self.spool):
            try:
                rows = self.spool.peek(self.drain_chunk)
            except SpoolError as e:
                wlog.error("%s", e)
                return
            if not rows:
                break
            if not self._write([r for _, r in rows], now):
                return
            try:
                self.spool.remove_through(rows[-1][0])
            except SpoolError as e:
                wlog.error("%s (those readings will be written again, harmlessly)", e)
                return
            total += len(rows)
            if self._clock() - started > self.drain_budget_s:
                wlog.info("wrote %d spooled readings, %d left; continuing", total, len(self.spool))
                return
        if self._held:  # what the spool could not take, newer than anything it holds
            if not self._write(self._held, now):
                return
            total += len(self._held)
            self._held = []
        if self._down_since is not None:
            wlog.info(
                "store back after %s; wrote %d spooled readings",
                format_gap(now - self._down_since),
                total,
            )
        elif total:
            wlog.info("wrote %d spooled readings", total)
        self._down_since, self._failures, self.last_error = None, 0, None

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                wlog.debug("closing the store", exc_info=True)
            self._store = None


class Collector:
    """The poll loop. Time comes in through ``clock`` (monotonic s) and ``sleep``, so tests can
    drive it without waiting; ``stop`` ends it (the signal handlers set it)."""

    def __init__(
        self,
        meter: MeterSource,
        writer: ReadingWriter,
        interval_s: float,
        *,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        max_backoff_s: float = MAX_BACKOFF_S,
        heartbeat: Callable[[], object] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.meter = meter
        self.writer = writer
        self.interval_s = interval_s
        self.stop = stop or threading.Event()
        self._clock = clock
        self._sleep = sleep or self.stop.wait
        self.max_backoff_s = max_backoff_s
        # Called once per loop turn, answered or not, so a supervisor sees the loop turning.
        self._heartbeat = heartbeat
        self.polls = 0
        self.readings = 0
        self.failures = 0  # consecutive
        self._episode_error: str | None = None
        self._episode_start: datetime | float | None = None
        self._last_ok: Reading | None = None

    def poll_once(self) -> Reading | None:
        """One poll: a reading handed to the writer, or a failure logged once per episode."""
        self.polls += 1
        started = self._clock()
        try:
            reading = self.meter.read()
        except Exception as e:  # the loop must outlive any one poll
            self._failed(e, started)
            return None
        if self.failures:
            self._recovered(reading, started)
        self.readings += 1
        self._last_ok = reading
        self.writer.add(reading)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", format_reading(reading))
        return reading

    def _failed(self, e: Exception, started: float) -> None:
        self.failures += 1
        kind = f"{type(e).__name__}: {e}"
        if self.failures == 1:
            self._episode_start = self._last_ok.ts if self._last_ok else started
            if isinstance(e, MeterError):
                log.warning(
                    "P1 meter: %s; retrying (backing off up to %g s)", e, self.max_backoff_s
                )
            else:
                log.exception("P1 meter: unexpected error; retrying")
        elif kind != self._episode_error:
            log.warning("P1 meter: still no reading, now: %s", e)
        self._episode_error = kind

    def _recovered(self, reading: Reading, started: float) -> None:
        since = self._episode_start
        gap_s = (
            (reading.ts - since).total_seconds()
            if isinstance(since, datetime)
            else started - (since or started)
        )
        log.info(
            "P1 meter back: %s without a reading (%d failed polls)",
            format_gap(gap_s),
            self.failures,
        )
        self.failures, self._episode_error, self._episode_start = 0, None, None

    def next_poll_at(self, scheduled: float, started: float, now: float) -> float:
        """The next slot on the fixed grid, later while failing (exponential, capped)."""
        nxt = scheduled + self.interval_s
        if self.failures:
            backoff = min(self.interval_s * 2 ** (self.failures - 1), self.max_backoff_s)
            nxt = max(nxt, started + backoff)
        if nxt <= now:  # late (slow reply, backoff): skip the missed slots, keep the phase
            nxt += math.ceil((now - nxt) / self.interval_s + 1e-9) * self.interval_s
        return nxt

    def run(self, max_polls: int | None = None, writer_thread: bool = True) -> None:
        """Poll until ``stop`` is set (or ``max_polls``), then flush everything."""
        thread: threading.Thread | None = None
        thread_stop = threading.Event()
        if writer_thread:
            thread = threading.Thread(
                target=self._writer_loop, args=(thread_stop,), name="collector-writer", daemon=True
            )
            thread.start()
        scheduled = self._clock()
        try:
            while not self.stop.is_set() and (max_polls is None or self.polls < max_polls):
                started = self._clock()
                self.poll_once()
                if self._heartbeat is not None:
                    self._heartbeat()
                if not writer_thread and self.writer.due():
                    self.writer.flush()
                scheduled = self.next_poll_at(scheduled, started, self._clock())
                delay = scheduled - self._clock()
                if delay > 0 and not self.stop.is_set():
                    self._sleep(delay)
        finally:
            thread_stop.set()
            self.writer.batch_ready.set()
            if thread is not None:
                thread.join(timeout=DRAIN_BUDGET_S + 30)
            self.writer.flush(final=True)

    def _writer_loop(self, thread_stop: threading.Event) -> None:
        while not thread_stop.is_set():
            self.writer.batch_ready.wait(self.writer.flush_interval_s)
            if thread_stop.is_set():
                break
            try:
                self.writer.flush()
            except Exception:  # a bug here must not silently stop all writing
                log.exception("writer: unexpected error; retrying at the next flush")


# -- command line ---------------------------------------------------------------------------
def _build(config: Config) -> tuple[HomeWizardClient, Spool]:
    m = config.meter
    if m.api == "v2":
        config.require("meter.token")
    try:
        client = HomeWizardClient.from_config(m)
    except ValueError as e:
        raise ConfigError(f"{config.source}: {e}") from None
    try:
        spool = Spool(m.spool_path)
    except SpoolError as e:
        raise ConfigError(f"{config.source}: meter.spool_path: {e}") from None
    if m.api == "v2" and not m.verify_tls:
        log.warning(
            "meter.verify_tls is false: the meter's TLS certificate is not checked, so anyone on "
            "the network could pose as the meter; set it to true for a real HomeWizard meter"
        )
    return client, spool


def run_cli(config: Config, args: argparse.Namespace) -> int:
    """``scc collector [--once]``: 0 on a clean stop, 1 when --once could not do its job."""
    client, spool = _build(config)
    writer = ReadingWriter(lambda: open_store(config), spool)
    try:
        if getattr(args, "once", False):
            return _once(client, writer)
        return _serve(config, client, writer)
    finally:
        writer.close()
        spool.close()
        client.close()


def _once(client: HomeWizardClient, writer: ReadingWriter) -> int:
    try:
        reading = client.read()
    except MeterError as e:
        print(f"scc collector: meter: {e}", file=sys.stderr)
        return 1
    writer.add(reading)
    writer.flush(final=True)
    print(f"{format_reading(reading)} at {reading.ts.isoformat()} (meter {reading.meter})")
    for name, value in reading.values().items():
        print(f"  {name} = {value}")
    if not writer.store_ok:
        print(
            f"scc collector: store unavailable ({writer.last_error}); the reading waits in the "
            f"spool {writer.spool.path} ({len(writer.spool)} readings) for the next run",
            file=sys.stderr,
        )
        return 1
    return 0


def _serve(config: Config, client: HomeWizardClient, writer: ReadingWriter) -> int:
    beat_path = config.health.heartbeat_file
    collector = Collector(
        client,
        writer,
        config.meter.poll_interval_s,
        heartbeat=(lambda: write_heartbeat(beat_path, utcnow())) if beat_path else None,
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping after this poll", signal.Signals(signum).name)
        collector.stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info(
        "polling %s (API %s) every %g s into the %s store",
        client.base_url,
        client.api,
        collector.interval_s,
        config.store.backend,
    )
    try:
        collector.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    left = len(writer.spool)
    log.info(
        "stopped: %d readings written%s",
        writer.written,
        f", {left} waiting in the spool {writer.spool.path}" if left else "",
    )
    return 0
