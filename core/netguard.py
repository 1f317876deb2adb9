"""Outgoing connections to public addresses only (SECURITY 40): no request we make on someone's behalf (a DIDComm
endpoint from an invitation, later a webhook URL) may reach our own network.

A URL's host is resolved once; if any of its addresses is private, loopback, link-local, unique-local, CGNAT,
multicast, unspecified or otherwise reserved (IPv4 and IPv6, IPv4 inside IPv6 unwrapped), it is refused. The
socket then connects to one of the addresses that were checked, never to the name: a second lookup (the one a
library would make) could answer differently, which is how DNS rebinding gets past a check made beforehand.

``OUTBOUND_ALLOW_PRIVATE_ADDRESSES`` (default False) turns the check off, for tests whose peers listen on
loopback. Pure stdlib and Django settings: any app may use it, it knows none.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What the person whose request it was reads: nothing of what is, or is not, listening there.
REFUSAL = "cannot deliver to this address"

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

# RFC 6598 shared address space: Python's is_global knows it, is_private does not; spelt out to be sure.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# RFC 6052 NAT64 well-known prefix: the last 32 bits are an IPv4 address a NAT64 gateway would reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The URL's host is, or resolves to, an address we do not connect to; ``str(exc)`` is :data:`REFUSAL`.

    Not an OSError: nothing along the way (urllib wraps OSErrors into URLError) should take it for a network
    failure worth retrying.
    """

    def __init__(self, message: str = REFUSAL) -> None:
        super().__init__(message)


def private_allowed() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:  # 2002:aabb:ccdd::/48 (itself refused below: 2002::/16 is not global)
        return ip.sixtofour
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is a globally reachable unicast address (an IPv4 address inside IPv6 judged as itself)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not is_public(embedded):
            return False
        if ip.ipv4_mapped is not None or ip in _NAT64:
            return True  # these prefixes are not "global" themselves; the address inside was judged above
        if ip.is_site_local:  # fec0::/10, deprecated but still routed by some networks
            return False
    elif ip in _CGNAT:
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified
    )


def check_ip(ip: IPAddress) -> None:
    """Raise :class:`BlockedAddress` unless ``ip`` may be connected to."""
    if not private_allowed() and not is_public(ip):
        raise BlockedAddress


def _host_port(url: str) -> tuple[str, int]:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or an unclosed IPv6 bracket
        raise BlockedAddress from None
    host = parts.hostname
    scheme = parts.scheme.lower()
    if not host or (port is None and scheme not in DEFAULT_PORTS):
        raise BlockedAddress
    return host, port if port is not None else DEFAULT_PORTS[scheme]


def resolve(host: str, port: int) -> list[tuple[int, int, int, tuple]]:
    """Every ``(family, type, proto, sockaddr)`` ``host`` resolves to for a TCP connection, all of them checked:
    one blocked address refuses the whole name (which of them a client would pick is not ours to guess).

    A name that does not resolve raises :class:`socket.gaierror` (an OSError: a temporary failure)."""
    checked = []
    for family, type_, proto, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise BlockedAddress
        # An IPv6 link-local address comes with a "%zone": it would not parse, and is never public anyway.
        try:
            ip = ipaddress.ip_address(sockaddr[0])
        except ValueError:
            raise BlockedAddress from None
        check_ip(ip)
        checked.append((family, type_, proto, sockaddr))
    if not checked:
        raise BlockedAddress
    return checked


def check_url(url: str) -> None:
    """Raise :class:`BlockedAddress` unless ``url``'s host resolves to public addresses only (or the setting
    allows private ones). A check ahead of time, for a quick answer: connect with :func:`create_connection`,
    which checks again, on the addresses it connects to. A name that does not resolve raises the OSError."""
    host, port = _host_port(url)
    resolve(host, port)


