"""``scc collector`` and ``python -m collector``: the options; the loop is in service.py."""

from __future__ import annotations

import argparse

from common.config import Config
from common.entry import Command


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--once", action="store_true", help="poll once, write, print the reading, exit")


def _run(config: Config, args: argparse.Namespace) -> int:
    from collector.service import run_cli

    return run_cli(config, args)


COMMAND = Command(
    name="collector",
    help="poll the P1 meter and write readings to the store",
    add_arguments=_add_arguments,
    run=_run,
)
