"""``scc toggle`` and ``python -m toggle_app``: the options; the server is in server.py."""

from __future__ import annotations

import argparse

from common.config import Config
from common.entry import Command


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--debug", action="store_true", help="Flask development server instead (not for a network)"
    )


def _run(config: Config, args: argparse.Namespace) -> int:
    from toggle_app.server import run_cli

    return run_cli(config, args)


COMMAND = Command(
    name="toggle",
    help="serve the phone page and JSON API",
    add_arguments=_add_arguments,
    run=_run,
)
