"""``scc collector`` as a real process, for the tests that only a process can show: a hung peer,
SIGTERM, memory, the heartbeat another process reads."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support.lines import Lines

ROOT = Path(__file__).resolve().parents[2]


class CollectorProcess:
    """Started on a config written from ``sections``; its log lines collected as they come."""

    def __init__(self, tmp_path: Path, **sections: dict[str, Any]) -> None:
        sections.setdefault("store", {"sqlite_path": str(tmp_path / "scc.db")})
        sections["meter"] = {"spool_path": str(tmp_path / "spool.sqlite"), **sections["meter"]}
        self.config = tmp_path / "config.yaml"
        self.config.write_text(yaml.safe_dump(sections), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCC_", "INFLUX"))}
        env["PYTHONPATH"] = str(ROOT)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scc.cli", "collector", "--config", str(self.config)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log = Lines(self.proc, self.proc.stderr)

    def output(self) -> str:
        return self.log.output()

    def wait_for(self, pattern: str, timeout_s: float = 20.0) -> re.Match[str]:
        return self.log.wait_for(pattern, timeout_s, shown=30)

    def count(self, pattern: str) -> int:
        return self.log.count(pattern)

    def rss_mb(self) -> float:
        """Resident memory now (Linux)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        m = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert m, status
        return int(m[1]) / 1024

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> tuple[int, float]:
        """Send ``sig``; (exit code, seconds it took to exit). Killed if it takes ``timeout_s``."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"still running {timeout_s} s after {signal.Signals(sig).name}; output:\n"
                + self.output()
            ) from None
        took = time.monotonic() - sent
        self.log.join()
        return code, took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.log.join()
