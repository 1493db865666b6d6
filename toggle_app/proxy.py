"""The reverse proxies the app believes (``toggle_app.trusted_proxies``).

Behind a TLS reverse proxy every request comes from the proxy's address: the login throttle would
lock every phone out at once, the log and the mode's source would name the proxy, and the session
cookie would go out without Secure although the phone speaks HTTPS. The proxy says who the client
is and how it came in (X-Forwarded-For, -Proto, -Host), but anyone can send those headers, so they
count only when the peer is a proxy named in the config; from any other peer they are ignored and
a spoofed X-Forwarded-For changes nothing.

X-Forwarded-For is read from the right: each proxy appends the address it saw, so the rightmost
entry that is not itself a trusted proxy is the client; entries further left are whatever the
client claimed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from common.config import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Where the middleware keeps what the peer itself was, for the log.
PEER_KEY = "scc.proxy_peer"


def split_list(text: str | None) -> list[str]:
    """Config lists are one string, comma- or space-separated (also from the environment)."""
    return [item for item in (text or "").replace(",", " ").split() if item]


def parse_networks(text: str | None, key: str, source: str) -> tuple[Network, ...]:
    networks = []
    for item in split_list(text):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"{source}: {key}: {item!r} is not an address or network (e.g. 172.18.0.0/16)"
            ) from None
    return tuple(networks)


def parse_address(text: str | None) -> Address | None:
    """An address as headers and WSGI servers write it: ``::ffff:1.2.3.4`` is IPv4, brackets and
    a port (``[2001:db8::1]:443``, ``192.0.2.1:5678``) are dropped; None when it is no address."""
    text = (text or "").strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """WSGI middleware: for a request from a trusted proxy, the client's address, scheme and host
    as the proxy reports them replace the proxy's own."""

    def __init__(self, app: WSGIApplication, networks: Iterable[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in n for n in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.networks and self.trusts(parse_address(environ.get("REMOTE_ADDR"))):
            self._apply(environ)
        return self.app(environ, start_response)

    def _apply(self, environ: WSGIEnvironment) -> None:
        environ[PEER_KEY] = environ.get("REMOTE_ADDR")
        client = self.client(environ.get("HTTP_X_FORWARDED_FOR", ""))
        if client is not None:
            environ["REMOTE_ADDR"] = str(client)
        proto = _rightmost(environ.get("HTTP_X_FORWARDED_PROTO", "")).lower()
        if proto in ("http", "https"):
            environ["wsgi.url_scheme"] = proto
        host = _rightmost(environ.get("HTTP_X_FORWARDED_HOST", ""))
        if host:
            environ["HTTP_HOST"] = host

    def client(self, forwarded_for: str) -> Address | None:
        """The rightmost address that is not a trusted proxy; None when the header has none."""
        found = None
        for entry in reversed(forwarded_for.split(",")):
            address = parse_address(entry)
            if address is None:
                break  # what comes further left was not written by a proxy we know
            found = address
            if not self.trusts(address):
                break
        return found


def _rightmost(header: str) -> str:
    return header.rpartition(",")[2].strip()
