"""Receiving: open an RFC 0019 envelope addressed to one of our agents, store its message once, dispatch it, and
store what it calls for. The same for every transport (HTTP, WebSocket, answers on our own outbound sockets);
none of it sends: the caller starts delivery of :attr:`Received.queued` once the receipt has committed
(didcomm.tasks.receive)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.ratelimit import hit
from core.vault import unseal_key
from didcomm import relay, rotate, timeline
from didcomm.dispatch import dispatch
from didcomm.handlers import Answer, Context, is_problem_report, problem
from didcomm.keys import agent_key_of, connection_key, verkey_of
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage, RecipientKey
from ssi import didexchange, envelope, messages
from ssi.errors import SSIError
from ssi.keys import SigningKey
from ssi.multibase import b64url_decode
from twins.history import TwinDeactivated

# An envelope names few recipients; a header naming thousands is not worth a database lookup.
MAX_RECIPIENTS = 20

# Rate limits ("count/seconds", core.ratelimit): every envelope a sender key gets opened, and every message an
# agent takes (those that are stored and dispatched), whoever sent them.
RATE_PER_SENDER = "60/60"
RATE_PER_AGENT = "300/60"

# The longest endpoint an answer outside any connection is queued for (OutboundMessage.to_endpoint).
ANSWER_ENDPOINT_MAX = 2048

# RFC 0035 code of the problem report a deactivated twin's agent answers its peers with.
DEACTIVATED = "twin-deactivated"
# ... and the one a twin's agent answers with on the instance it moved away from (didcomm.moving).
MOVED = "thing-moved"


class InboundError(Exception):
    """The envelope or its message is refused; ``str(exc)`` is the reason the sender gets with the 400."""


class RateLimited(InboundError):
    """Over a rate limit: the sender gets a 429 (HTTP) or a close (WebSocket), and may retry after
    ``retry_after`` seconds. Nothing was written."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many messages: retry in {retry_after} s")
        self.retry_after = retry_after


class Closed(InboundError):
    """The agent's twin is deactivated: refused. ``queued``: the problem report its peer gets (already
    committed), for the caller to deliver."""

    def __init__(self, queued: tuple[OutboundMessage, ...] = (), reason: str = "") -> None:
        reason = reason or "this twin is deactivated: its agent accepts no messages"
        super().__init__(reason)
        self.queued = queued


class Moved(Closed):
    """The agent's twin moved to another instance (twins.events.TwinMovedAway): nothing is taken here. A peer
    (or a requester on one of its invitations) is answered with a problem report saying where it went
    (``queued``, for the caller to deliver), or, for its ack of the rotation the agent started there, the
    envelope is passed on there (``relayed``, didcomm.relay); the transports then answer as for a delivered
    message, so the peer's agent does not send it again. Anyone else is refused."""

    def __init__(self, queued: tuple[OutboundMessage, ...], moved_to: str, *, relayed: bool = False) -> None:
        super().__init__(queued, f"this thing has moved to {moved_to}: its agent takes no messages here")
        self.moved_to = moved_to
        self.relayed = relayed  # the peer's rotation ack, passed on to the new instance (didcomm.relay)

    @property
    def answered(self) -> bool:
        return bool(self.queued) or self.relayed


class NotYetHere(InboundError):
    """The agent's twin is still arriving from another instance (twins.moving): its agent is silent until it
    has arrived; the sender may try again later."""


class Leaving(NotYetHere):
    """The agent's twin is on its way to another instance (``Twin.leaving_to``, twins.leaving: from the owner's
    confirmation of a move until the old host lets go, or the move is called off): a message taken now would be
    recorded here, after the package was built, and stay behind. Refused before anything is written; the
    transports answer "later" (HTTP 503 with Retry-After), which ACA-Py (1.7) takes as a failed delivery and
    sends again, to the same endpoint and key, 4 more times 10 s apart (its outbound queue,
    ``--max-outbound-retry``). A move called off: the retry is taken here. A move done: the retry reaches the
    old host's moved agent, which tells the peer where the thing went (:class:`Moved`), while the new host
    rotates the connection to itself (didcomm.moving)."""


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
    closed = False
    rows = RecipientKey.objects.filter(verkey__in=kids).select_related("agent__twin", "agent__owner", "connection")
    for row in rows:
        if row.connection is not None:
            if row.connection.state == Connection.State.ABANDONED:
                closed = closed or _deactivated(row.agent)
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
    if not found and closed:
        raise Closed()
    return found


