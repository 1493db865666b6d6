"""Where a phone opens the page. A wildcard listen address (0.0.0.0, ::) is not something a
browser can open, so the start-up line names this machine's address on its network instead."""

from __future__ import annotations

import socket

WILDCARDS = ("0.0.0.0", "::", "")


def lan_address() -> str | None:
    """This machine's address on its network: the source address of a route out (connecting a
    UDP socket sends nothing), or None without a network."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): routed, never reached
            address = str(s.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


def page_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def listening_text(host: str, port: int, lan: str | None) -> str:
    """The start-up line's address: the page's URL, and what it listens on when that differs."""
    if host not in WILDCARDS:
        return page_url(host, port)
    shown = page_url(lan, port) if lan else f"http://<this machine's address>:{port}/"
    return f"{shown} (listening on {host or '*'}; `hostname -I` shows this machine's addresses)"
