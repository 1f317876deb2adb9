"""What a permitted notification looks like on the wire, and the two ways it goes out: a Thingstead DIDComm message
over the grant's connection, or a Standard Webhooks POST to the grant's endpoint.

This module only builds and sends; it neither reads the clock nor records anything (sharing.delivery does both and
decides what an outcome means). A send either returns (the receiver accepted: any 2xx) or raises
:class:`SendError`, which says whether retrying can help and, for a webhook, what the receiver answered.

One message per outbox item. Its id (DIDComm ``@id``, ``webhook-id``) is the item's ``message_id`` on every
attempt, so a receiver that saw it already can tell a retry from a new notification.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import netguard
from core.vault import unseal
from didcomm import transport
from didcomm.models import Connection, OutboundMessage
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from ssi import messages, webhooks

# The DIDComm message type (README "Thingstead message types"): @type
# https://thingstead.org/didcomm/notify/1.0/notification.
NOTIFICATION = "thingstead:notify/1.0/notification"

# Webhook POSTs: at most this long to open the connection, and this long for the whole exchange.
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0
# We read (and drop) at most this much of a receiver's answer: only its status matters.
MAX_ANSWER_BYTES = 65_536
USER_AGENT = "Thingstead-Webhooks/1.0"


class SendError(Exception):
    """The receiver did not accept the notification; ``str(exc)`` says why (no secret, no body, no URL path).

    ``permanent``: sending it again cannot help. ``status``: the HTTP status the receiver answered, if any.
    ``retry_after``: its ``Retry-After`` header, as sent (a 429 or 503).
    """

    def __init__(
        self, message: str, *, permanent: bool, status: int | None = None, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a ``Z``, as RFC 0095's ``sent_time`` is written."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def grant_reference(grant: Grant) -> str:
    """An opaque, stable name for the grant the receiver can group notifications by: it tells the receiver
    nothing (not our row id, not how many grants exist), and stays the same for the grant's whole life."""
    digest = hashlib.sha256(f"thingstead-grant:{grant.pk}:{grant.created_at.isoformat()}".encode()).hexdigest()
    return f"grant_{digest[:24]}"


def notification_data(item: OutboxItem, *, sent_at: datetime) -> dict[str, Any]:
    """The fields every notification carries, over DIDComm and in a webhook's ``data`` alike."""
    payload = item.payload if isinstance(item.payload, dict) else {}
    items = payload.get("items", [])
    return {
        "thing": item.twin.did,
        "kind": item.kind,
        "items": items if isinstance(items, list) else [],
        "count": item.count,
        "window": {"from": iso(item.created_at), "to": iso(item.window_ends_at)},
        "grant": grant_reference(item.grant),
        "sent_time": iso(sent_at),
    }


def didcomm_message(item: OutboxItem, *, sent_at: datetime) -> dict[str, Any]:
    """The plaintext DIDComm message of ``item``: ``@id`` is its message id, the same on every attempt."""
    return {
        "@type": messages.message_type_uri(NOTIFICATION),
        "@id": str(item.message_id),
        **notification_data(item, sent_at=sent_at),
    }


def webhook_event(item: OutboxItem, *, sent_at: datetime) -> dict[str, Any]:
    """The Standard Webhooks payload of ``item``: ``{"type": "thing.<kind>", "timestamp", "data"}``."""
    return {
        "type": f"thing.{item.kind}",
        "timestamp": iso(sent_at),
        "data": notification_data(item, sent_at=sent_at),
    }


# -- DIDComm ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """What a successful send leaves: for DIDComm over a WebSocket, what the peer sent back on it."""

    replies: tuple[bytes, ...] = ()


