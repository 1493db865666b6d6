"""``python -m controller``: the same as ``scc controller``."""

from common.entry import component_main
from controller.cli import COMMAND

component_main(COMMAND, "controller")
