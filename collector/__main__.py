from common.cli import entry

entry("collector")
