"""common.stopping: a stop a signal handler can request without a lock, and a sleep it ends."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from common.stopping import Stopping


@pytest.fixture
def stopping():
    s = Stopping()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGALRM, signal.SIGUSR1)}
    yield s
    signal.setitimer(signal.ITIMER_REAL, 0)
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    s.close()


def test_a_signal_ends_the_sleep_at_once(stopping):
    stopping.on_signals([signal.SIGALRM])
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    started = time.monotonic()
    assert stopping.wait(10) is True
    assert 0.15 < time.monotonic() - started < 1.0
    assert stopping.is_set() and stopping() and stopping.signum == signal.SIGALRM


def test_without_a_request_the_sleep_lasts_its_time(stopping):
    started = time.monotonic()
    assert stopping.wait(0.2) is False
    assert time.monotonic() - started >= 0.2


def test_a_request_from_another_thread_wakes_the_sleeper(stopping):
    threading.Timer(0.1, stopping.request).start()
    started = time.monotonic()
    assert stopping.wait(10)
    assert time.monotonic() - started < 1.0


def test_the_handler_takes_no_lock_the_sleeping_thread_could_hold():
    """threading.Event.set() in a handler takes the Event's lock, which the main thread may
    hold inside Event.wait(): the handler then waits for its own thread. Here the handler is
    run while the main thread holds an Event's lock, as it would be mid-wait: with Event.set()
    it would never return; Stopping's request() does at once."""
    held = threading.Event()
    stopping = Stopping()
    try:
        with held._cond:  # the lock Event.wait() holds between its checks
            finished = threading.Event()

            def handler_in_this_thread() -> None:
                stopping.request()
                finished.set()

            handler_in_this_thread()
            assert finished.is_set() and stopping.is_set()
    finally:
        stopping.close()


def test_many_signals_while_sleeping_never_hang(stopping):
    """The controller's loop sleeps in wait(); a storm of signals lands at every point of it."""
    stopping.on_signals([signal.SIGUSR1])
    pid = os.getpid()
    sent = threading.Event()

    def storm() -> None:
        for _ in range(300):
            os.kill(pid, signal.SIGUSR1)
            time.sleep(0.0005)
        sent.set()

    started = time.monotonic()
    threading.Thread(target=storm, daemon=True).start()
    while not sent.is_set():
        stopping.wait(0.001)
    assert stopping.is_set() and time.monotonic() - started < 10


def test_one_request_wakes_every_sleeper_in_every_thread(stopping):
    """The collector's loop and its stop thread sleep on the same Stopping: a sleeper that
    consumed the wake-up would leave the other asleep for its whole timeout."""
    woke: list[float] = []

    def sleeper() -> None:
        stopping.wait(30)
        woke.append(time.monotonic())

    threads = [threading.Thread(target=sleeper) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    asked = time.monotonic()
    stopping.request()
    for t in threads:
        t.join(timeout=5)
    assert len(woke) == 3 and max(woke) - asked < 1.0
    assert stopping.wait(30) is True  # and any later sleep returns at once
