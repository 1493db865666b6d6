"""Which host names the app answers to, and which pages may change anything.

DNS rebinding: any website the user opens can make its own name resolve to 127.0.0.1 or to this
machine's LAN address. The browser then treats the app as part of that website, sends it the
website's name as ``Host``, and lets the website's script read the answers and post the switch.
So the app answers only names a website cannot rebind, and refuses the rest with 400:

- IP literals (``127.0.0.1``, ``192.168.1.20``, ``[::1]``): the browser sends the address the user
  typed, and a website cannot make a browser send another origin's address as its own ``Host``.
  Every address counts, so a container that cannot know the host's LAN address still works.
- ``localhost`` and ``*.localhost``: browsers resolve them to loopback themselves (RFC 6761).
- single-label names (``raspberrypi``) and names under ``.local`` (mDNS, RFC 6762) and
  ``.home.arpa`` (RFC 8375): the public DNS does not answer for them, so no website owns one.
- this machine's host name, a name in ``toggle_app.host``, and ``toggle_app.allowed_hosts`` (say
  the name a reverse proxy serves the page under; ``.example.com`` allows its subdomains too).

Same origin for changes: a POST must come from the app's own page. Browsers say where a request
comes from in ``Sec-Fetch-Site`` (all current ones), else ``Origin``, else ``Referer``; a request
that carries none of them (curl, a script) is no cross-site request and passes.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from toggle_app.proxy import split_list

LOOPBACK_NAMES = ("localhost",)
#: Suffixes the public DNS never answers for.
PRIVATE_SUFFIXES = (".localhost", ".local", ".home.arpa")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class HostPort:
    name: str
    port: int | None


def split_host(host: str) -> HostPort | None:
    """``Host`` as sent: lower case, one trailing dot dropped; None when it is malformed."""
    host = host.strip().lower()
    if host.startswith("["):
        name, sep, rest = host[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else rest
        if not sep:
            return None
    elif host.count(":") > 1:  # a bare IPv6 address
        name, port_text = host, ""
    else:
        name, _, port_text = host.partition(":")
    name = name[:-1] if name.endswith(".") else name
    if not name or (port_text and not port_text.isdigit()):
        return None
    return HostPort(name, int(port_text) if port_text else None)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _valid_name(name: str) -> bool:
    labels = name.split(".")
    return all(
        label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
        for label in labels
    )


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The names the app answers to beyond those no website can rebind."""

    names: frozenset[str]
    #: ``.example.com`` entries: the domain and every name under it.
    domains: tuple[str, ...]

    @classmethod
    def build(cls, configured_host: str, allowed_hosts: str | None) -> HostPolicy:
        names = {*LOOPBACK_NAMES, socket.gethostname().lower(), configured_host.lower()}
        domains = []
        for entry in split_list(allowed_hosts):
            entry = entry.lower().rstrip(".")
            if entry.startswith("."):
                domains.append(entry)
            else:
                names.add(entry)
        return cls(frozenset(n for n in names if n), tuple(domains))

    def allows(self, host: str) -> bool:
        hp = split_host(host)
        if hp is None:
            return False
        name = hp.name
        if _is_ip(name):
            return True
        if not _valid_name(name):
            return False
        return (
            "." not in name
            or name in self.names
            or name.endswith(PRIVATE_SUFFIXES)
            or any(name.endswith(d) or name == d[1:] for d in self.domains)
        )


def same_origin(host: str, site: str | None, origin: str | None, referer: str | None) -> bool:
    """Whether a state-changing request comes from the app's own pages, by its ``Sec-Fetch-Site``,
    ``Origin`` and ``Referer`` headers (see the docstring)."""
    if site:
        return site.lower() in ("same-origin", "none")
    if origin:
        return _matches(origin, host)
    if referer:
        return _matches(referer, host)
    return True


def _matches(url: str, host: str) -> bool:
    """``url``'s origin is the app's: same name, and the same port where the request's ``Host``
    names one. A Host without a port (behind a proxy on 80 or 443) takes the port of the
    origin's scheme, since the app may not know the scheme the phone used."""
    ours = split_host(host)
    try:
        theirs = urlsplit(url)
        their_port = theirs.port
    except ValueError:
        return False
    if ours is None or not theirs.hostname or theirs.scheme not in DEFAULT_PORTS:
        return False
    default = DEFAULT_PORTS[theirs.scheme]
    our_port = ours.port if ours.port is not None else default
    return theirs.hostname.rstrip(".") == ours.name and (their_port or default) == our_port
