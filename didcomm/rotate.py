"""RFC 0794 DID Rotate 1.0: a party to a connection moves to a new DID (and key) without breaking it.

Rotating (we): :func:`rotation_start` makes a new pairwise key and did:peer:4 and the ``rotate`` that
didcomm.outbox sends from the OLD key. Until the peer's ``ack`` both keys open envelopes (the RFC: the rotating
party keeps receiving on the existing and the new DID at least until the ack); with the ack the new key becomes
the connection's and the old one opens nothing. A ``problem-report`` cancels the pending rotation and the old key stays.

Observing (they): a ``rotate`` on a completed connection, Authcrypt from the peer's current key, naming a DID
that resolves to a key and a DIDComm endpoint, moves the connection to that DID; the ``ack`` goes to the prior DID
(the RFC: "still sent to the prior DID"; ACA-Py 1.7.0, rotating, finds the connection of an ack only by its old
DID). Anything else is refused with a problem report and the connection keeps the DID it had (SECURITY 13's
rule: a rotation is accepted only from a key the prior DID authorises). ``hangup`` from the peer ends the
connection.

After a twin changes hands, every completed connection of its agent rotates (didcomm.outbox, once the transfer
has committed); so it does after a twin moved here from another instance (didcomm.moving). Nothing here sends:
the handlers return their reply or hand it to ``Context.answer``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.vault import seal_key
from didcomm import keys
from didcomm.handlers import Context
from didcomm.models import Connection, OutboundMessage, RecipientKey
from ssi import didexchange
from ssi.keys import SigningKey
from ssi.messages import ROTATE, ROTATE_ACK, ROTATE_PROBLEM_REPORT, new_message, problem_report, thread_of

# RFC 0794 problem codes for a DID that cannot be used.
UNRESOLVABLE = "e.did.unresolvable"
NOT_AUTHORISED = "e.did.rotate_not_authorised"


class RotateError(Exception):
    """This connection cannot rotate now; ``str(exc)`` says why."""


# -- rotating ---------------------------------------------------------------------------------------------------


@transaction.atomic
def rotation_start(*, connection: Connection) -> tuple[Connection, dict[str, Any]]:
    """Start rotating our side of ``connection`` to a fresh key and did:peer:4: returns the connection (locked,
    reloaded) and the ``rotate`` message, which the caller queues on it in the same transaction
    (didcomm.outbox.connection_rotate). Raises :class:`RotateError` if it cannot rotate now.

    The rotate is packed with the connection's current (old) key: the peer knows the connection by it.
    """
    # of=self: PostgreSQL cannot lock the nullable side of the agent's twin/owner joins.
    connection = (
        Connection.objects.select_for_update(of=("self",))
        .select_related("agent__twin", "agent__owner")
        .get(pk=connection.pk)
    )
    if connection.state != Connection.State.COMPLETED:
        raise RotateError(f"only a completed connection can rotate (this one is {connection.state})")
    if connection.next_verkey:
        raise RotateError("a rotation of this connection is already waiting for the peer's answer")
    key = SigningKey.generate()
    did = didexchange.peer4_did(key.verify_key, keys.endpoint_url())
    body = new_message(ROTATE, to_did=did)
    connection.next_key_sealed = seal_key(key)
    connection.next_verkey = keys.verkey_of(key)
    connection.next_did = did
    connection.next_thread_id = body["@id"]
    connection.save(update_fields=["next_key_sealed", "next_verkey", "next_did", "next_thread_id", "updated_at"])
    RecipientKey.objects.create(agent=connection.agent, connection=connection, verkey=connection.next_verkey)
    return connection, body


def _pending(ctx: Context) -> Connection | None:
    """The connection whose rotation this ack or problem report answers: from the peer, on its thread."""
    message = ctx.message
    if ctx.connection is None or not message.sender_verkey:
        return None
    connection = Connection.objects.select_for_update().get(pk=ctx.connection.pk)
    thid, pthid = thread_of(ctx.body)
    if not connection.next_thread_id or connection.next_thread_id not in (thid, pthid):
        return None
    if message.sender_verkey != connection.their_verkey:
        return None
    return connection


@transaction.atomic
def ack_receive(ctx: Context) -> None:
    """The peer took our new DID: it becomes the connection's, and the old key opens nothing any more."""
    connection = _pending(ctx)
    if connection is None:
        return None  # not an answer to a rotation of ours: stored, nothing else
    _commit(connection)
    return None


@transaction.atomic
def ack_implied(*, connection: Connection, recipient_verkey: str, sender_verkey: str) -> None:
    """The peer wrote (Authcrypt, from its key) to our pending new key: it has taken our new DID, whether or not
    its ack reached us. RFC 0794 sends the ack to the prior DID, and after a move that DID names the instance the
    twin left (didcomm.moving), where it is lost unless it came back on the rotate's own connection."""
    if not recipient_verkey or not sender_verkey:
        return
    connection = Connection.objects.select_for_update(of=("self",)).get(pk=connection.pk)
    if connection.next_verkey == recipient_verkey and connection.their_verkey == sender_verkey:
        _commit(connection)


