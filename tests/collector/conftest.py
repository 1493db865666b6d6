"""Fixtures for the collector tests: the simulated P1 meter on 127.0.0.1, v1 and v2."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from common.config import Config, load_config
from sim.meter import MeterServer, SimulatedP1
from sim.tls import TestPki, make_test_pki
from tests.fakes.p1_meter import SERIAL, TOKEN, FakeTime, export_4200


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    # Fails (does not skip) with PkiError's message when openssl is missing.
    return make_test_pki(tmp_path_factory.mktemp("pki"), f"appliance/p1dongle/{SERIAL}")


MeterFactory = Callable[..., MeterServer]


@pytest.fixture
def sim_meter() -> Iterator[MeterFactory]:
    """Start simulated meters: ``sim_meter(provider=..., api="v1", **SimulatedP1 kwargs)``."""
    servers: list[MeterServer] = []

    def start(
        provider: Callable[[datetime], float] = export_4200,
        api: str = "v1",
        tls: TestPki | None = None,
        token: str | None = None,
        port: int = 0,
        **kwargs: object,
    ) -> MeterServer:
        meter = SimulatedP1(provider, **kwargs)
        server = MeterServer(meter, api, tls=tls, token=token, port=port).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def v2_meter(sim_meter: MeterFactory, pki: TestPki) -> MeterServer:
    return sim_meter(api="v2", tls=pki, token=TOKEN)


@pytest.fixture
def test_ca(pki: TestPki) -> str:
    return pki.ca_cert.read_text()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """A Config loaded from a real YAML file in tmp_path (sections as keyword arguments)."""

    def make(**sections: dict[str, object]) -> Config:
        sections.setdefault("store", {"backend": "sqlite", "sqlite_path": str(tmp_path / "scc.db")})
        meter = {"spool_path": str(tmp_path / "spool.sqlite"), **sections.get("meter", {})}
        sections["meter"] = meter
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(sections), encoding="utf-8")
        return load_config(path, env={})

    return make
