"""Outbound delivery: pack a queued message for its peer and send it over HTTP(S), WebSocket, or a return route.

One worker claims a message (a lease in ``claimed_until``, taken by a conditional UPDATE: no row lock is held
while the network call runs), sends it, then records the outcome in one UPDATE guarded by its lease. A
temporary failure (refused connection, timeout, 5xx, 408, 429) is retried on :data:`RETRY_SCHEDULE`; a
permanent one (another 4xx, no endpoint, an unsupported scheme, an address core.netguard refuses, a key we
cannot pack for) fails the message at once. Receivers dedupe on ``@id``, so the rare resend after a worker died
mid-send is harmless. This module only sends and records: the task that called it (didcomm.tasks) schedules the
retry and receives what came back.

Return routes (Aries RFC 0092): a peer whose message over our WebSocket carried
``"~transport": {"return_route": "all"}`` gets everything for its key back over that socket while it is open.
The socket's consumer (didcomm/consumers.py) registers its channel name for the peer's verkey in the cache
with a short TTL; :func:`deliver` prefers that channel to the peer's endpoint. Across processes (a task worker
and the ASGI server) that needs the shared cache and channel layer, i.e. Redis.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from websockets.exceptions import InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import connect as ws_connect

from core import netguard
from didcomm.handlers import is_problem_report
from didcomm.keys import agent_key_of, connection_key
from didcomm.models import OutboundMessage
from ssi import envelope, messages
from ssi.didkey import verify_key_from_did_key
from ssi.errors import SSIError
from ssi.multibase import b58encode

logger = logging.getLogger(__name__)

# Wait before the 2nd, 3rd, ... attempt after a temporary failure (each stretched or shrunk by up to JITTER,
# so peers coming back after an outage are not hit by every worker at once). After the last, the message fails.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.2

# Longer than any one send (HTTP timeout, or a WebSocket open plus its reply window): a live worker's claim
# never lapses under it.
CLAIM_LEASE = timedelta(minutes=5)

HTTP_TIMEOUT = 10.0
WS_OPEN_TIMEOUT = 10.0
WS_CLOSE_TIMEOUT = 2.0
# After sending over a WebSocket with return_route "all", how long we listen for the peer's answers: the first
# within WS_REPLY_WAIT, each next within WS_REPLY_IDLE of the previous, never more than WS_MAX_REPLIES.
WS_REPLY_WAIT = 3.0
WS_REPLY_IDLE = 1.0
WS_MAX_REPLIES = 20
MAX_ENVELOPE_BYTES = 2_621_440  # what the HTTP endpoint accepts (Django's DATA_UPLOAD_MAX_MEMORY_SIZE default)

# A return route lives this long in the cache unless its socket refreshes it (every third of it).
RETURN_ROUTE_TTL = 60

# What an agent answering over a return route labels an envelope with (RFC 0019's type, and the older DIDComm v1
# one ACA-Py uses by default).
ENVELOPE_MEDIA_TYPES = frozenset({envelope.MEDIA_TYPE, "application/ssi-agent-wire"})

# While a twin is still arriving from another instance its agent sends nothing: a message waits this long before
# the safety net (didcomm.tasks.deliver_due) looks at it again; the twin's arrival sends what waits at once
# (didcomm.moving).
ARRIVING_HOLD = timedelta(minutes=5)

FORWARD = "https://didcomm.org/routing/1.0/forward"  # RFC 0094 (the forward message RFC 0046 mediators read)
RETURN_ROUTE_ALL = {"return_route": "all"}


class TransportError(Exception):
    """Delivery failed; ``str(exc)`` says why. ``permanent``: retrying cannot help (only temporary ones retry)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta | None:
    """How long to wait after ``attempts`` attempts have failed temporarily; ``None`` once they are used up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE[max(attempts, 1) - 1]
    factor = 1 + JITTER * (2 * (rng or random).random() - 1)
    return base * factor


# -- return routes ----------------------------------------------------------------


def _route_key(verkey: str) -> str:
    return f"didcomm:return-route:{verkey}"


def return_route_register(verkey: str, channel_name: str) -> None:
    """Messages for ``verkey`` go to ``channel_name`` (an open WebSocket) for the next RETURN_ROUTE_TTL seconds."""
    cache.set(_route_key(verkey), channel_name, RETURN_ROUTE_TTL)


def return_route_release(verkey: str, channel_name: str) -> None:
    """The socket closed: forget its route, unless a newer socket of the same peer took it over meanwhile."""
    if cache.get(_route_key(verkey)) == channel_name:
        cache.delete(_route_key(verkey))


def return_route_channel(verkey: str) -> str | None:
    return cache.get(_route_key(verkey)) if verkey else None


# -- packing ----------------------------------------------------------------------


def _verkey(key: str) -> str:
    """A routing key as base58: peers list them as did:key (RFC 0434 services) or plain verkeys."""
    if key.startswith("did:key:"):
        return b58encode(verify_key_from_did_key(key).raw)
    return key


def pack_outbound(message: OutboundMessage, *, routing_keys: Sequence[str] = (), return_route: bool = False) -> bytes:
    """The RFC 0019 envelope for ``message``: Authcrypt from our key on the connection to the peer's key, then
    wrapped in an Anoncrypt RFC 0094 forward for each routing key in turn (RFC 0046: the first routing key is
    the mediator nearest the recipient). Raises a permanent :class:`TransportError` if a key is unusable."""
    body = dict(message.body)
    if return_route:
        body["~transport"] = RETURN_ROUTE_ALL
    sender = connection_key(message.connection) if message.connection is not None else agent_key_of(message.agent)
    try:
        packed = envelope.pack(json.dumps(body).encode(), to_verkeys=[message.to_verkey], from_key=sender)
        to = message.to_verkey
        for routing_key in routing_keys:
            hop = _verkey(routing_key)
            forward = {"@type": FORWARD, "@id": str(uuid.uuid4()), "to": to, "msg": json.loads(packed)}
            packed = envelope.pack(json.dumps(forward).encode(), to_verkeys=[hop], from_key=None)
            to = hop
    except (SSIError, envelope.EnvelopeError) as exc:
        raise TransportError(f"cannot pack for the peer's keys: {exc}", permanent=True) from None
    return packed


# -- transports -------------------------------------------------------------------


def _host(endpoint: str) -> str:
    """What logs and errors name: scheme and host, never a path or query that might carry a token."""
    parts = urllib.parse.urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "(no host)"


def _refused(endpoint: str, status: int) -> TransportError:
    # 408 Request Timeout and 429 Too Many Requests say "later"; 5xx is the peer's trouble; any other 4xx (and
    # a redirect, which an agent endpoint has no business answering) will not change by resending.
    temporary = status in (408, 429) or status >= 500
    return TransportError(f"{_host(endpoint)} answered {status}", permanent=not temporary)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib would turn a redirected POST into a GET without the envelope


def _blocked() -> TransportError:
    # SECURITY 40: permanent, and neutral: the owner learns nothing of what is, or is not, listening there.
    return TransportError(netguard.REFUSAL, permanent=True)


class HttpTransport:
    """RFC 0025 HTTP(S): POST the envelope; any 2xx is delivered (replies come back over our own endpoint).

    The socket is opened by core.netguard (a public address only, the one it checked) and no proxy is used."""

    schemes = ("http", "https")
    return_route = False
    _opener = netguard.build_opener(_NoRedirects)

    def send(self, endpoint: str, packed: bytes, *, return_route: bool = False) -> list[bytes]:
        """``return_route``: the message asked for its answers on this connection (RFC 0092), so an envelope in
        the response body is one of them (ACA-Py answers so, in the body, with its envelope media type)."""
        request = urllib.request.Request(  # noqa: S310 (scheme checked by transport_for)
            endpoint, data=packed, method="POST", headers={"Content-Type": envelope.MEDIA_TYPE}
        )
        try:
            with self._opener.open(request, timeout=HTTP_TIMEOUT) as response:
                body = response.read(MAX_ENVELOPE_BYTES)
                media_type = (response.headers.get_content_type() or "").lower()
                if return_route and body and media_type in ENVELOPE_MEDIA_TYPES:
                    return [body]
        except netguard.BlockedAddress:
            raise _blocked() from None
        except urllib.error.HTTPError as exc:
            exc.close()
            raise _refused(endpoint, exc.code) from None
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"{_host(endpoint)}: {exc}", permanent=False) from None
        except ValueError as exc:
            raise TransportError(f"bad endpoint: {exc}", permanent=True) from None
        return []


class WebSocketTransport:
    """RFC 0025 WebSocket: one connection per message, asking for ``return_route: all`` and listening a short,
    bounded while for what the peer sends back on it; the caller hands each answer to the inbound path."""

    schemes = ("ws", "wss")
    return_route = True

    def send(self, endpoint: str, packed: bytes, *, return_route: bool = True) -> list[bytes]:
        replies: list[bytes] = []
        try:
            parts = urllib.parse.urlsplit(endpoint)
            if not parts.hostname:
                raise InvalidURI(endpoint, "no host")
            port = parts.port or netguard.DEFAULT_PORTS[parts.scheme.lower()]
            # core.netguard opens the TCP connection (to the public address it checked); websockets speaks over
            # it, naming the host in the handshake and in TLS.
            sock = netguard.create_connection((parts.hostname, port), timeout=WS_OPEN_TIMEOUT)
            with ws_connect(
                endpoint,
                sock=sock,
                open_timeout=WS_OPEN_TIMEOUT,
                close_timeout=WS_CLOSE_TIMEOUT,
                max_size=MAX_ENVELOPE_BYTES,
                proxy=None,
                compression=None,
            ) as socket:
                socket.send(packed)
                wait = WS_REPLY_WAIT
                while len(replies) < WS_MAX_REPLIES:
                    try:
                        frame = socket.recv(timeout=wait)
                    except (TimeoutError, WebSocketException):
                        break  # quiet, or closed by the peer: what was sent is delivered
                    replies.append(frame.encode() if isinstance(frame, str) else frame)
                    wait = WS_REPLY_IDLE
        except netguard.BlockedAddress:
            raise _blocked() from None
        except InvalidStatus as exc:
            raise _refused(endpoint, exc.response.status_code) from None
        except (InvalidURI, ValueError) as exc:
            raise TransportError(f"bad endpoint: {exc}", permanent=True) from None
        except (OSError, WebSocketException) as exc:  # refused, timed out, handshake or connection lost
            raise TransportError(f"{_host(endpoint)}: {str(exc) or type(exc).__name__}", permanent=False) from None
        return replies


class ReturnRouteTransport:
    """RFC 0092: hand the envelope to the consumer of the peer's open WebSocket, through the channel layer."""

    def send(self, channel_name: str, packed: bytes) -> list[bytes]:
        try:
            async_to_sync(get_channel_layer().send)(channel_name, {"type": "didcomm.outbound", "envelope": packed})
        except ChannelFull:
            raise TransportError("the return route's socket is not keeping up", permanent=False) from None
        return []


