"""Reading the config file: UTF-8 text, at most a megabyte, YAML without aliases.

Every way a file can be wrong is one line (common/config.py turns ``ConfigFileError`` into a
ConfigError, exit code 2): a file saved as Latin-1, a stray binary, a YAML error with its line, an
alias bomb. Aliases are refused outright: a few hundred bytes of nested ``*name`` references expand
to gigabytes wherever the value is walked (a 515-byte file took 44 s and 3 GB before failing), and
a configuration has no need of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: A config file is a few kB; anything this big is some other file.
MAX_CONFIG_BYTES = 1_000_000


class ConfigFileError(Exception):
    """The file cannot be read as a config; the message is one line naming the file."""


class _NoAliasLoader(yaml.SafeLoader):
    """``safe_load`` that stops at the first alias."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in the config", mark
            )
        return super().compose_node(parent, index)


def yaml_scalar(text: str) -> Any:
    """YAML without aliases; nesting thousands deep (RecursionError) is a YAMLError too."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader: no Python objects
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def read_config_file(p: Path) -> dict[str, Any]:
    """The file's top-level mapping ({} for an empty file)."""
    try:
        with p.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigFileError(f"{p}: cannot read config file: {e.strerror or e}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"{p}: larger than {MAX_CONFIG_BYTES} bytes: not a config file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigFileError(
            f"{p}: not UTF-8 text (byte 0x{data[e.start]:02x} at line {line}); "
            "save the file as UTF-8"
        ) from None
    try:
        loaded = yaml_scalar(text)
    except yaml.YAMLError as e:
        raise ConfigFileError(f"{p}: invalid YAML{_where(e, text)}: {_problem(e)}") from None
    if not isinstance(loaded, dict | None):
        raise ConfigFileError(f"{p}: the top level must be a mapping of sections")
    return loaded or {}


def _where(e: yaml.YAMLError, text: str) -> str:
    if isinstance(e, yaml.reader.ReaderError):  # a control character, say
        return f" at line {text[: e.position].count(chr(10)) + 1}"
    mark = getattr(e, "problem_mark", None)
    return "" if mark is None else f" at line {mark.line + 1}"


def _problem(e: yaml.YAMLError) -> str:
    return getattr(e, "problem", None) or (str(e).splitlines() or ["invalid YAML"])[0]
