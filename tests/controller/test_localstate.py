"""The controller state file's dip start: kept across a restart, written seldom, never trusted
when it is not a time with its zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from common.models import Mode
from controller.localstate import LocalState, LocalStateFile, dip_to_keep

T0 = datetime(2030, 6, 1, 12, tzinfo=UTC)


def at(s: float | None) -> datetime | None:
    return None if s is None else T0 + timedelta(seconds=s)


@pytest.mark.parametrize(
    ("kept_s", "dip_s", "write_s"),
    [
        (None, None, None),
        (None, 0, 0),  # a dip begins
        (0, None, None),  # it ended
        (0, 29, 0),  # the sun moved it on a little: the older start stays, no write
        (0, 30, 30),  # by the step: follow it
        (0, -10, -10),  # began earlier (a wall clock stepped back): at once
        (None, 0.9, 0),  # whole seconds, rounded down: never younger than the dip
        (0, 30.5, 30),
    ],
)
def test_the_kept_dip_start_follows_the_dip_in_steps_never_younger(kept_s, dip_s, write_s):
    assert dip_to_keep(at(kept_s), at(dip_s)) == at(write_s)


def test_the_dip_start_survives_a_restart(tmp_path):
    kept = LocalStateFile(tmp_path / "scc-controller-state.json")
    kept.save(LocalState(mode=Mode.SOLAR, dip_since=T0))
    again = LocalStateFile(kept.path).load()
    assert again is not None and again.dip_since == T0
    assert json.loads(kept.path.read_text())["dip_since"] == "2030-06-01T12:00:00+00:00"


@pytest.mark.parametrize("value", ["yesterday", "2030-06-01T12:00:00", 1780000000, [], None])
def test_a_dip_start_that_is_no_zoned_time_is_no_dip(tmp_path, value):
    """A damaged value costs the dip its start (a restart then gives it a whole stop delay, as
    before), never the rest of the file."""
    path = tmp_path / "scc-controller-state.json"
    path.write_text(json.dumps({"mode": "solar", "last_w_per_a": 692.8, "dip_since": value}))
    kept = LocalStateFile(path).load()
    assert kept is not None and kept.dip_since is None
    assert kept.mode is Mode.SOLAR and kept.last_w_per_a == 692.8
