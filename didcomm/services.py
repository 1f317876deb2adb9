"""Writes for a twin's DIDComm agent: invitations, and receiving an envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from didcomm import handlers
from didcomm.models import Connection, InboundMessage, OutboundMessage, RecipientKey
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


def recipient_key_ensure(*, twin: Twin) -> str:
    """Register the twin's current agent verkey for inbound lookup; returns it."""
    verkey = verkey_of(agent_key(twin))
    RecipientKey.objects.get_or_create(verkey=verkey, defaults={"twin": twin})
    return verkey


@transaction.atomic
def invitation_create(
    *, twin: Twin, handshake_protocols: tuple[str, ...] = (oob.DIDEXCHANGE_11, oob.DIDEXCHANGE_10)
) -> Connection:
    """An RFC 0434 1.1 invitation naming the twin's agent key, and the connection it will become."""
    key = agent_key(twin)
    recipient_key_ensure(twin=twin)
    message = oob.build_invitation(
        label=twin.name,
        recipient_key=key.verify_key,
        service_endpoint=endpoint_url(),
        handshake_protocols=handshake_protocols,
    )
    return Connection.objects.create(
        twin=twin,
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


def _my_keys(kids: list[str]) -> dict[str, tuple[Twin, SigningKey]]:
    found: dict[str, tuple[Twin, SigningKey]] = {}
    for row in RecipientKey.objects.filter(verkey__in=kids).select_related("twin"):
        key = agent_key(row.twin)
        # A transferred twin's keys rotate; a registration of its old key opens nothing.
        if verkey_of(key) == row.verkey:
            found[row.verkey] = (row.twin, key)
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


def inbound_receive(*, raw: bytes) -> Received:
    """Open an envelope addressed to one of our twins, store its message once, dispatch it.

    Raises :class:`InboundError` (the caller answers 400) before anything is written. A duplicate ``@id`` on
    the same connection is not dispatched again: the sender gets the first answer (the reply already queued).
    """
    kids = _recipient_kids(raw)
    keys = _my_keys(kids)
    if not keys:
        raise InboundError("no recipient key of ours in the envelope")
    try:
        unpacked = envelope.unpack(raw, my_keys={verkey: key for verkey, (_, key) in keys.items()})
    except envelope.EnvelopeError as exc:
        raise InboundError(str(exc)) from None
    twin = keys[unpacked.recipient_verkey][0]
    body = _plaintext(unpacked.message)
    sender = unpacked.sender_verkey or ""
    connection = (
        Connection.objects.filter(twin=twin, my_verkey=unpacked.recipient_verkey, their_verkey=sender)
        .exclude(state=Connection.State.ABANDONED)
        .first()
        if sender
        else None
    )
    try:
        # The unique constraints arbitrate a race between two deliveries of one @id: the loser's insert fails.
        with transaction.atomic():
            message = InboundMessage.objects.create(
                twin=twin,
                connection=connection,
                sender_verkey=sender,
                message_id=body["@id"],
                type=body["@type"],
                body=body,
            )
            reply_body = handlers.dispatch(handlers.Context(message=message, connection=connection))
            reply = None
            if reply_body is not None:
                reply = OutboundMessage.objects.create(
                    twin=twin,
                    connection=connection,
                    in_reply_to=message,
                    to_verkey=sender,
                    message_id=reply_body["@id"],
                    type=reply_body["@type"],
                    body=reply_body,
                )
    except IntegrityError:
        first = InboundMessage.objects.get(
            twin=twin, connection=connection, sender_verkey=sender, message_id=body["@id"]
        )
        return Received(message=first, reply=first.replies.first(), duplicate=True)
    return Received(message=message, reply=reply, duplicate=False)


@transaction.atomic
def ping_send(*, connection: Connection) -> OutboundMessage:
    """Queue a trust ping asking for a response (its answer sets the connection's round-trip time)."""
    body = handlers.new_message(handlers.PING, response_requested=True)
    return OutboundMessage.objects.create(
        twin=connection.twin,
        connection=connection,
        to_verkey=connection.their_verkey,
        message_id=body["@id"],
        type=body["@type"],
        body=body,
    )
