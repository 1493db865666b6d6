"""Serve an HTTP handler on 127.0.0.1 in a background thread: the simulated devices and the
test fakes all need exactly this, and only on the loopback address."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(
    handler: type[BaseHTTPRequestHandler], port: int = 0, poll_interval_s: float = 0.05
) -> ThreadingHTTPServer:
    """Start serving (``port`` 0: an ephemeral port, see ``server_address[1]``)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
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