def _deactivated(agent: Agent) -> bool:
    return agent.twin_id is not None and agent.twin.deactivated_at is not None


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
    # What this receipt queued for delivery (the reply and any answers); nothing for a duplicate, whose answers
    # the first receipt queued.
    queued: tuple[OutboundMessage, ...] = ()


# The messages a requester receives before it knows the responder's key: the response (from the responder's new
# DID key, checked by its handler against the invitation key's signature) or a refusal.
_BEFORE_THEIR_KEY = frozenset({messages.DIDEXCHANGE_RESPONSE, messages.DIDEXCHANGE_PROBLEM_REPORT})


def _from_peer(connection: Connection, sender: str, message_type: str) -> bool:
    """Whether a message to a connection's pairwise key belongs on that connection: sent (Authcrypt) by the
    peer's key, or an exchange answer a requester awaits before it knows that key."""
    if sender and sender == connection.their_verkey:
        return True
    awaiting = connection.role == Connection.Role.REQUESTER and connection.state == Connection.State.REQUESTED
    return awaiting and messages.message_type_key(message_type) in _BEFORE_THEIR_KEY


# What the requester may send to the invitation's key once we responded (it may not use our pairwise DID yet):
# its complete, or its refusal of our response. Found by the exchange's thread and the requester's key.
_TO_THE_INVITATION_KEY = frozenset({messages.DIDEXCHANGE_COMPLETE, messages.DIDEXCHANGE_PROBLEM_REPORT})


def _connection_of(mine: _Mine, recipient: str, sender: str, body: dict[str, Any]) -> Connection | None:
    """The connection a message belongs to, or ``None`` if its sender is no connection's peer."""
    agent = mine.agent
    connection = mine.connection
    if connection is not None and not _from_peer(connection, sender, body["@type"]):
        # Our pairwise key, but not the peer's: whoever learnt the key does not get to speak for the peer.
        connection = None
    if connection is None and sender and mine.connection is None:
        live = Connection.objects.filter(agent=agent, their_verkey=sender).exclude(state=Connection.State.ABANDONED)
        # Sent to the agent's own key: a connection made before pairwise keys, keyed by both verkeys.
        connection = live.filter(my_verkey=recipient).first()
        thid, _ = messages.thread_of(body)
        if connection is None and thid and messages.message_type_key(body["@type"]) in _TO_THE_INVITATION_KEY:
            connection = live.filter(role=Connection.Role.RESPONDER, thread_id=thid).first()
    if connection is not None:
        connection.agent = agent
    return connection


def _admission(mine: _Mine, body: dict[str, Any]) -> str:
    """Why a message outside any connection is refused ("" if it is taken). Only the handshake of one of the
    agent's invitations is: a DID Exchange request to its invitation key naming the invitation (a used one
    too: its requester is answered with a problem report). Anything else from a stranger would write into a
    twin's signed history and its owner's inbox."""
    if messages.message_type_key(body["@type"]) != messages.DIDEXCHANGE_REQUEST or mine.connection is not None:
        return "no connection with this sender: outside a connection only a DID Exchange request is taken"
    _, pthid = messages.thread_of(body)
    invitations = Connection.objects.filter(agent=mine.agent, role=Connection.Role.RESPONDER, invitation_id=pthid)
    if not pthid or not invitations.exists():
        return "no invitation of ours has this pthid"
    return ""


def _rate(name: str, default: str) -> str:
    return getattr(settings, name, default)


def _limit(key: str, setting: str, default: str) -> None:
    retry_after = hit("didcomm", key, _rate(setting, default))
    if retry_after is not None:
        raise RateLimited(retry_after)


