"""Logging for every component: readable lines to stderr and, optionally, a file."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from common.config import ConfigError, LoggingConfig

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(config: LoggingConfig, component: str) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if config.file:
        path = Path(config.file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Rotate so a long-running Raspberry Pi does not fill its SD card.
            handlers.append(
                logging.handlers.RotatingFileHandler(path, maxBytes=10_000_000, backupCount=5)
            )
        except OSError as e:
            raise ConfigError(f"logging.file {config.file}: cannot open: {e.strerror}") from None
    fmt = logging.Formatter(FORMAT.replace("%(name)s", f"{component}/%(name)s"))
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(config.level)
    for noisy in ("urllib3", "werkzeug", "waitress"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
