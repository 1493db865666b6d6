"""An asyncio event loop in a background thread, for synchronous code that must talk to an
asynchronous peer (the OCPP central system, and the simulated charge point that calls it).

``run`` hands a coroutine to the loop and waits for its result with a deadline, so the calling
thread never blocks on the network for longer than it said, nor once a stop flag it was given is
set (SIGTERM: the call is abandoned at once, common.stopping). ``stop`` cancels whatever still
runs on the loop (tasks a library started and forgot included) and waits for them to finish
before closing it, so nothing is destroyed while pending.

Several users may share one loop (the replay puts the central system and the simulated charge
point on one, so a message between them costs no thread switch): each ``start`` is matched by a
``stop``, and the last ``stop`` ends the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: How often a caller waiting with a stop flag looks at it.
POLL_S = 0.05


class Abandoned(Exception):
    """The caller was asked to stop while it waited: the coroutine is cancelled."""


class LoopThread:
    """One event loop, run forever in a daemon thread until ``stop``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._users = 0

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        self._users += 1
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()
            _cancel_all(loop)
            loop.close()

        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        started.wait()
        self._loop = loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError(f"{self.name}: the event loop is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run(
        self,
        coro: Coroutine[Any, Any, T],
        timeout_s: float,
        stop: Callable[[], bool] | None = None,
    ) -> T:
        """The coroutine's result; ``TimeoutError`` (and the coroutine cancelled) after
        ``timeout_s``, ``Abandoned`` as soon as ``stop()`` says so; its own exception
        otherwise."""
        future = self.submit(coro)
        end = time.monotonic() + timeout_s
        while True:
            left_s = max(end - time.monotonic(), 0.0)
            try:
                return future.result(timeout=left_s if stop is None else min(left_s, POLL_S))
            except concurrent.futures.TimeoutError:
                if future.done():  # just now, or its own TimeoutError
                    return future.result()
            if stop is not None and stop():
                future.cancel()
                raise Abandoned(f"{self.name}: abandoned: stopping")
            if time.monotonic() >= end:
                future.cancel()
                raise TimeoutError(f"{self.name}: no result within {timeout_s:g} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        self._users = max(self._users - 1, 0)
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._users > 0:
            return
        self._loop = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=timeout_s)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