@transaction.atomic
def _close(connection: Connection | None, message_id: str) -> tuple[OutboundMessage, ...]:
    """A deactivated twin's agent answers its peer once, with a problem report, and closes the connection:
    what the peer sends afterwards is refused unanswered. Nothing enters the twin's history (it is closed)."""
    if connection is None:
        return ()
    closed = (
        Connection.objects.filter(pk=connection.pk)
        .exclude(state=Connection.State.ABANDONED)
        .update(state=Connection.State.ABANDONED, error="the twin was deactivated", updated_at=timezone.now())
    )
    if not closed:
        return ()  # a concurrent message closed it and answered
    OutboundMessage.objects.filter(connection=connection, status=OutboundMessage.Status.QUEUED).update(
        status=OutboundMessage.Status.FAILED, last_error="the twin was deactivated before delivery"
    )
    body = problem(
        thid=message_id,
        code=DEACTIVATED,
        explanation="this twin was deactivated: its agent accepts and sends no more messages",
        impact="connection",
    )
    report = OutboundMessage.objects.create(
        agent=connection.agent,
        connection=connection,
        to_verkey=connection.their_verkey,
        message_id=body["@id"],
        type=body["@type"],
        body=body,
    )
    return (report,)


def _moved(mine: _Mine, connection: Connection | None, sender: str, body: dict[str, Any], raw: bytes) -> Moved:
    """The refusal of a message to the agent of a twin that moved away, with what it answers. The peer's ack of
    the rotation the agent started on its new instance comes here, to the prior DID (RFC 0794): it is passed on
    there, as it came (didcomm.relay). Anything else: :func:`_moved_answer`."""
    moved_to = mine.agent.twin.moved_to
    from_peer = connection is not None and bool(sender) and sender == connection.their_verkey
    if from_peer and messages.message_type_key(body["@type"]) == messages.ROTATE_ACK:
        relay.relay_after_commit(moved_to=moved_to, raw=raw)
        return Moved((), moved_to, relayed=True)
    return Moved(_moved_answer(mine, connection, sender, body), moved_to)


@transaction.atomic
def _moved_answer(
    mine: _Mine, connection: Connection | None, sender: str, body: dict[str, Any]
) -> tuple[OutboundMessage, ...]:
    """What the agent of a twin that moved away answers (didcomm.moving): a problem report saying where the
    thing went, to the connection's peer, or to whoever requests a connection on one of its invitations (at the
    endpoint of the requester's DID, when the request proves it is the sender's: an invitation that worked
    before the move does not any more). Nothing is stored of the message itself: no history entry, no inbox
    item. A problem report gets no answer (two agents could otherwise answer each other for ever)."""
    if is_problem_report(body["@type"]):
        return ()
    agent = mine.agent
    moved_to = agent.twin.moved_to
    if connection is not None:
        if not sender or sender != connection.their_verkey:
            return ()
        explanation = (
            f"this thing has moved to {moved_to}: its agent takes no messages here any more, and tells you its"
            " new DID from there (RFC 0794 DID Rotate)"
        )
        # Impact "connection": nothing on this connection works here any more.
        report = problem(thid=body["@id"], code=MOVED, explanation=explanation, impact="connection")
        return (_store_for(agent, report, connection=connection, to_verkey=connection.their_verkey),)
    if messages.message_type_key(body["@type"]) != messages.DIDEXCHANGE_REQUEST or mine.connection is not None:
        return ()
    _, pthid = messages.thread_of(body)
    invitations = Connection.objects.filter(agent=agent, role=Connection.Role.RESPONDER, invitation_id=pthid)
    if not pthid or not sender or not invitations.exists():
        return ()
    try:
        their = didexchange.resolve_request_did(body)
    except didexchange.ExchangeError:
        return ()
    if sender not in their.verkeys or not their.endpoint or len(their.endpoint) > ANSWER_ENDPOINT_MAX:
        return ()
    protocol = didexchange.protocol_of(body["@type"])
    report = messages.problem_report(
        thid=body["@id"],
        pthid=pthid,
        code="request_not_accepted",  # RFC 0023's code; the explanation says why
        explanation=f"this thing has moved to {moved_to}: its invitations from here no longer work; ask for a new one",
        key=f"didexchange/{protocol}/problem_report",
    )
    return (
        _store_for(
            agent,
            report,
            connection=None,
            to_verkey=sender,
            to_endpoint=their.endpoint,
            to_routing_keys=list(their.routing_verkeys),
        ),
    )


def _store_for(agent: Agent, body: dict[str, Any], *, connection: Connection | None, **to: Any) -> OutboundMessage:
    return OutboundMessage.objects.create(
        agent=agent, connection=connection, message_id=body["@id"], type=body["@type"], body=body, **to
    )


