"""Writes for our DIDComm agents (a twin's, an owner's): agents and keys, invitations, receiving an envelope,
queueing a message for delivery."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.vault import seal_key, unseal_key
from didcomm import handlers, timeline
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage, RecipientKey
from owners.models import Owner
from ssi import envelope, oob
from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.multibase import b58encode, b64url_decode
from twins.identity import agent_key
from twins.models import Twin

# An envelope names few recipients; a header naming thousands is not worth a database lookup.
MAX_RECIPIENTS = 20


class InboundError(Exception):
    """The envelope or its message is refused; ``str(exc)`` is the reason the sender gets with the 400."""


def verkey_of(key: SigningKey) -> str:
    return b58encode(key.verify_key.raw)


def endpoint_url() -> str:
    return f"{settings.SITE_URL}/didcomm/"


# -- agents and keys ----------------------------------------------------------


def agent_for_twin(twin: Twin) -> Agent:
    agent, _ = Agent.objects.get_or_create(twin=twin)
    agent.twin = twin  # the caller's instance (already fetched, maybe locked)
    return agent


def agent_for_owner(owner: Owner) -> Agent:
    agent = Agent.objects.filter(owner=owner).first()
    if agent is None:
        try:
            with transaction.atomic():
                agent = Agent.objects.create(owner=owner, key_sealed=seal_key(SigningKey.generate()))
        except IntegrityError:  # created by a concurrent request
            agent = Agent.objects.get(owner=owner)
    agent.owner = owner
    return agent


def agent_key_of(agent: Agent) -> SigningKey:
    """The agent's own key: what its invitations name (a twin's is the twin's agent key, rotated at transfer)."""
    if agent.twin_id is not None:
        return agent_key(agent.twin)
    return unseal_key(agent.key_sealed)


def recipient_key_ensure(*, agent: Agent) -> str:
    """Register the agent's own verkey for inbound lookup; returns it."""
    verkey = verkey_of(agent_key_of(agent))
    RecipientKey.objects.get_or_create(verkey=verkey, defaults={"agent": agent})
    return verkey


def pairwise_key_create(*, connection: Connection) -> SigningKey:
    """A fresh key for one connection: sealed on the connection, registered for inbound lookup, and set as
    ``my_verkey`` (the caller saves the connection)."""
    key = SigningKey.generate()
    connection.my_key_sealed = seal_key(key)
    connection.my_verkey = verkey_of(key)
    if connection.pk is None:
        connection.save()
    RecipientKey.objects.create(agent=connection.agent, connection=connection, verkey=connection.my_verkey)
    return key


def connection_key(connection: Connection) -> SigningKey:
    """The key we use on a connection: its pairwise key, or (before one exists) the agent's own key."""
    if connection.my_key_sealed:
        return unseal_key(connection.my_key_sealed)
    return agent_key_of(connection.agent)


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
    key = agent_key_of(agent)
    recipient_key_ensure(agent=agent)
    message = oob.build_invitation(
        label=agent.label,
        recipient_key=key.verify_key,
        service_endpoint=service_endpoint or endpoint_url(),
        handshake_protocols=handshake_protocols,
    )
    return Connection.objects.create(
        agent=agent,
        role=Connection.Role.RESPONDER,
        state=Connection.State.INVITED,
        invitation_id=message["@id"],
        invitation_url=oob.invitation_url(message, endpoint_url()),
        my_verkey=verkey_of(key),
    )


def _recipient_kids(raw: bytes) -> list[str]:
    """The ``kid`` of each recipient, read before decryption to find whose keys to try.

    Only a lookup: :func:`ssi.envelope.unpack` verifies the whole envelope afterwards.
    """
    try:
        outer = json.loads(raw)
        header = json.loads(b64url_decode(outer["protected"].rstrip("=")))
        recipients = header["recipients"]
        kids = [recipient["header"]["kid"] for recipient in recipients[: MAX_RECIPIENTS + 1]]
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError, SSIError):
        raise InboundError("not an RFC 0019 envelope") from None
    if len(kids) > MAX_RECIPIENTS or not all(isinstance(kid, str) for kid in kids):
        raise InboundError("not an RFC 0019 envelope")
    return kids


