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
from toggle_app.app import create_app

log = logging.getLogger(__name__)

#: Phones poll every few seconds; a handful of threads is plenty and keeps memory small.
THREADS = 4


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
        server = create_server(app, host=host, port=port, threads=THREADS, ident="scc")
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
    log.info("serving the phone page on http://%s:%d/", host, port)
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
