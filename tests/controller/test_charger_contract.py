"""The charger contract: one set of tests every ``common.ports.Charger`` must pass.

The controller and the policy see a charger only through ``snapshot``, ``set_current``, ``pause``
and ``resume``; whatever stands behind them must mean the same by them. Implementations:
- ``wallbox-cloud``: WallboxCharger with the real ``wallbox`` package, over HTTP to the simulated
  Wallbox cloud (one status read a minute, 15 s command latency);
- ``ocpp``: OcppCharger on our central system, over a websocket to the simulated Pulsar.

``settle_s`` is how long a command takes to show in what the adapter reads: for the cloud the
latency plus its once-a-minute read, for OCPP the Pulsar's latency plus one 10 s sample.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from common.ports import Charger, ChargerError
from common.snapshot import ChargerSnapshot, Phase
from controller.wallbox import WallboxCharger
from sim.wallbox_cloud import DEFAULT_CHARGER_ID
from tests.controller.ctl_helpers import WPA, ManualClock, sim_cloud, wallbox_config
from tests.controller.ocpp_helpers import ocpp_rig


@dataclass
class ChargerRig:
    charger: Charger
    clock: ManualClock
    #: Move the clock ``seconds``, letting the device do what falls due.
    wait: Callable[[float], None]
    settle_s: float
    #: Requests the device has received so far.
    traffic: Callable[[], int]
    unplug: Callable[[], None]
    #: The device stops answering (unreachable, or answering errors only).
    go_away: Callable[[], None]

    def snapshot(self, allow_read: bool = True) -> ChargerSnapshot:
        return self.charger.snapshot(self.clock(), allow_read=allow_read)

    def settle(self) -> ChargerSnapshot:
        self.wait(self.settle_s)
        return self.snapshot()

    def start(self, current_a: int) -> ChargerSnapshot:
        self.charger.set_current(current_a, self.clock())
        self.charger.resume(self.clock())
        return self.settle()


@pytest.fixture(params=["wallbox-cloud", "ocpp"])
def rig(request) -> Iterator[ChargerRig]:
    clock = ManualClock()
    if request.param == "wallbox-cloud":
        with sim_cloud(clock, setpoint_a=16, paused=True) as cloud:
            charger = WallboxCharger(
                wallbox_config(cloud, charger_id=str(DEFAULT_CHARGER_ID)),
                WPA,
                clock=clock,
                sleep=clock.advance,
            )
            yield ChargerRig(
                charger,
                clock,
                wait=clock.advance,
                settle_s=75,
                traffic=lambda: len(cloud.requests),
                unplug=lambda: cloud.charger.unplug(clock()),
                go_away=lambda: cloud.inject(500, times=1000),
            )
    else:
        with ocpp_rig(clock) as r:
            yield ChargerRig(
                r.charger,
                clock,
                wait=r.run,
                settle_s=20,
                traffic=lambda: sum(1 for e in r.sim.journal if e.startswith("<")),
                unplug=r.sim.unplug,
                go_away=r.sim.offline,
            )


def drawing_at(snap: ChargerSnapshot, current_a: int) -> bool:
    return (
        snap.phase is Phase.CHARGING
        and snap.enabled
        and snap.drawing
        and snap.setpoint_a == current_a
        and snap.power_w == pytest.approx(current_a * WPA, rel=0.01)
    )


def test_a_plugged_in_car_that_is_off_draws_nothing(rig):
    snap = rig.snapshot()
    assert snap.car_connected and not snap.enabled and not snap.drawing
    assert snap.phase is Phase.PAUSED and snap.power_w == 0


def test_a_started_car_charges_at_the_setpoint(rig):
    assert drawing_at(rig.start(10), 10)


def test_set_current_changes_the_draw(rig):
    rig.start(10)
    rig.charger.set_current(7, rig.clock())
    assert rig.snapshot(allow_read=False).setpoint_a == 7  # at once, before any read shows it
    assert drawing_at(rig.settle(), 7)


def test_pause_stops_the_draw_and_resume_brings_it_back(rig):
    rig.start(10)
    rig.charger.pause(rig.clock())
    snap = rig.settle()
    assert snap.car_connected and not snap.enabled and not snap.drawing
    assert snap.phase is Phase.PAUSED and snap.power_w == 0
    rig.charger.resume(rig.clock())
    assert drawing_at(rig.settle(), 10)


def test_a_snapshot_without_a_read_sends_nothing(rig):
    rig.start(10)
    rig.wait(rig.settle_s)
    before = rig.traffic()
    for _ in range(3):
        rig.snapshot(allow_read=False)
    assert rig.traffic() == before


def test_an_unplugged_car_is_no_car(rig):
    rig.start(10)
    rig.unplug()
    snap = rig.settle()
    assert snap.phase is Phase.NO_CAR and not snap.car_connected and not snap.drawing


def test_a_charger_that_goes_away_fails_with_charger_errors_only(rig):
    rig.start(10)
    rig.go_away()
    rig.wait(rig.settle_s)
    try:
        snap = rig.snapshot()
    except ChargerError:
        pass  # nothing to show
    else:
        assert snap.read_error is not None  # the last read, saying it is not a new one
    for command in (
        lambda: rig.charger.set_current(8, rig.clock()),
        lambda: rig.charger.pause(rig.clock()),
    ):
        with pytest.raises(ChargerError):
            command()
