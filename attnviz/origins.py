"""Which web pages may open a served dashboard's websocket, and which URLs students open.

Bokeh refuses a websocket whose ``Origin`` (the host:port of the page that opens it) is
not on its list. Listening on every interface (``--address 0.0.0.0``), the server is
reached by this machine's names and addresses, so those are the list: its host names,
its non-loopback IPv4 addresses, ``localhost`` and ``127.0.0.1``, each with the port. A
page from anywhere else (another site that embeds the dashboards, or a name this
machine does not know it has, e.g. a DNS alias) is refused until ``--allow-websocket-
origin`` names it; ``*`` lets any page in, as behind a proxy that checks users itself.

Nothing here sends a packet: the address of the interface that routes outward comes
from ``connect()`` on a UDP socket, which only asks the kernel for a route.
"""

from __future__ import annotations

import ipaddress
import socket

ANY_ADDRESSES = ("0.0.0.0", "::")
# documentation addresses (RFC 5737, RFC 3849): routed like the internet, never used
_ROUTE_PROBES = (("192.0.2.1", socket.AF_INET), ("2001:db8::1", socket.AF_INET6))


def _routed_address(target: str, family: int) -> str | None:
    """The local address the kernel would send from to reach ``target`` (no packet sent)."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((target, 9))
            return probe.getsockname()[0]
    except OSError:  # no route: an offline laptop, or no IPv6
        return None


def _resolved(name: str) -> list[str]:
    try:
        found = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return []
    return [item[4][0] for item in found]


def host_names() -> list[str]:
    """This machine's names: its host name and, when it differs, its fully qualified one."""
    names = []
    for name in (socket.gethostname(), socket.getfqdn()):
        if name and name != "localhost" and name not in names:
            names.append(name)
    return names


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that other machines can reach (loopback left out),
    the one that routes outward first."""
    candidates = [_routed_address(*_ROUTE_PROBES[0])]
    for name in host_names():
        candidates += _resolved(name)
    addresses = []
    for text in candidates:
        if text is None or text in addresses:
            continue
        address = ipaddress.ip_address(text)
        if not (address.is_loopback or address.is_unspecified or address.is_link_local):
            addresses.append(text)
    return addresses


def _with_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def websocket_origins(address: str, port: int, allowed: list[str] | None = None) -> list[str]:
    """The ``host:port`` entries whose pages may open the websocket.

    ``allowed`` (from ``--allow-websocket-origin``) wins when given. Otherwise: for an
    address that listens everywhere, this machine's names and LAN addresses plus
    localhost; for one address, that address plus localhost.
    """
    if allowed:
        return list(allowed)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
        raise ValueError(f"port must be an integer in [1, 65535], got {port!r}")
    if address in ANY_ADDRESSES:
        hosts = [*lan_addresses(), *host_names(), "localhost", "127.0.0.1"]
    else:
        hosts = [address, "localhost", "127.0.0.1"]
    origins = []
    for host in hosts:
        if ":" in host:  # an IPv6 literal: Bokeh's origin list cannot hold one
            continue
        entry = _with_port(host, port)
        if entry not in origins:
            origins.append(entry)
    return origins


def student_urls(address: str, port: int, prefix: str = "") -> list[str]:
    """The index URLs to give students: the LAN addresses first, then the host names;
    for a loopback or single address, that address only."""
    if address in ANY_ADDRESSES:
        hosts = [*lan_addresses(), *host_names()] or ["127.0.0.1"]
    else:
        hosts = [address]
    return [f"http://{_with_port(host, port)}{prefix}/" for host in hosts]
