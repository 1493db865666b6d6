from common.cli import entry

entry("controller")
