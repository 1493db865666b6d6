"""``scc demo``: the whole system on simulated devices, in one process, faster than real time.

Everything real talks over real HTTP on 127.0.0.1, on one simulated clock that runs ``--speed``
times faster than the wall clock:
- a simulated HomeWizard P1 meter (sim.meter) over a house on a profile (the broken-cloud
  day by default), whose grid power includes what the simulated charger draws;
- the real collector polling it every simulated second into a SQLite store in a temporary folder;
- the real controller steering the simulated Wallbox cloud through the real ``wallbox`` package
  (rate limits, latency and token expiry in simulated time), or, with ``--charger ocpp``, the
  simulated Pulsar connected to the controller's own OCPP central system (local control);
- the real toggle app on http://127.0.0.1:PORT (``--host 0.0.0.0``: on every network, for a
  phone to reach a headless Pi; without a password, as nothing real can be switched), reading
  the same store: switching the mode there changes what the controller does at its next cycle.
The day starts just before the profile's first sunny spell, so the controller starts the car
within a minute. Ctrl-C or SIGTERM stops everything, writes what is pending and exits 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from collector.homewizard import HomeWizardClient
from collector.service import Collector
from collector.spool import Spool
from collector.writer import FLUSH_INTERVAL_S, ReadingWriter
from common.config import Config
from common.stopping import Stopping
from common.store.sqlite import SqliteStore
from common.timeutil import local_day_start
from controller.chargers import policy_settings
from controller.service import Controller, run_loop
from scc.replay import DEFAULT_LATENCY_S
from scc.replay_cli import car_options, with_charger
from scc.simcharger import CarOptions, SimulatedCharger, simulated_charger
from sim.clock import ScaledClock, sim_day_start
from sim.meter import MeterServer, SimulatedP1
from sim.profiles import Profile, ProfileError, load_csv, synthetic_day
from sim.rig import SimHouse, profile_origin
from toggle_app.address import WILDCARDS, lan_address, page_url

log = logging.getLogger("demo")

EXIT_BAD_INPUT = 2
#: Seconds of simulated time before the first sunny spell at which the demo starts: enough for a
#: full window of readings, then the start delay, then the car starts (about 20 s at speed 20).
LEAD_S = 180
#: A sunny spell worth showing lasts this long: the car starts and then follows the sun a while.
SHOW_SPELL_S = 600


class SimTimeFormatter(logging.Formatter):
    """Log lines stamped with the simulated time of day, which is what the lines talk about."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._clock = clock

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._clock().astimezone().strftime("%H:%M:%S")


def first_sunny_spell_s(profile: Profile, min_power_w: float, hold_s: float) -> int | None:
    """Profile second at which the surplus first covers ``min_power_w`` for ``hold_s``."""
    run = 0
    for i, (pv, house) in enumerate(zip(profile.pv_w, profile.house_w, strict=True)):
        run = run + 1 if pv - house >= min_power_w else 0
        if run >= hold_s:
            return profile.start_s + i - run + 1
    return None


def parse_hhmm(text: str) -> int:
    try:
        h, _, m = text.partition(":")
        hours, minutes = int(h), int(m or 0)
    except ValueError:
        raise ValueError(f"--start {text}: expected HH:MM") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"--start {text}: expected HH:MM")
    return hours * 3600 + minutes * 60


def start_second(profile: Profile, config: Config, start: str | None) -> int:
    """The profile second the demo starts at (``--start``, else just before the first sun)."""
    if start is not None:
        day = profile.start_s - profile.start_s % 86400
        return max(day + parse_hhmm(start), profile.start_s)
    c = config.charging
    sunny = first_sunny_spell_s(
        profile,
        c.min_current_a * c.effective_watts_per_amp,
        max(c.start_delay_s + c.interval_s, SHOW_SPELL_S),
    )
    if sunny is None:  # never enough sun: start an hour before the PV peak
        peak = max(range(len(profile)), key=lambda i: profile.pv_w[i])
        return profile.start_s + max(peak - 3600, 0)
    return max(sunny - LEAD_S, profile.start_s)