def _commit(connection: Connection) -> None:
    """Our new key and DID become the connection's (locked), and the old key opens nothing any more."""
    old_verkey = connection.my_verkey
    connection.my_key_sealed = connection.next_key_sealed
    connection.my_verkey = connection.next_verkey
    connection.my_did = connection.next_did
    connection.next_key_sealed = None
    connection.next_verkey = connection.next_did = connection.next_thread_id = ""
    connection.save()
    RecipientKey.objects.filter(connection=connection, verkey=old_verkey).delete()


def _drop(connection: Connection) -> None:
    """Forget our pending rotation of ``connection`` (locked): its new key opens nothing, and its rotate, if still
    queued, is not sent; the connection keeps its key."""
    RecipientKey.objects.filter(connection=connection, verkey=connection.next_verkey).delete()
    OutboundMessage.objects.filter(
        connection=connection, message_id=connection.next_thread_id, status=OutboundMessage.Status.QUEUED
    ).update(status=OutboundMessage.Status.FAILED, last_error="the DID rotation was given up before delivery")
    connection.next_key_sealed = None
    connection.next_verkey = connection.next_did = connection.next_thread_id = ""
    connection.save(update_fields=["next_key_sealed", "next_verkey", "next_did", "next_thread_id", "updated_at"])


@transaction.atomic
def problem_report_receive(ctx: Context) -> None:
    """The peer refused our new DID: the rotation is dropped, the connection keeps its key."""
    connection = _pending(ctx)
    if connection is None:
        return None
    _drop(connection)
    return None


@transaction.atomic
def rotation_drop(*, connection: Connection) -> None:
    """Give up our rotation of ``connection`` that the peer never answered (see :func:`_drop`), so that a new one
    can start (didcomm.moving: a rotation started on the instance the twin left names that instance)."""
    connection = Connection.objects.select_for_update(of=("self",)).get(pk=connection.pk)
    if connection.next_verkey:
        _drop(connection)


# -- observing --------------------------------------------------------------------------------------------------


def _refusal(ctx: Context, code: str, explanation: str, did: object) -> dict[str, Any]:
    """RFC 0794 problem report: thid and pthid the rotate's @id (the RFC names pthid, ACA-Py reads thid)."""
    return problem_report(
        thid=ctx.message.message_id,
        pthid=ctx.message.message_id,
        code=code,
        explanation=explanation,
        key=ROTATE_PROBLEM_REPORT,
        problem_items=[{"did": did if isinstance(did, str) else ""}],
    )


@transaction.atomic
def rotate_receive(ctx: Context) -> dict[str, Any] | None:
    """The peer moves to ``to_did``: check who asks and that the DID can be used, ack on the old DID, switch."""
    message = ctx.message
    to_did = ctx.body.get("to_did")
    connection = ctx.connection
    if connection is not None:
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        connection.agent = message.agent
    if (
        connection is None
        or connection.state != Connection.State.COMPLETED
        or not message.sender_verkey
        or message.sender_verkey != connection.their_verkey
    ):
        # Not the peer (or no connection to rotate): refused, to the sender only; the connection is not touched.
        ctx.answer(_refusal(ctx, NOT_AUTHORISED, "a rotate must come from the connection's peer, Authcrypt", to_did))
        return None
    try:
        their = didexchange.resolve_did(to_did)
    except didexchange.ExchangeError as exc:
        return _refusal(ctx, exc.code or UNRESOLVABLE, str(exc), to_did)

    # The ack goes to the peer's current key, captured now, before the connection moves to the new DID.
    ack = new_message(ROTATE_ACK, status="OK", **{"~thread": {"thid": message.message_id}})
    ctx.answer(ack, connection=connection)
    connection.their_did = their.did
    connection.their_verkey = their.recipient_verkey
    connection.their_endpoint = their.endpoint
    connection.their_routing_keys = list(their.routing_verkeys)
    connection.save(update_fields=["their_did", "their_verkey", "their_endpoint", "their_routing_keys", "updated_at"])
    return None


@transaction.atomic
def hangup_receive(ctx: Context) -> None:
    """The peer is done with the connection (RFC 0794 hangup): it is removed on our side too."""
    connection = ctx.connection
    if connection is None or not ctx.message.sender_verkey or ctx.message.sender_verkey != connection.their_verkey:
        return None
    keys.connection_abandon(connection=connection)
    Connection.objects.filter(pk=connection.pk).update(error="the peer hung up (DID Rotate hangup)")
    return None