def create_connection(
    address: tuple[str, int], timeout: float | None = None, source_address: tuple[str, int] | None = None
) -> socket.socket:
    """:func:`socket.create_connection` to a checked address: ``host`` is resolved once, every address checked
    (:func:`resolve`), and the socket connects to those addresses in turn, never to the name again.

    Raises :class:`BlockedAddress`, or the OSError of the last address tried."""
    host, port = address
    last_error: OSError | None = None
    for family, type_, proto, sockaddr in resolve(host, port):
        sock = socket.socket(family, type_, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock
    assert last_error is not None  # resolve() returned at least one address
    raise last_error


# -- HTTP(S) through checked connections, for urllib ------------------------------------------------------------


class HTTPConnection(http.client.HTTPConnection):
    """An http.client connection whose socket comes from :func:`create_connection`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class HTTPSConnection(http.client.HTTPSConnection):
    """The same for HTTPS: TLS (SNI and the certificate check) still names the host, the socket goes to the
    checked address."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(HTTPConnection, req)


class HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(HTTPSConnection, req, context=self._context)


def build_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """A urllib opener that connects only through :func:`create_connection`, and through no proxy (a proxy
    would make the connection for us, to an address we never checked)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), HTTPHandler, HTTPSHandler, *handlers)


# -- One HTTP(S) exchange with a deadline, for the senders (sharing's webhooks, moves' calls) -----------------------


class NotHttpURL(ValueError):
    """The URL is not an http(s) URL with a host (``malformed``: it could not even be parsed)."""

    def __init__(self, message: str, *, malformed: bool) -> None:
        super().__init__(message)
        self.malformed = malformed


@dataclass(frozen=True)
class Exchanged:
    """What came back: the status, the first ``max_answer_bytes`` of the body, and one header's lookup."""

    status: int
    body: bytes
    headers: Mapping[str, str]


def exchange(
    method: str,
    url: str,
    *,
    body: bytes | None,
    headers: Mapping[str, str],
    connect_timeout: float,
    total_timeout: float,
    max_answer_bytes: int,
) -> Exchanged:
    """``method`` ``url`` through a checked connection (:class:`HTTPConnection`, :class:`HTTPSConnection`), with
    ``connect_timeout`` to connect and ``total_timeout`` for the whole exchange: each read waits only for what is
    left of it, so a peer dripping bytes cannot hold a worker. Redirects are not followed; at most
    ``max_answer_bytes`` of the answer are read.

    Raises :class:`NotHttpURL`, :class:`BlockedAddress`, or what the connection raises (``OSError``, a
    ``TimeoutError`` among them, or ``http.client.HTTPException``).
    """
    deadline = time.monotonic() + total_timeout
    try:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise NotHttpURL("not an http(s) URL", malformed=False)
        port = parts.port or DEFAULT_PORTS[scheme]
    except NotHttpURL:
        raise
    except ValueError:
        raise NotHttpURL("malformed", malformed=True) from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if scheme == "https":
        connection: http.client.HTTPConnection = HTTPSConnection(
            parts.hostname, port, timeout=connect_timeout, context=ssl.create_default_context()
        )
    else:
        connection = HTTPConnection(parts.hostname, port, timeout=connect_timeout)
    try:
        connection.connect()
        # Kept here: http.client drops its own reference once an answer says the connection will close, while
        # the answer is still read from this socket.
        sock = connection.sock

        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the other side took longer than the total timeout")
            return left

        sock.settimeout(remaining())
        connection.request(method, target, body=body, headers=dict(headers))
        sock.settimeout(remaining())
        response = connection.getresponse()
        chunks: list[bytes] = []
        read = 0
        # Until the answer has closed itself: at its end (its length, or the peer closing the connection) http.client
        # closes its file, and where the answer said the connection closes, that really closes `sock` too.
        while read < max_answer_bytes and not response.isclosed():
            sock.settimeout(remaining())
            chunk = response.read(min(8192, max_answer_bytes - read))
            if not chunk:
                break
            chunks.append(chunk)
            read += len(chunk)
        return Exchanged(status=response.status, body=b"".join(chunks), headers=dict(response.getheaders()))
    finally:
        connection.close()