@dataclass(frozen=True)
class _Mine:
    agent: Agent
    connection: Connection | None
    key: SigningKey


def _my_keys(kids: list[str]) -> dict[str, _Mine]:
    found: dict[str, _Mine] = {}
    rows = RecipientKey.objects.filter(verkey__in=kids).select_related("agent__twin", "agent__owner", "connection")
    for row in rows:
        if row.connection is not None:
            if row.connection.state == Connection.State.ABANDONED:
                continue  # a removed connection
            if row.connection.my_verkey == row.verkey:
                key = connection_key(row.connection)
            elif row.connection.next_verkey == row.verkey and row.connection.next_key_sealed:
                key = unseal_key(row.connection.next_key_sealed)  # RFC 0794: our new key, before the ack
            else:
                continue  # a pairwise key since rotated away (RFC 0794)
            row.connection.agent = row.agent
            found[row.verkey] = _Mine(row.agent, row.connection, key)
            continue
        key = agent_key_of(row.agent)
        # A transferred twin's keys rotate; a registration of its old key opens nothing.
        if verkey_of(key) == row.verkey:
            found[row.verkey] = _Mine(row.agent, None, key)
    return found


def _storable(value: object) -> bool:
    """PostgreSQL jsonb refuses NUL and unpaired surrogates: refuse them here as a 400, not there as a 500."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _plaintext(message: bytes) -> dict[str, Any]:
    try:
        body = json.loads(message)
    except (ValueError, RecursionError):
        raise InboundError("message is not JSON") from None
    if not isinstance(body, dict):
        raise InboundError("message must be a JSON object")
    for name in ("@type", "@id"):
        value = body.get(name)
        if not isinstance(value, str) or not value or len(value) > 255:
            raise InboundError(f"message needs an {name} string of at most 255 characters")
    if not _storable(body):
        raise InboundError("message must not contain NUL characters or unpaired surrogates")
    return body


@dataclass(frozen=True)
class Received:
    message: InboundMessage
    reply: OutboundMessage | None
    duplicate: bool


# The messages a requester receives before it knows the responder's key: the response (from the responder's new
# DID key, checked by its handler against the invitation key's signature) or a refusal.
_BEFORE_THEIR_KEY = frozenset({handlers.DIDEXCHANGE_RESPONSE, handlers.DIDEXCHANGE_PROBLEM_REPORT})


def _from_peer(connection: Connection, sender: str, message_type: str) -> bool:
    """Whether a message to a connection's pairwise key belongs on that connection: sent (Authcrypt) by the
    peer's key, or an exchange answer a requester awaits before it knows that key."""
    if sender and sender == connection.their_verkey:
        return True
    awaiting = connection.role == Connection.Role.REQUESTER and connection.state == Connection.State.REQUESTED
    return awaiting and handlers.message_type_key(message_type) in _BEFORE_THEIR_KEY


