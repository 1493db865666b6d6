"""Readings the store refused for good, set aside in a file of JSON lines beside the spool.

Why: a store that refuses a batch for good (InfluxDB's 422 for points older than the bucket's
retention, after a clock error say) would otherwise get the same batch again at every retry, and
every reading behind it would wait for ever. So the writer splits a refused batch until it finds
the readings refused, and they come here: out of the way, not retried, but not silently gone
either. One JSON object per line (time, meter, fields, why) can be read by a person or loaded
elsewhere. The file is bounded; past ``max_bytes`` readings are only counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from common.models import Reading

log = logging.getLogger("writer")

DEFAULT_MAX_BYTES = 50_000_000


class DeadLetter:
    def __init__(self, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.count = 0  # set aside by this process
        self.lost = 0  # not written: the file was full or could not be written
        self._problem: str | None = None

    def add(self, readings: Sequence[Reading], why: str) -> None:
        """Append ``readings``; never raises (a full disk must not stop the writer)."""
        self.count += len(readings)
        lines = "".join(
            json.dumps({"ts": r.ts.isoformat(), "meter": r.meter, **r.values(), "refused": why})
            + "\n"
            for r in readings
        )
        try:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(lines) > self.max_bytes:
                self._failed(len(readings), f"{self.path} is full ({self.max_bytes} bytes)")
                return
            with self.path.open("a", encoding="utf-8") as f:
                f.write(lines)
        except OSError as e:
            self._failed(len(readings), f"cannot write {self.path}: {e.strerror or e}")

    def _failed(self, n: int, problem: str) -> None:
        self.lost += n
        if problem != self._problem:
            log.error("%s: refused readings are now only counted", problem)
            self._problem = problem
