"""The collector: poll the P1 meter on a fixed cadence and get every reading into the store.

Two threads, so that a slow store never delays a poll: the poll loop (the main thread, here)
reads the meter every ``meter.poll_interval_s`` on a fixed grid (a slow reply never shifts later
polls) and hands readings to the ``ReadingWriter`` (collector/writer.py), whose thread writes them
in batches and spools them on disk while the store is down. Meter failures are logged once per
episode (and again only if the error changes), polls back off up to 30 s while they last, and the
recovery line says how long the gap was.

SIGTERM and SIGINT stop the loop, flush, and exit 0, within seconds whatever the process waits on:
a meter request in progress gets ABORT_AFTER_S to finish and is then cut off
(``HomeWizardClient.abort``), every store request has its own deadline, and if the stop still
takes longer than STOP_GRACE_S (a store that hangs in the final flush), what is pending goes to
the spool and the process exits 1.

The heartbeat is written once per loop turn while readings reach the store; when none has for
``health.store_stall_s`` (the store is down, or refuses everything), it stops, so that Docker's
healthcheck reports what the log says.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from collector.errors import MeterError
from collector.homewizard import HomeWizardClient
from collector.spool import Spool, SpoolError
from collector.writer import DRAIN_BUDGET_S, MAX_BACKOFF_S, ReadingWriter, format_gap
from common.config import Config, ConfigError, HealthConfig, MeterConfig
from common.heartbeat import write_heartbeat
from common.models import Reading, utcnow
from common.ports import MeterSource
from common.stopping import Stopping
from common.store import open_store

log = logging.getLogger("poll")

#: After SIGTERM the process is gone within this many seconds (Docker's own limit is 10).
STOP_GRACE_S = 8.0
#: A meter request still running this long after SIGTERM is cut off.
ABORT_AFTER_S = 1.0


def format_reading(r: Reading) -> str:
    """``P1: -4200 W (L1 -1420, L2 -1390, L3 -1390)``."""
    total = "? W" if r.active_power_w is None else f"{r.active_power_w:.0f} W"
    phases = [
        f"L{i} {v:.0f}"
        for i, v in enumerate((r.active_power_l1_w, r.active_power_l2_w, r.active_power_l3_w), 1)
        if v is not None
    ]
    return f"P1: {total}" + (f" ({', '.join(phases)})" if phases else "")


class StopSignal(Protocol):
    """What ends the loop: a ``threading.Event`` in tests, ``Stopping`` under signals."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float, /) -> bool: ...


class Collector:
    """The poll loop. Time comes in through ``clock`` (monotonic s) and ``sleep``, so tests can
    drive it without waiting; ``stop`` ends it (the signal handlers set it)."""

    def __init__(
        self,
        meter: MeterSource,
        writer: ReadingWriter,
        interval_s: float,
        *,
        stop: StopSignal | None = None,
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
        self.stop: StopSignal = stop or threading.Event()
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
            if not self.stop.is_set():  # a request cut short by the stop is no meter fault
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


def default_url_hint(config: Config) -> str:
    """For a meter.url nobody set: that it is the default, and where the meter's address goes."""
    if config.meter.url != MeterConfig.url:
        return ""
    return (
        f"; {config.meter.url} is the default meter.url (where python -m sim.meter listens): "
        f"set meter.url to your P1 meter's address (e.g. http://192.168.1.50) in {config.source} "
        "or in $SCC_METER__URL"
    )


def run_cli(config: Config, args: argparse.Namespace) -> int:
    """``scc collector [--once]``: 0 on a clean stop, 1 when --once could not do its job."""
    client, spool = _build(config)
    writer = ReadingWriter(lambda: open_store(config), spool)
    try:
        if getattr(args, "once", False):
            return _once(client, writer, default_url_hint(config))
        return _serve(config, client, writer)
    finally:
        writer.close()
        spool.close()
        client.close()


def _once(client: HomeWizardClient, writer: ReadingWriter, hint: str = "") -> int:
    try:
        reading = client.read()
    except MeterError as e:
        print(f"scc collector: meter: {e}{hint}", file=sys.stderr)
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
    # The handler only raises a flag (common.stopping): one that took a lock (Event.set,
    # Thread.start, logging) could hang the process it should stop. A thread does the rest.
    stopping = Stopping()
    collector = Collector(
        client,
        writer,
        config.meter.poll_interval_s,
        stop=stopping,
        heartbeat=HealthBeat(config.health, writer),
    )
    threading.Thread(
        target=_when_stopping, args=(stopping, client, writer), name="collector-stop", daemon=True
    ).start()
    previous = stopping.on_signals((signal.SIGTERM, signal.SIGINT))
    log.info(
        "polling %s (API %s) every %g s into the %s store%s",
        client.base_url,
        client.api,
        collector.interval_s,
        config.store.backend,
        default_url_hint(config),
    )
    try:
        collector.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped: %s", _summary(writer))
    return 0


def _summary(writer: ReadingWriter) -> str:
    left = len(writer.spool)
    return (
        f"{writer.written} readings written"
        + (f", {left} waiting in the spool {writer.spool.path}" if left else "")
        + (
            f", {writer.set_aside} refused by the store and set aside in {writer.dead_letter.path}"
            if writer.set_aside
            else ""
        )
    )


def _when_stopping(stopping: Stopping, client: HomeWizardClient, writer: ReadingWriter) -> None:
    """After the signal: log it, cut a meter request still running after ABORT_AFTER_S (one in
    progress may finish and its reading is kept), and arm the last resort."""
    while not stopping.wait(3600.0):
        pass
    name = signal.Signals(stopping.signum).name if stopping.signum else "stop"
    log.info("%s: stopping", name)
    abort = threading.Timer(ABORT_AFTER_S, client.abort)
    abort.daemon = True
    abort.start()
    _hard_stop(writer)


def _hard_stop(writer: ReadingWriter, grace_s: float = STOP_GRACE_S) -> None:
    """The last resort when a stop hangs: keep what is pending in the spool, then exit 1.

    A daemon thread: when the stop finishes in time, the process ends and this with it.
    """
    time.sleep(grace_s)
    kept = writer.spool_pending()
    log.error(
        "still stopping after %g s (the store does not answer); %d pending readings kept in "
        "the spool; exiting now",
        grace_s,
        kept,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(1)


class HealthBeat:
    """The collector's heartbeat: one beat per loop turn, none while nothing reaches the store."""

    def __init__(self, health: HealthConfig, writer: ReadingWriter) -> None:
        self.path = health.heartbeat_file
        self.stall_s = health.store_stall_s
        self.writer = writer
        self.stalled = False

    def __call__(self) -> None:
        stalled_s = self.writer.stalled_s()
        if stalled_s > self.stall_s:
            if not self.stalled:
                log.warning(
                    "no reading has reached the store for %s; the heartbeat stops until one does",
                    format_gap(stalled_s),
                )
            self.stalled = True
            return
        if self.stalled:
            log.info("readings reach the store again; heartbeat resumed")
        self.stalled = False
        if self.path:
            write_heartbeat(self.path, utcnow())
