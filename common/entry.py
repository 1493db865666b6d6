"""Run one command line: load the config, set up logging, run, and turn failures into exit codes.

``scc`` (the composition root) and ``python -m collector`` / ``controller`` / ``toggle_app`` go
through the same function, so a bad config is one line and exit code 2 however a component is
started, Ctrl-C is exit code 130, and a reader that goes away (``scc replay --json | head``) ends
the command quietly; never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from common.config import Config, ConfigError, load_config
from common.logs import setup_logging

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
#: What a shell reports for a program killed by SIGPIPE (128 + 13), as ``yes | head`` gives.
EXIT_BROKEN_PIPE = 141

Run = Callable[[Config, argparse.Namespace], int]


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: its help line, its options and what runs it (imported only when run)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Run


def add_global_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """The options every command takes (``--config``), before or after the command's name.

    ``scc`` adds them to its own parser and, with ``after_command``, to each subcommand's: there
    they default to SUPPRESS, so that ``scc --config FILE status`` keeps the FILE given before the
    command instead of being reset by the subcommand's default.
    """
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS if after_command else None,
        help="YAML config (default: $SCC_CONFIG or ./config.yaml)",
    )


def run_command(command: str, args: argparse.Namespace, run: Run) -> int:
    try:
        config = load_config(getattr(args, "config", None))
        setup_logging(config.logging, command)
        code = run(config, args)
        sys.stdout.flush()  # a reader gone shows here, not as a traceback at exit
        return code
    except ConfigError as e:
        print(f"scc: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # a socket's broken pipe is a real error, not ours to hide
        # The interpreter flushes stdout once more at exit; send that to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _stdout_reader_gone() -> bool:
    """True when nobody reads stdout any more (a pipe whose reader exited reports POLLERR)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() here, or stdout is no file
        return True


def component_main(cmd: Command, package: str, argv: Sequence[str] | None = None) -> None:
    """``python -m PACKAGE``: the same options and behaviour as ``scc NAME``."""
    logging.captureWarnings(True)
    parser = argparse.ArgumentParser(prog=f"python -m {package}", description=cmd.help)
    add_global_options(parser)
    cmd.add_arguments(parser)
    args = parser.parse_args(argv)
    sys.exit(run_command(cmd.name, args, cmd.run))
