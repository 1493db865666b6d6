"""A controller that starts while the store is down sends nothing until it knows the mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common.models import Action, Decision, Mode
from common.snapshot import ChargerSnapshot
from common.store.base import StoreError
from common.store.sqlite import SqliteStore
from controller.policy import PolicySettings
from controller.service import Controller

T0 = datetime(2026, 5, 18, 20, 0, tzinfo=UTC)
WPA = 692.8


class FlakyStore:
    """A real SQLite store behind a switch: while ``down``, every call fails as a store does."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.down = True

    def __getattr__(self, name: str):
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if self.down:
                raise StoreError("InfluxDB http://influxdb:8086: connection refused")
            return attr(*args, **kwargs)

        return call


class ChargingCharger:
    """A car charging at 16 A (handed back by an earlier run in manual mode)."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def snapshot(self, now: datetime, *, allow_read: bool = True) -> ChargerSnapshot:
        return ChargerSnapshot(
            ts=now, charger_id="9988552", status_id=194, setpoint_a=16, power_w=16 * WPA,
            read_at=now,
        )  # fmt: skip

    def set_current(self, current_a: int, now: datetime) -> None:
        self.commands.append(f"set_current({current_a})")

    def pause(self, now: datetime) -> None:
        self.commands.append("pause")

    def resume(self, now: datetime) -> None:
        self.commands.append("resume")


def test_store_down_at_start_in_manual_mode_neither_pauses_nor_re_releases(tmp_path):
    sqlite = SqliteStore(tmp_path / "scc.db")
    sqlite.set_mode(Mode.MANUAL, "phone", T0 - timedelta(hours=3))
    sqlite.write_decision(
        Decision(ts=T0 - timedelta(hours=2), mode=Mode.MANUAL, action=Action.RELEASE,
                 reason="manual-release", target_a=16)
    )  # fmt: skip
    store = FlakyStore(sqlite)
    charger = ChargingCharger()
    ctl = Controller(store, charger, PolicySettings(watts_per_amp=WPA))

    first = ctl.run_cycle(T0)
    second = ctl.run_cycle(T0 + timedelta(seconds=60))
    assert [first.reason, second.reason] == ["store-unavailable", "store-unavailable"]
    assert charger.commands == []  # not paused as "stale solar" while the mode is unknown

    store.down = False
    back = ctl.run_cycle(T0 + timedelta(seconds=120))
    assert (back.mode, back.action, back.reason) == (Mode.MANUAL, Action.NONE, "manual")
    assert charger.commands == []  # and not handed back a second time


def test_an_unknown_mode_row_is_an_error_logged_once_not_a_silent_stop(tmp_path, caplog):
    """Another tool wrote mode 'off': the controller says so once and carries on (in the mode
    it knew, here the default solar), instead of sending nothing for ever."""
    import logging
    import sqlite3

    caplog.set_level(logging.INFO)
    path = tmp_path / "scc.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO mode VALUES (1, 'off', 'other-tool')")
    charger = ChargingCharger()
    ctl = Controller(SqliteStore(path), charger, PolicySettings(watts_per_amp=WPA))
    decisions = [ctl.run_cycle(T0 + timedelta(seconds=60 * k)) for k in range(3)]
    assert [d.reason for d in decisions] == ["stale"] * 3  # no meter data: the stale rule
    assert decisions[0].mode is Mode.SOLAR and charger.commands[:1] == ["pause"]
    errors = [r for r in caplog.records if "unreadable stored value" in r.getMessage()]
    assert len(errors) == 1 and "'off'" in errors[0].getMessage()
    assert "set the mode again on the phone page" in errors[0].getMessage()
