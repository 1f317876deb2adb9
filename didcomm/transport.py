"""Outbound delivery: pack a queued message for its peer and send it to the peer's endpoint over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.db import transaction
from django.utils import timezone

from didcomm.models import OutboundMessage
from ssi import envelope

HTTP_TIMEOUT = 10.0


class TransportError(Exception):
    """Delivery failed; ``str(exc)`` says why."""


def _endpoint(message: OutboundMessage) -> str:
    return message.connection.their_endpoint if message.connection is not None else ""


def pack_outbound(message: OutboundMessage) -> bytes:
    """The RFC 0019 envelope for ``message``: Authcrypt from our key on the connection to the peer's key."""
    from didcomm.services import agent_key_of, connection_key

    sender = connection_key(message.connection) if message.connection is not None else agent_key_of(message.agent)
    return envelope.pack(json.dumps(message.body).encode(), to_verkeys=[message.to_verkey], from_key=sender)


def post_envelope(endpoint: str, packed: bytes) -> None:
    if not endpoint.startswith(("http://", "https://")):
        raise TransportError(f"not an http(s) endpoint: {endpoint[:200]}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        endpoint, data=packed, method="POST", headers={"Content-Type": envelope.MEDIA_TYPE}
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 (scheme checked)
            response.read()
    except urllib.error.HTTPError as exc:
        raise TransportError(f"{endpoint} answered {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise TransportError(f"{endpoint}: {exc}") from None


def deliver(outbound_id: int) -> None:
    """Send one queued message; record whether it went."""
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update()
            .select_related("agent__twin", "agent__owner", "connection")
            .filter(pk=outbound_id, status=OutboundMessage.Status.QUEUED)
            .first()
        )
        if message is None:
            return
        endpoint = _endpoint(message)
        message.attempts += 1
        try:
            if not endpoint or not message.to_verkey:
                raise TransportError("no endpoint or key to send to")
            post_envelope(endpoint, pack_outbound(message))
        except TransportError as exc:
            message.status = OutboundMessage.Status.FAILED
            message.last_error = str(exc)[:500]
        else:
            message.status = OutboundMessage.Status.SENT
            message.sent_at = timezone.now()
        message.save(update_fields=["status", "attempts", "last_error", "sent_at"])