def inbound_receive(*, raw: bytes, on_open: Callable[[str, dict[str, Any]], None] | None = None) -> Received:
    """Open an envelope addressed to one of our agents, store its message once, dispatch it.

    Raises :class:`InboundError` (the caller answers 400) before anything is written. A duplicate ``@id`` on
    the same connection is not dispatched again: the sender gets the first answer (the reply already queued).
    ``on_open(sender_verkey, message)`` runs once the envelope is open, before dispatch: the WebSocket transport
    registers a return route there, so that the reply queued by dispatch already goes back over the socket.
    """
    kids = _recipient_kids(raw)
    keys = _my_keys(kids)
    if not keys:
        raise InboundError("no recipient key of ours in the envelope")
    try:
        unpacked = envelope.unpack(raw, my_keys={verkey: mine.key for verkey, mine in keys.items()})
    except envelope.EnvelopeError as exc:
        raise InboundError(str(exc)) from None
    mine = keys[unpacked.recipient_verkey]
    agent = mine.agent
    body = _plaintext(unpacked.message)
    sender = unpacked.sender_verkey or ""
    if on_open is not None:
        on_open(sender, body)
    connection = mine.connection
    if connection is not None and not _from_peer(connection, sender, body["@type"]):
        # Our pairwise key, but not the peer's: whoever learnt the key does not get to speak for the peer.
        connection = None
    if connection is None and sender:
        # Sent to the agent's own key: a connection made before pairwise keys, keyed by both verkeys.
        connection = (
            Connection.objects.filter(agent=agent, my_verkey=unpacked.recipient_verkey, their_verkey=sender)
            .exclude(state=Connection.State.ABANDONED)
            .first()
        )
        if connection is not None:
            connection.agent = agent
    try:
        # The unique constraints arbitrate a race between two deliveries of one @id: the loser's insert fails.
        with transaction.atomic():
            message = InboundMessage.objects.create(
                agent=agent,
                connection=connection,
                sender_verkey=sender,
                message_id=body["@id"],
                type=body["@type"],
                body=body,
            )
            reply_body = handlers.dispatch(handlers.Context(message=message, connection=connection))
            timeline.record_inbound(message)
            reply = None
            if reply_body is not None:
                reply = outbound_enqueue(
                    agent=agent, connection=message.connection, body=reply_body, in_reply_to=message
                )
    except IntegrityError:
        first = InboundMessage.objects.get(
            agent=agent, connection=connection, sender_verkey=sender, message_id=body["@id"]
        )
        return Received(message=first, reply=first.replies.first(), duplicate=True)
    return Received(message=message, reply=reply, duplicate=False)


def outbound_enqueue(
    *,
    agent: Agent,
    connection: Connection | None,
    body: dict[str, Any],
    in_reply_to: InboundMessage | None = None,
) -> OutboundMessage:
    """Store a plaintext message for the peer and have the worker deliver it once this transaction commits.

    Sent over ``connection`` (to its peer's key and endpoint); without one, it answers ``in_reply_to``'s sender
    and can only go back over a return route.
    """
    from didcomm.tasks import deliver_outbound

    if connection is not None:
        to_verkey = connection.their_verkey
    else:
        to_verkey = in_reply_to.sender_verkey if in_reply_to is not None else ""
    outbound = OutboundMessage.objects.create(
        agent=agent,
        connection=connection,
        in_reply_to=in_reply_to,
        to_verkey=to_verkey,
        message_id=body["@id"],
        type=body["@type"],
        body=body,
    )
    transaction.on_commit(lambda: deliver_outbound.enqueue(outbound.pk))
    return outbound


@transaction.atomic
def ping_send(*, connection: Connection) -> OutboundMessage:
    """Queue a trust ping asking for a response (its answer sets the connection's round-trip time)."""
    body = handlers.new_message(handlers.PING, response_requested=True)
    return outbound_enqueue(agent=connection.agent, connection=connection, body=body)


@transaction.atomic
def basic_message_send(*, connection: Connection, content: str) -> OutboundMessage:
    """RFC 0095: ``sent_time`` is UTC ISO 8601, as the RFC's example writes it."""
    sent_time = timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = handlers.new_message(handlers.BASIC_MESSAGE, content=content, sent_time=sent_time)
    return outbound_enqueue(agent=connection.agent, connection=connection, body=body)


@transaction.atomic
def connection_remove(*, connection: Connection) -> None:
    """Forget a connection: its keys open nothing any more, messages on it are refused, and what was still
    waiting to be sent on it is not sent. Its message history stays, marked as belonging to an abandoned
    connection."""
    connection.state = Connection.State.ABANDONED
    connection.save(update_fields=["state", "updated_at"])
    RecipientKey.objects.filter(connection=connection).delete()
    OutboundMessage.objects.filter(connection=connection, status=OutboundMessage.Status.QUEUED).update(
        status=OutboundMessage.Status.FAILED, last_error="connection removed before delivery"
    )
