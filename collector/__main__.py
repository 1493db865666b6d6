"""``python -m collector``: the same as ``scc collector``."""

from collector.cli import COMMAND
from common.entry import component_main

component_main(COMMAND, "collector")
