"""``python -m toggle_app``: the same as ``scc toggle``."""

from common.entry import component_main
from toggle_app.cli import COMMAND

component_main(COMMAND, "toggle_app")
