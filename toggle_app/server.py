"""``scc toggle``: serve the app with waitress, a production WSGI server (pure Python, threads).

The Flask development server runs only with ``--debug``; it is not meant to face a network.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
from types import FrameType

from common.config import Config
from toggle_app.address import lan_address, listening_text
from toggle_app.app import create_app

log = logging.getLogger(__name__)

#: Phones poll every few seconds; a handful of threads is plenty and keeps memory small.
THREADS = 4
#: Waitress serves at most this many connections; past it, new ones wait in the listen queue.
CONNECTION_LIMIT = 100
#: An idle connection (no request in progress, nothing received) is closed after this long, so
#: connections a client opened and left (a half-open socket, a hung phone, a hundred on purpose)
#: cannot hold every slot and lock out the health check and the phones for long. Waitress's
#: default is 120 s; a phone polling every 5 s reconnects without noticing.
CHANNEL_TIMEOUT_S = 10
#: How often waitress looks for idle connections (its default: every 30 s).
CLEANUP_INTERVAL_S = 2
SERVER_SETTINGS: dict[str, object] = {
    "threads": THREADS,
    "connection_limit": CONNECTION_LIMIT,
    "channel_timeout": CHANNEL_TIMEOUT_S,
    "cleanup_interval": CLEANUP_INTERVAL_S,
    "ident": "scc",
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_cli(config: Config, args: argparse.Namespace) -> int:
    host, port = config.toggle_app.host, config.toggle_app.port
    if config.toggle_app.password is None:
        if _is_loopback(host):
            log.info("toggle_app.password is not set: fine on %s (this machine only)", host)
        else:
            log.warning(
                "toggle_app.password is not set: anyone on the network can switch the charger; "
                "set it (or $SCC_TOGGLE_APP__PASSWORD)"
            )
    app = create_app(config)
    if getattr(args, "debug", False):
        log.warning("debug mode: Flask development server, not for a network")
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return 0

    from waitress import create_server

    try:
        server = create_server(app, host=host, port=port, **SERVER_SETTINGS)
    except OSError as e:
        print(
            f"scc toggle: cannot listen on {host}:{port} (toggle_app.host/port): {e.strerror or e}",
            file=sys.stderr,
        )
        return 2

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        server.close()

    signal.signal(signal.SIGTERM, stop)
    log.info("serving the phone page on %s", listening_text(host, port, lan_address()))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    except OSError:
        # server.close() from the signal handler ends the loop with EBADF: that is a clean stop.
        pass
    finally:
        server.close()
    return 0
