"""A heartbeat file: proof that a long-running loop is still turning.

Docker's HEALTHCHECK runs in a separate process, so "alive" must be visible from outside: the
collector and controller rewrite this file once per loop iteration, and the healthcheck
(``python -m common.heartbeat PATH MAX_AGE_S``) fails when it is missing or older than MAX_AGE_S.
A hung HTTP call or a dead thread then shows up as "unhealthy" instead of a silent stall.

The file holds the writer's own timestamp (epoch seconds), not its mtime, so the writer's clock
can be injected in tests and a copied or restored file cannot pass for fresh.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from common.models import utc

log = logging.getLogger(__name__)
_last_error: str | None = None


def write_heartbeat(path: str | os.PathLike[str] | None, now: datetime) -> bool:
    """Record ``now`` atomically, so a reader never sees a half-written file.

    Safe to call every loop iteration with ``config.health.heartbeat_file``: None writes
    nothing, and a write that fails is logged (once per distinct error) and reported as False,
    never raised, because a full disk must not stop the loop the heartbeat is about.
    """
    global _last_error
    if path is None:
        return False
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(f"{utc(now).timestamp():.3f}\n", encoding="ascii")
        os.replace(tmp, target)
    except OSError as e:
        message = f"cannot write heartbeat {target}: {e.strerror or e}"
        if message != _last_error:
            log.warning("%s", message)
            _last_error = message
        return False
    _last_error = None
    return True


def heartbeat_age_s(path: str | os.PathLike[str], now_epoch_s: float) -> float:
    """Seconds since the last beat; raises ValueError naming the problem when there is none."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ValueError(f"{path}: no heartbeat yet") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read heartbeat: {e}") from None
    try:
        beat = float(text)
    except ValueError:
        raise ValueError(f"{path}: not a heartbeat: {text[:40]!r}") from None
    return now_epoch_s - beat


def check(path: str, max_age_s: float, now_epoch_s: float) -> tuple[bool, str]:
    """(healthy, one line for `docker inspect`): fresh means no older than ``max_age_s``."""
    try:
        age = heartbeat_age_s(path, now_epoch_s)
    except ValueError as e:
        return False, f"unhealthy: {e}"
    if age > max_age_s:
        return False, f"unhealthy: last heartbeat {age:.0f} s ago (limit {max_age_s:.0f} s)"
    return True, f"ok: last heartbeat {max(age, 0.0):.0f} s ago"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Exit 1 for a usage error too: Docker reserves 2, and a broken check must not look healthy.
    usage = "usage: python -m common.heartbeat PATH MAX_AGE_S"
    if len(args) != 2:
        print(usage, file=sys.stderr)
        return 1
    try:
        max_age_s = float(args[1])
    except ValueError:
        max_age_s = math.nan
    if not (math.isfinite(max_age_s) and max_age_s > 0):
        print(f"{usage} (MAX_AGE_S must be positive seconds, got {args[1]!r})", file=sys.stderr)
        return 1
    healthy, line = check(args[0], max_age_s, time.time())
    print(line)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
