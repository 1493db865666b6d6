"""Serve an HTTP handler on 127.0.0.1 in a background thread: the simulated devices and the
test fakes all need exactly this, on the loopback address unless a container asks otherwise."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(
    handler: type[BaseHTTPRequestHandler],
    port: int = 0,
    poll_interval_s: float = 0.05,
    host: str = "127.0.0.1",
) -> ThreadingHTTPServer:
    """Start serving (``port`` 0: an ephemeral port, see ``server_address[1]``).

    ``host`` stays the loopback address except in a container, where the simulator must listen
    on 0.0.0.0 for the other services (docker-compose.demo.yml)."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval_s}, daemon=True
    ).start()
    return server


def shut(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the port, so clients get 'connection refused'."""
    if server is not None:
        server.shutdown()
        server.server_close()