TRANSPORTS = (HttpTransport(), WebSocketTransport())


def transport_for(endpoint: str) -> HttpTransport | WebSocketTransport:
    scheme = urllib.parse.urlsplit(endpoint).scheme.lower()
    for transport in TRANSPORTS:
        if scheme in transport.schemes:
            return transport
    raise TransportError(f"unsupported endpoint scheme {scheme[:20]!r}", permanent=True)


# -- delivery ---------------------------------------------------------------------


def claimable(now: datetime) -> Q:
    """Queued, due, and not claimed by a live worker."""
    return (
        Q(status=OutboundMessage.Status.QUEUED)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )


def _claim(outbound_id: int) -> datetime | None:
    """Take the message for this worker: one conditional UPDATE, so of two workers exactly one gets it."""
    now = timezone.now()
    lease = now + CLAIM_LEASE
    claimed = OutboundMessage.objects.filter(claimable(now), pk=outbound_id).update(claimed_until=lease)
    return lease if claimed else None


@dataclass(frozen=True)
class _Sent:
    route: str  # for the log: where it went
    replies: list[bytes]


def _send(message: OutboundMessage) -> _Sent:
    connection = message.connection
    if not message.to_verkey:
        raise TransportError("no key to send to", permanent=True)
    channel = return_route_channel(message.to_verkey)
    if channel:
        # Straight back to the peer over its own socket: no mediator is in between, so no forward wrapping.
        ReturnRouteTransport().send(channel, pack_outbound(message))
        return _Sent("return route", [])
    # Without a connection: an answer to a sender whose DID names its endpoint (a refused DID Exchange request).
    endpoint = connection.their_endpoint if connection is not None else message.to_endpoint
    if not endpoint:
        raise TransportError("no endpoint, and no open return route", permanent=True)
    transport = transport_for(endpoint)
    routing_keys = list((connection.their_routing_keys if connection is not None else message.to_routing_keys) or [])
    # RFC 0794 sends the ack of our DID rotation to our prior DID, which after a move names the instance the twin
    # left (didcomm.moving): asked for on the same connection (RFC 0092), the ack comes back here wherever that
    # DID points. Over WebSocket everything asks for it.
    return_route = transport.return_route or messages.message_type_key(message.type) == messages.ROTATE
    packed = pack_outbound(message, routing_keys=routing_keys, return_route=return_route)
    return _Sent(_host(endpoint), transport.send(endpoint, packed, return_route=return_route))


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt leaves for its caller (the task, didcomm.tasks) to act on."""

    # A temporary failure: when the next attempt is due (already recorded on the row as ``next_attempt_at``).
    retry_at: datetime | None = None
    # The envelopes the peer sent back on the same connection (WebSocket frames with return_route "all").
    replies: tuple[bytes, ...] = ()


def deliver(outbound_id: int) -> Attempt:
    """Send one queued message if it is due and no other worker has it; record the outcome on the row.

    No transaction is open across the send: the claim and the outcome are one UPDATE each. Nothing is scheduled
    or received here: the returned :class:`Attempt` says when to retry and what came back.
    """
    lease = _claim(outbound_id)
    if lease is None:
        return Attempt()
    message = OutboundMessage.objects.select_related("agent__twin", "agent__owner", "connection__agent").get(
        pk=outbound_id
    )
    attempts = message.attempts + 1
    mine = OutboundMessage.objects.filter(pk=outbound_id, claimed_until=lease)
    twin = message.agent.twin if message.agent.twin_id is not None else None
    if twin is not None and twin.arriving:
        mine.update(next_attempt_at=timezone.now() + ARRIVING_HOLD, claimed_until=None)
        return Attempt()
    if twin is not None and twin.moved_to and not is_problem_report(message.type):
        # The twin's agent lives on another instance now (twins.events.TwinMovedAway): from here it only ever
        # tells a peer so (didcomm.inbound), and what it queued before is never sent (didcomm.moving).
        error = f"not sent: the thing moved to {_host(twin.moved_to)}"
        mine.update(status=OutboundMessage.Status.FAILED, last_error=error, claimed_until=None)
        logger.info("DIDComm outbound %s (%s) not sent: its twin moved away", outbound_id, message.type)
        return Attempt()
    try:
        sent = _send(message)
    except TransportError as exc:
        wait = None if exc.permanent else backoff(attempts)
        error = str(exc)[:500]
        retry_at = None
        if wait is None:
            if not exc.permanent:
                error = f"gave up after {attempts} attempts: {error}"[:500]
            mine.update(status=OutboundMessage.Status.FAILED, attempts=attempts, last_error=error, claimed_until=None)
        else:
            retry_at = timezone.now() + wait
            mine.update(attempts=attempts, last_error=error, next_attempt_at=retry_at, claimed_until=None)
        # The type and the error only: never the body or a key.
        logger.warning(
            "DIDComm outbound %s (%s) attempt %s %s: %s",
            outbound_id,
            message.type,
            attempts,
            "will be retried" if wait is not None else "failed",
            error,
        )
        return Attempt(retry_at=retry_at)
    mine.update(
        status=OutboundMessage.Status.SENT,
        attempts=attempts,
        sent_at=timezone.now(),
        last_error="",
        claimed_until=None,
    )
    logger.info("DIDComm outbound %s (%s) sent via %s", outbound_id, message.type, sent.route)
    if sent.replies:
        logger.info("DIDComm outbound %s: %s answer(s) came back on the socket", outbound_id, len(sent.replies))
    return Attempt(replies=tuple(sent.replies))
