"""``scc controller`` and ``python -m controller``: the options; the loop is in runner.py."""

from __future__ import annotations

import argparse

from common.config import Config
from common.entry import Command


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--once", action="store_true", help="run one control cycle and exit")


def _run(config: Config, args: argparse.Namespace) -> int:
    from controller.runner import run_cli

    return run_cli(config, args)


COMMAND = Command(
    name="controller",
    help="steer the Wallbox from the solar surplus",
    add_arguments=_add_arguments,
    run=_run,
)
