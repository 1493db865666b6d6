"""Stores: the protocol, SQLite (embedded default) and InfluxDB 2."""

from __future__ import annotations

from common.config import Config
from common.store.base import (
    PowerPoint,
    Store,
    StoreError,
    StoreInfo,
    StoreRefused,
    UnreadableRow,
    build_status,
)

__all__ = [
    "PowerPoint",
    "Store",
    "StoreError",
    "StoreInfo",
    "StoreRefused",
    "UnreadableRow",
    "build_status",
    "open_store",
]


def open_store(config: Config) -> Store:
    """The store the config names; InfluxDB is imported only when used."""
    if config.store.backend == "influxdb":
        from common.store.influx import InfluxStore

        config.require("influxdb.token")
        token = config.influxdb.token.get() if config.influxdb.token else ""
        return InfluxStore(
            url=config.influxdb.url,
            token=token,
            org=config.influxdb.org,
            bucket=config.influxdb.bucket,
        )
    from common.store.sqlite import SqliteStore

    return SqliteStore(
        config.store.sqlite_path,
        raw_days=config.store.raw_days,
        rollup_days=config.store.rollup_days,
    )
