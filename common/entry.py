"""Run one command line: load the config, set up logging, run, and turn failures into exit codes.

``scc`` (the composition root) and ``python -m collector`` / ``controller`` / ``toggle_app`` go
through the same function, so a bad config is one line and exit code 2 however a component is
started, and Ctrl-C is exit code 130, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common.config import Config, ConfigError, load_config
from common.logs import setup_logging

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130

Run = Callable[[Config, argparse.Namespace], int]


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: its help line, its options and what runs it (imported only when run)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Run


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="YAML config (default: $SCC_CONFIG or ./config.yaml)"
    )


def run_command(command: str, args: argparse.Namespace, run: Run) -> int:
    try:
        config = load_config(args.config)
        setup_logging(config.logging, command)
        return run(config, args)
    except ConfigError as e:
        print(f"scc: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def component_main(cmd: Command, package: str, argv: Sequence[str] | None = None) -> None:
    """``python -m PACKAGE``: the same options and behaviour as ``scc NAME``."""
    logging.captureWarnings(True)
    parser = argparse.ArgumentParser(prog=f"python -m {package}", description=cmd.help)
    add_config_option(parser)
    cmd.add_arguments(parser)
    args = parser.parse_args(argv)
    sys.exit(run_command(cmd.name, args, cmd.run))
