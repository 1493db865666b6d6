"""The car's measured watts per ampere across cycles: the state around controller.measure.

The Controller hands it every snapshot (a new status read is learnt from, every snapshot is
corrected: docs/design.md, "Surplus arithmetic"), every command that changes what the car draws
(with the settled grid means before it), and, once that command has settled, the means after it:
the meter's step. It tells the policy what is measured (``car_watts``) and the log what is new.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from common.models import Action, Decision, PhaseMeans
from common.snapshot import ChargerSnapshot
from controller.localstate import LocalState
from controller.measure import (
    CarSession,
    PendingStep,
    WattsPerAmp,
    corrected,
    observe_probe,
    observe_read,
    observe_step,
)
from controller.state import CarWatts

#: Settled readings a meter step needs after the settle time before it is measured.
STEP_READINGS_S = 20.0
#: A measurement this far below the configured watts per ampere is a car on fewer phases.
FEWER_PHASES = 0.85


class CarWatch:
    def __init__(self, configured: float, kept: LocalState | None = None) -> None:
        self.configured = configured
        self.session = CarSession() if kept is None else kept.car()
        self.last_w_per_a = None if kept is None else kept.last_w_per_a
        #: The least any car of this household was measured to draw per ampere.
        self.lightest_w_per_a = None if kept is None else kept.lightest_w_per_a
        self.pending: PendingStep | None = None
        self._read_at: datetime | None = None
        self._told: WattsPerAmp | None = self.session.measured

    def see(self, snap: ChargerSnapshot) -> ChargerSnapshot:
        """Learn from a status read not seen before; the snapshot as measured."""
        if snap.read_at is not None and snap.read_at != self._read_at:
            self._read_at = snap.read_at
            self.session = observe_read(self.session, snap, self.configured)
            self._remember()
        return self.correct(snap)

    def correct(self, snap: ChargerSnapshot) -> ChargerSnapshot:
        return corrected(snap, self.session, self.configured)

    @property
    def watts_per_amp(self) -> float:
        measured = self.session.measured
        return self.configured if measured is None else measured.value

    def car_watts(self) -> CarWatts:
        measured = self.session.measured
        lightest = self.lightest_w_per_a
        fewer = lightest is not None and lightest < FEWER_PHASES * self.configured
        return CarWatts(
            measured_w_per_a=None if measured is None else measured.value,
            start_w_per_a=lightest if fewer else None,
        )

    def note_command(
        self, d: Decision, snap: ChargerSnapshot | None, before: PhaseMeans | None, now: datetime
    ) -> None:
        """A command went out: its step is measured once it has settled."""
        from_a = float(snap.setpoint_a or 0) if snap is not None and snap.drawing else 0.0
        to_a = {Action.START: d.target_a, Action.ADJUST: d.target_a, Action.STOP: 0}.get(d.action)
        self.pending = None
        if to_a is not None and before is not None:
            self.pending = PendingStep(now, before, from_a, float(to_a))

    def step_since(self, now: datetime, settle_s: float) -> datetime | None:
        """The start of the step's settled window, once it holds enough readings; else None."""
        if self.pending is None:
            return None
        since = self.pending.at + timedelta(seconds=settle_s)
        return since if now >= since + timedelta(seconds=STEP_READINGS_S) else None

    def learn_step(self, after: PhaseMeans | None) -> None:
        if self.pending is not None and after is not None:
            self.session = observe_step(self.session, self.pending, after, self.configured)
            self._remember()
        self.pending = None

    def remember(self, w_per_a: float) -> None:
        """A car this household charged before, as the state file would say (the replay starts
        a day as at home, after the first)."""
        self.last_w_per_a = w_per_a
        self.lightest_w_per_a = min(w_per_a, self.lightest_w_per_a or w_per_a)

    def learn_probe(self) -> None:
        """The meter showed a start at min current draw the configured amount, before any read
        could."""
        self.session = observe_probe(self.session, self.configured)
        self._remember()

    def news(self) -> WattsPerAmp | None:
        """The measurement, when it is new or changed by more than 2 % since last told."""
        now, told = self.session.measured, self._told
        if now is None or (
            told is not None
            and abs(now.value - told.value) <= 0.02 * told.value
            and now.phases == told.phases
        ):
            return None
        self._told = now
        return now

    def _remember(self) -> None:
        """The household's lightest car decides starts on a guess for every car after it, so
        only reads that agreed set it (controller.measure); one meter step may be off."""
        measured = self.session.measured
        if measured is not None:
            value = self.last_w_per_a = measured.value
            if measured.source == "status":
                self.lightest_w_per_a = min(value, self.lightest_w_per_a or value)
        else:
            self._told = None  # a new session: its first measurement is news again