def _host(url: str) -> str:
    """What errors name: scheme and host, never a path or query that might carry a token."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "(no host)"


def send_didcomm(connection: Connection, body: dict[str, Any]) -> Sent:
    """Pack ``body`` from our key on ``connection`` to the peer's and hand it to the DIDComm transport (a return
    route if the peer's socket is open, else its endpoint, through its mediators' routing keys).

    The transport's own retry schedule is not used: the outbox item's schedule governs (sharing.delivery), so
    one attempt here is one attempt there, and the item's status says what happened.
    """
    if connection.state != Connection.State.COMPLETED:
        raise SendError(f"the connection is {connection.state}", permanent=True)
    if not connection.their_verkey:
        raise SendError("the connection has no key to send to", permanent=True)
    message = OutboundMessage(
        agent_id=connection.agent_id,
        connection=connection,
        to_verkey=connection.their_verkey,
        message_id=body["@id"],
        type=body["@type"],
        body=body,
    )
    try:
        channel = transport.return_route_channel(connection.their_verkey)
        if channel:
            transport.ReturnRouteTransport().send(channel, transport.pack_outbound(message))
            return Sent()
        if not connection.their_endpoint:
            raise SendError("the peer has no endpoint, and no open return route", permanent=True)
        sender = transport.transport_for(connection.their_endpoint)
        packed = transport.pack_outbound(
            message, routing_keys=list(connection.their_routing_keys or []), return_route=sender.return_route
        )
        return Sent(replies=tuple(sender.send(connection.their_endpoint, packed)))
    except transport.TransportError as exc:
        raise SendError(str(exc)[:300], permanent=exc.permanent) from None


# -- Standard Webhooks ------------------------------------------------------------


def webhook_request(endpoint: WebhookEndpoint, item: OutboxItem, *, sent_at: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the POST: signed (ssi.webhooks) with the endpoint's secret, unsealed only here."""
    body = json.dumps(webhook_event(item, sent_at=sent_at), separators=(",", ":")).encode()
    secret = unseal(endpoint.secret_sealed).decode()
    headers = webhooks.headers_for(secret, str(item.message_id), int(sent_at.timestamp()), body)
    headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
    return body, headers


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url`` through core.netguard (public addresses only, unless the setting allows private
    ones; the socket goes to the address that was checked). Returns the 2xx status; raises :class:`SendError`.

    Timeouts: CONNECT_TIMEOUT to connect, and TOTAL_TIMEOUT for the whole exchange (each read waits only for what
    is left of it, so a receiver dripping bytes cannot hold a worker). Redirects are not followed.
    """
    try:
        answer = netguard.exchange(
            "POST",
            url,
            body=body,
            headers=headers,
            connect_timeout=CONNECT_TIMEOUT,
            total_timeout=TOTAL_TIMEOUT,
            max_answer_bytes=MAX_ANSWER_BYTES,
        )
    except netguard.NotHttpURL as exc:
        message = "the webhook URL is malformed" if exc.malformed else "the webhook URL is not an http(s) URL"
        raise SendError(message, permanent=True) from None
    except netguard.BlockedAddress:
        # SECURITY 40: permanent, and neutral (the owner learns nothing of what is, or is not, listening there).
        raise SendError(netguard.REFUSAL, permanent=True) from None
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, name not found, bad answer
        raise SendError(f"{_host(url)}: {str(exc) or type(exc).__name__}"[:300], permanent=False) from None
    status = answer.status
    retry_after = next((v for k, v in answer.headers.items() if k.lower() == "retry-after"), None)
    if 200 <= status < 300:
        return status
    raise SendError(
        f"{_host(url)} answered {status}",
        permanent=not (status in (408, 429) or status >= 500),
        status=status,
        retry_after=retry_after,
    )


def send_webhook(endpoint: WebhookEndpoint, item: OutboxItem, *, sent_at: datetime) -> int:
    """Sign and POST ``item`` to ``endpoint``; the 2xx status, or :class:`SendError`."""
    body, headers = webhook_request(endpoint, item, sent_at=sent_at)
    return post(endpoint.url, body, headers)