@dataclass(frozen=True, slots=True)
class PageAddress:
    """Where the phone page listens: ``--host`` and ``--port``."""

    host: str
    port: int

    @property
    def local_only(self) -> bool:
        try:
            return self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: whatever network it names

    def banner(self) -> str:
        """The lines that tell the user where to open the page, and who else can."""
        if self.local_only:
            return f"{_PAGE}{self.url(self.host)}  (switch the mode there)"
        shown = (
            (lan_address() or "<this machine's address>") if self.host in WILDCARDS else self.host
        )
        return (
            f"{_PAGE}{self.url(shown)}  (listening on {self.host or '*'}; "
            "`hostname -I` shows this machine's addresses)\n"
            "  no password:         anyone on this network can open the page and flip the "
            "switch; it steers only the simulated charger"
        )

    def url(self, host: str) -> str:
        return page_url(host, self.port)


_PAGE = "  phone page:          "


def _demo_config(config: Config, tmp: Path, page: PageAddress, meter_url: str) -> Config:
    """The user's charging settings; everything else pointed at the simulated devices."""
    return replace(
        config,
        store=replace(config.store, backend="sqlite", sqlite_path=str(tmp / "scc.db")),
        meter=replace(config.meter, url=meter_url, api="v1", spool_path=str(tmp / "spool")),
        toggle_app=replace(config.toggle_app, host=page.host, port=page.port, password=None),
        source="<demo>",
    )


