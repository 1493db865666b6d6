from common.cli import entry

entry("toggle")