def inbound_receive(*, raw: bytes, on_open: Callable[[str, dict[str, Any]], None] | None = None) -> Received:
    """Open an envelope addressed to one of our agents, store its message once, dispatch it, and queue the reply
    and the handler's answers (:attr:`Received.queued`, which the caller delivers once this commits).

    Raises :class:`InboundError` (the caller answers 400) before anything is written: a message from no
    connection's peer that is not the handshake of one of our invitations (:func:`_admission`), or one over a
    rate limit (:class:`RateLimited`, per sender key and per agent). A deactivated twin's agent answers its peer
    once with a problem report and refuses (:class:`Closed`, whose ``queued`` the caller delivers); so does, to
    every message, the agent of a twin that moved to another instance (:class:`Moved`), while on the instance it
    moves to its agent takes nothing until it has arrived (:class:`NotYetHere`).

    A duplicate ``@id`` on the same connection is not dispatched again: the sender gets the first answer (the
    reply already queued). ``on_open(sender_verkey, message)`` runs once the message is taken, before dispatch:
    the WebSocket transport registers a return route there, so that the reply queued by dispatch already goes
    back over the socket.
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
    _limit(f"sender:{sender or f'anonymous:{agent.pk}'}", "RATE_DIDCOMM_PER_SENDER", RATE_PER_SENDER)
    connection = _connection_of(mine, unpacked.recipient_verkey, sender, body)
    twin = agent.twin if agent.twin_id is not None else None
    if twin is not None and twin.moved_to:
        raise _moved(mine, connection, sender, body, raw)
    if twin is not None and twin.leaving_to:
        raise Leaving(
            "this thing is moving to another host right now: its agent takes no messages; send it again later"
        )
    if twin is not None and twin.arriving:
        raise NotYetHere("this thing is still on its way here: its agent takes messages once it has arrived")
    if _deactivated(agent):
        raise Closed(_close(connection, body["@id"]))
    if connection is None:
        refusal = _admission(mine, body)
        if refusal:
            raise InboundError(refusal)
    _limit(f"agent:{agent.pk}", "RATE_DIDCOMM_PER_AGENT", RATE_PER_AGENT)
    if connection is not None and connection.next_verkey and unpacked.recipient_verkey == connection.next_verkey:
        rotate.ack_implied(connection=connection, recipient_verkey=unpacked.recipient_verkey, sender_verkey=sender)
        connection.refresh_from_db()
        connection.agent = agent
    if on_open is not None:
        on_open(sender, body)
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
            ctx = Context(message=message, connection=connection)
            reply_body = dispatch(ctx)
            queued = [_answer_store(message, answer) for answer in ctx.answers]
            timeline.record_inbound(message)
            reply = None
            if reply_body is not None:
                # Over message.connection: a handler may have set it (the exchange that made the connection).
                to = message.connection
                to_verkey = to.their_verkey if to is not None else message.sender_verkey
                reply = _answer_store(message, Answer(body=reply_body, connection=to, to_verkey=to_verkey))
                queued.append(reply)
    except IntegrityError:
        first = InboundMessage.objects.get(
            agent=agent, connection=connection, sender_verkey=sender, message_id=body["@id"]
        )
        return Received(message=first, reply=first.replies.first(), duplicate=True)
    except TwinDeactivated:
        # Deactivated after this message's agent was looked up: the history refused the entry, so the receipt
        # rolled back; answered as a deactivated twin answers.
        raise Closed(_close(connection, body["@id"])) from None
    return Received(message=message, reply=reply, duplicate=False, queued=tuple(queued))


def _answer_store(message: InboundMessage, answer: Answer) -> OutboundMessage:
    """Queue an answer to ``message``; without a connection it goes to the endpoint the answer names, or back
    over a return route."""
    body = answer.body
    return OutboundMessage.objects.create(
        agent=message.agent,
        connection=answer.connection,
        in_reply_to=message,
        to_verkey=answer.to_verkey,
        to_endpoint=answer.to_endpoint,
        to_routing_keys=list(answer.to_routing_keys),
        message_id=body["@id"],
        type=body["@type"],
        body=body,
    )