class _Threads:
    """Component threads; a crash in one is logged and stops the demo (exit 1)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.threads: list[threading.Thread] = []
        self.crashed = False

    def start(self, name: str, target: Callable[[], object]) -> None:
        def run() -> None:
            try:
                target()
            except Exception:
                if not self.stop.is_set():
                    log.exception("%s crashed; stopping the demo", name)
                    self.crashed = True
                    self.stop.set()

        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for t in self.threads:
            t.join(max(deadline - time.monotonic(), 0.1))


def run_cli(config: Config, args: argparse.Namespace) -> int:
    config = with_charger(config, args)
    speed = float(getattr(args, "speed", 20.0))
    page = PageAddress(
        str(getattr(args, "host", None) or "127.0.0.1"), int(getattr(args, "port", 8080))
    )
    duration = getattr(args, "duration", None)
    if speed <= 0 or speed > 1000:
        print("scc demo: --speed must be above 0 and at most 1000", file=sys.stderr)
        return EXIT_BAD_INPUT
    if duration is not None and duration <= 0:
        print("scc demo: --duration must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        profile = load_csv(args.profile) if getattr(args, "profile", None) else None
        if profile is None:
            profile = synthetic_day("broken")  # the same day as bench/days/broken.csv
        first_s = start_second(profile, config, getattr(args, "start", None))
        car = car_options(args, config.charger.kind)
    except (ProfileError, ValueError) as e:
        print(f"scc demo: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT

    stop = threading.Event()
    # The handler only raises a flag (common.stopping: Event.set or a log call in a handler can
    # hang the process); a thread passes it on to the components' event.
    stopping = Stopping()
    previous = stopping.on_signals((signal.SIGINT, signal.SIGTERM))
    threading.Thread(target=_relay, args=(stopping, stop), name="demo-stop", daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="scc-demo-") as tmp:
            return _run(config, profile, car, first_s, speed, page, duration, Path(tmp), stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _relay(stopping: Stopping, stop: threading.Event) -> None:
    while not stopping.wait(3600.0):
        pass
    if not stop.is_set():
        name = signal.Signals(stopping.signum).name if stopping.signum else "stop"
        log.info("%s: stopping the demo", name)
    stop.set()


def _run(
    config: Config,
    profile: Profile,
    car: CarOptions,
    first_s: int,
    speed: float,
    page: PageAddress,
    duration: float | None,
    tmp: Path,
    stop: threading.Event,
) -> int:
    origin = profile_origin(profile, sim_day_start(local=True))
    clock = ScaledClock(origin + timedelta(seconds=first_s), speed)
    for h in logging.getLogger().handlers:
        h.setFormatter(SimTimeFormatter(clock))
    kind = config.charger.kind
    with simulated_charger(
        kind, clock, config.charging, latency_s=DEFAULT_LATENCY_S[kind], car=car, realtime=True
    ) as charger:
        house = SimHouse(profile, charger, origin)
        p1 = SimulatedP1(house.grid_power_w, clock, phase_provider=house.phase_powers_w)
        meter = MeterServer(p1).start()
        try:
            cfg = _demo_config(config, tmp, page, meter.url)
            return _serve(cfg, profile, charger, clock, speed, page, duration, tmp, stop)
        finally:
            meter.stop()


def _serve(
    cfg: Config,
    profile: Profile,
    charger: SimulatedCharger,
    clock: ScaledClock,
    speed: float,
    page: PageAddress,
    duration: float | None,
    tmp: Path,
    stop: threading.Event,
) -> int:
    from waitress import create_server

    from toggle_app.app import create_app

    c = cfg.charging
    settings = policy_settings(cfg)
    db = cfg.store.sqlite_path
    stores: list[SqliteStore] = []

    def store() -> SqliteStore:  # one per component, as separate processes would have
        s = SqliteStore(db)
        stores.append(s)
        return s

    app = create_app(cfg, store=store(), clock=clock)
    try:
        server = create_server(app, host=page.host, port=page.port, threads=4, ident="scc")
    except OSError as e:
        print(
            f"scc demo: cannot listen on {page.host}:{page.port}: {e.strerror or e} (try --port)",
            file=sys.stderr,
        )
        for s in stores:
            s.close()
        return EXIT_BAD_INPUT

    client = HomeWizardClient(cfg.meter.url, "v1", timeout_s=2.0, clock=clock)
    spool = Spool(tmp / "spool")
    writer = ReadingWriter(
        store, spool, flush_interval_s=FLUSH_INTERVAL_S / speed, max_backoff_s=30.0 / speed
    )
    collector = Collector(
        client,
        writer,
        cfg.meter.poll_interval_s,
        stop=stop,
        clock=clock.seconds,
        sleep=clock.sleeper(stop),
    )
    controller = Controller(store(), charger.adapter, settings)

    start_local = clock().astimezone()
    print(
        f"Solar Car Charge demo: a simulated {profile.name} day from {start_local:%H:%M}, "
        f"{speed:g}x real time (a controller cycle of {c.interval_s:.0f} s every "
        f"{c.interval_s / speed:.1f} s)\n"
        f"{page.banner()}\n"
        f"  simulated P1 meter:  {cfg.meter.url}/api/v1/data\n"
        f"  simulated charger:   {charger.where}\n"
        f"  store:               {db} (deleted at exit)\n"
        "  Ctrl-C stops.",
        flush=True,
    )
    threads = _Threads(stop)
    threads.start("toggle-app", server.run)
    threads.start("collector", collector.run)
    # The controller waits for a first window of readings, as after a restart at home.
    threads.start(
        "controller",
        lambda: (
            stop.wait(settings.window_s / 2 / speed)
            or run_loop(
                controller, c.interval_s, clock=clock, sleep=clock.sleeper(stop), stop=stop.is_set
            )
        ),
    )
    try:
        stop.wait(duration)
    finally:
        stop.set()
        server.close()
        threads.join(timeout_s=15)
        now = clock()
        summary = controller.store.energy_summary(local_day_start(now), now)
        share = "-" if summary.solar_share is None else f"{summary.solar_share:.0%}"
        link = "OCPP calls" if charger.kind == "ocpp" else "Wallbox cloud requests"
        print(
            f"Demo stopped at {now.astimezone():%H:%M} (simulated): the car took "
            f"{summary.ev_kwh:.2f} kWh, solar share {share}, {summary.starts} start(s); "
            f"{writer.written} meter readings, {charger.counts().requests} {link}",
            flush=True,
        )
        writer.close()
        spool.close()
        client.close()
        for s in stores:
            s.close()
    return 1 if threads.crashed else 0
