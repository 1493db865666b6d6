"""A total deadline for each Wallbox cloud request, and a way out of one when the process stops.

The ``wallbox`` package passes our ``timeout_s`` to ``requests``, which applies it to each socket
operation, not to the request: an answer that trickles in one byte every 2 s never trips a 3 s
timeout, and kept the controller in one sign-in for more than 50 s, deaf to SIGTERM
(docs/design.md, "Fail-safe"). The package calls ``requests.get`` itself, so there is no session
to hand a deadline to. Each request therefore runs in a worker thread, and the caller waits for
it at most ``deadline_s`` (a little more than the socket timeout, so a silent server still ends
in the package's own timeout), or until the process is asked to stop (``stop()``: a flag a
signal handler may set, common.stopping).

A request abandoned that way may still be hanging on its socket. Until it ends, the next request
is refused at once (no thread piles up behind a dead connection); the worker is a daemon thread,
so a stopping process does not wait for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from common.ports import ChargerUnavailable

T = TypeVar("T")

#: How often a waiting caller looks at the stop flag.
POLL_S = 0.05


class RequestRunner:
    """Runs one request at a time with a total deadline; ``stop`` abandons the one running."""

    def __init__(self, deadline_s: float, stop: Callable[[], bool] | None = None) -> None:
        self.deadline_s = deadline_s
        self.stop: Callable[[], bool] = stop or (lambda: False)
        self._hanging: threading.Thread | None = None

    def run(self, call: Callable[[], T], start: Callable[[], None] | None = None) -> T:
        """``call()``'s result or exception; ChargerUnavailable past the deadline or on stop.

        ``start`` runs once nothing here stands in the way, just before the request goes out
        (the rate limiter's budget, the next read's schedule): a request refused here, while an
        abandoned one still hangs or the process stops, must cost neither. If ``start`` raises,
        nothing is sent.
        """
        if self._hanging is not None and self._hanging.is_alive():
            raise ChargerUnavailable(
                "an earlier Wallbox cloud request is still hanging: not sending another"
            )
        self._hanging = None
        if self.stop():
            raise ChargerUnavailable("stopping: no more Wallbox cloud requests")
        if start is not None:
            start()  # may wait for the budget: the stop may have come meanwhile
            if self.stop():
                raise ChargerUnavailable("stopping: no more Wallbox cloud requests")
        outcome: dict[str, object] = {}
        done = threading.Event()

        def work() -> None:
            try:
                outcome["value"] = call()
            except BaseException as e:  # handed to the caller below, whatever it is
                outcome["error"] = e
            finally:
                done.set()

        worker = threading.Thread(target=work, name="wallbox-request", daemon=True)
        worker.start()
        self._wait(worker, done)
        if "error" in outcome:
            error = outcome["error"]
            assert isinstance(error, BaseException)
            raise error
        return outcome["value"]  # type: ignore[return-value]  # set by work() when no error

    def _wait(self, worker: threading.Thread, done: threading.Event) -> None:
        """Until ``done``; past the deadline or on stop the worker is left hanging."""
        end = time.monotonic() + self.deadline_s
        while not done.wait(min(POLL_S, max(end - time.monotonic(), 0.0))):
            if self.stop() or time.monotonic() >= end:
                self._hanging = worker
                if self.stop():
                    raise ChargerUnavailable("Wallbox cloud request abandoned: stopping")
                raise ChargerUnavailable(
                    f"Wallbox cloud timed out: no whole answer within {self.deadline_s:g} s"
                )
