"""What our agents start: invitations, DID Exchange requests, trust pings, basic messages, DID rotations. Each
message is stored for its peer and delivered by the task worker once the transaction that queued it commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from didcomm import exchange, keys, rotate
from didcomm.models import Agent, Connection, OutboundMessage
from didcomm.tasks import deliver_after_commit
from ssi import messages, oob
from twins.events import Transferred


def outbound_enqueue(*, connection: Connection, body: dict[str, Any]) -> OutboundMessage:
    """Store a plaintext message for the connection's peer (its key and endpoint) and have the worker deliver it
    once this transaction commits. (Answers to a received message are queued by didcomm.inbound.)"""
    outbound = OutboundMessage.objects.create(
        agent=connection.agent,
        connection=connection,
        to_verkey=connection.their_verkey,
        message_id=body["@id"],
        type=body["@type"],
        body=body,
    )
    deliver_after_commit([outbound])
    return outbound


@transaction.atomic
def invitation_create(
    *,
    agent: Agent,
    handshake_protocols: tuple[str, ...] = (oob.DIDEXCHANGE_11, oob.DIDEXCHANGE_10),
    service_endpoint: str | None = None,
) -> Connection:
    """An RFC 0434 1.1 invitation naming the agent's own key, and the connection it will become.

    ``service_endpoint``: where peers send to (default: the HTTP endpoint; the WebSocket one is an option).
    """
    key = keys.agent_key_of(agent)
    keys.recipient_key_ensure(agent=agent)
    message = oob.build_invitation(
        label=agent.label,
        recipient_key=key.verify_key,
        service_endpoint=service_endpoint or keys.endpoint_url(),
        handshake_protocols=handshake_protocols,
    )
    return Connection.objects.create(
        agent=agent,
        role=Connection.Role.RESPONDER,
        state=Connection.State.INVITED,
        invitation_id=message["@id"],
        invitation_url=oob.invitation_url(message, keys.endpoint_url()),
        my_verkey=keys.verkey_of(key),
    )


@transaction.atomic
def invitation_accept(*, agent: Agent, invitation_url: str) -> Connection:
    """Accept an RFC 0434 invitation: the connection (role requester) and our DID Exchange request to the
    invitation's key (see didcomm.exchange.request_create, whose InvitationError says why one cannot be)."""
    connection, request = exchange.request_create(agent=agent, invitation_url=invitation_url)
    outbound_enqueue(connection=connection, body=request)
    return connection


@transaction.atomic
def ping_send(*, connection: Connection) -> OutboundMessage:
    """Queue a trust ping asking for a response (its answer sets the connection's round-trip time)."""
    body = messages.new_message(messages.PING, response_requested=True)
    return outbound_enqueue(connection=connection, body=body)


@transaction.atomic
def basic_message_send(*, connection: Connection, content: str) -> OutboundMessage:
    """RFC 0095: ``sent_time`` is UTC ISO 8601, as the RFC's example writes it."""
    sent_time = timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = messages.new_message(messages.BASIC_MESSAGE, content=content, sent_time=sent_time)
    return outbound_enqueue(connection=connection, body=body)


@transaction.atomic
def connection_rotate(*, connection: Connection) -> OutboundMessage:
    """Rotate our side of ``connection`` to a fresh key and DID (RFC 0794, see didcomm.rotate.rotation_start,
    whose RotateError says why it cannot now); returns the queued ``rotate``."""
    connection, body = rotate.rotation_start(connection=connection)
    return outbound_enqueue(connection=connection, body=body)


def twin_connections_rotate(*, twin_id: int) -> int:
    """Rotate every completed connection of a twin's agent (after a transfer); returns how many started.

    Each in its own transaction: one connection that cannot rotate (one already rotating) leaves the others be.
    """
    started = 0
    connections = Connection.objects.filter(agent__twin_id=twin_id, state=Connection.State.COMPLETED, next_verkey="")
    for connection in connections:
        try:
            connection_rotate(connection=connection)
        except rotate.RotateError:
            continue
        started += 1
    return started


def on_transferred(event: Transferred) -> None:
    """The twins.events subscriber (didcomm.apps): after a transfer commits, rotate the twin's connections."""
    twin_connections_rotate(twin_id=event.twin_id)
