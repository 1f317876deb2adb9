"""RFC 0023 DID Exchange, the steps that write: accepting an invitation (we request), answering a request (we
respond), taking the response (we complete), and the requester's complete.

As responder (we invited): request → we check it (:func:`request_receive`), make the connection's pairwise key
and DID and answer with a response signed by the invitation key (state ``responded``) → their ``complete``, or a
trust ping, makes it ``completed``.

As requester (they invited): :func:`request_create` makes the connection (state ``requested``) and our request,
which didcomm.outbox queues to the invitation's key → their response is verified (:func:`response_receive`):
signed by the invitation key, naming a DID whose key sent it → ``completed``, and we send ``complete``.

Nothing here sends: a handler returns its reply, or hands a refusal for the sender alone to ``Context.answer``.

Refusals are RFC 0023 problem reports (``didexchange/1.x/problem_report``, RFC 0035 ``description``); a response
that does not verify also abandons the exchange, with the reason kept in ``Connection.error``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from didcomm import keys
from didcomm.handlers import Context
from didcomm.models import Agent, Connection, InboundMessage, RecipientKey
from ssi import didexchange, oob
from ssi.keys import SigningKey
from ssi.messages import new_message, problem_report, thread_of

# RFC 0023 problem codes.
REQUEST_NOT_ACCEPTED = "request_not_accepted"
REQUEST_PROCESSING_ERROR = "request_processing_error"
RESPONSE_NOT_ACCEPTED = "response_not_accepted"
RESPONSE_PROCESSING_ERROR = "response_processing_error"
COMPLETE_NOT_ACCEPTED = "complete_not_accepted"

ANSWER_ENDPOINT_MAX = 2048  # OutboundMessage.to_endpoint


class InvitationError(Exception):
    """The invitation cannot be accepted; ``str(exc)`` is the reason, for the person who pasted it."""


def _key(protocol: str, name: str) -> str:
    return f"didexchange/{protocol}/{name}"


def _problem(message: InboundMessage, code: str, explanation: str, *, protocol: str | None = None) -> dict[str, Any]:
    """A problem report on the exchange's thread (the message's thid, or its @id), in the message's version."""
    thid, pthid = thread_of(message.body)
    return problem_report(
        thid=thid or message.message_id,
        pthid=pthid,
        code=code,
        explanation=explanation,
        key=_key(protocol or didexchange.protocol_of(message.type), "problem_report"),
    )


def _problem_to_sender(ctx: Context, code: str, explanation: str) -> None:
    """A refusal for a message whose sender is not the connection's peer: it goes back to that sender only (over
    a return route, as we know no endpoint of theirs), never to the peer, and the connection is not touched."""
    ctx.answer(_problem(ctx.message, code, explanation))


def pairwise_did_create(*, connection: Connection, protocol: str) -> tuple[str, SigningKey]:
    """A fresh pairwise key for ``connection`` and our DID over it (1.1: a did:peer:4 long form, 1.0: an
    unqualified DID); sets ``my_did`` (the caller saves)."""
    key = keys.pairwise_key_create(connection=connection)
    if protocol == "1.0":
        did = didexchange.unqualified_did(key.verify_key)
    else:
        did = didexchange.peer4_did(key.verify_key, keys.endpoint_url())
    connection.my_did = did
    return did, key


def _abandon(connection: Connection, reason: str) -> None:
    connection.state = Connection.State.ABANDONED
    connection.error = reason[:500]
    connection.save(update_fields=["state", "error", "updated_at"])


# -- we invited: the request, our response, their complete -----------------------------------------------------


@transaction.atomic
def request_receive(ctx: Context) -> dict[str, Any] | None:
    """RFC 0023 request, as responder: verify it, learn the requester's DID, answer with our response.

    The request answers one of our invitations (``~thread.pthid``), still unused; the requester's DID is a
    did:peer:2/4 that resolves from itself, or comes with a signed ``did_doc~attach`` that must verify; and
    the envelope's sender key must be a key of that DID, so the DID belongs to whoever sent the request.

    The response (same version as the request) names our new pairwise DID and is signed with the invitation's
    key: 1.1 ``did_rotate~attach`` over the DID, 1.0 ``did_doc~attach`` over its document. A refusal goes to the
    endpoint of the requester's DID (it has no connection with us to be answered on).
    """
    message = ctx.message
    _, pthid = thread_of(ctx.body)
    if ctx.connection is not None:
        return _problem(message, REQUEST_NOT_ACCEPTED, "a connection with this key already exists")
    try:
        their: didexchange.TheirDid | None = didexchange.resolve_request_did(ctx.body)
        unusable = ""
    except didexchange.ExchangeError as exc:
        their, unusable = None, str(exc)
    proven = their is not None and bool(message.sender_verkey) and message.sender_verkey in their.verkeys

    def refuse(code: str, explanation: str) -> dict[str, Any] | None:
        # The requester has no connection with us: answer at the endpoint of its DID when the request proves the
        # DID is the sender's (a reused invitation's second requester must hear no), else over a return route.
        problem = _problem(message, code, explanation)
        if not proven or not their.endpoint or len(their.endpoint) > ANSWER_ENDPOINT_MAX:
            return problem
        ctx.answer(problem, endpoint=their.endpoint, routing_keys=their.routing_verkeys)
        return None

    connection = (
        Connection.objects.select_for_update()
        .filter(agent=message.agent, invitation_id=pthid, state=Connection.State.INVITED)
        .first()
        if pthid
        else None
    )
    if connection is None:
        return refuse(REQUEST_NOT_ACCEPTED, "no open invitation of ours has this pthid")
    label = ctx.body.get("label", "")
    if not isinstance(label, str):
        return refuse(REQUEST_PROCESSING_ERROR, "label must be a string")
    if their is None:
        return refuse(REQUEST_PROCESSING_ERROR, unusable)
    if not proven:
        return refuse(REQUEST_PROCESSING_ERROR, "the request was not sent (Authcrypt) with a key of its did")
    invitation_key = keys.agent_key_of(message.agent)
    if keys.verkey_of(invitation_key) != connection.my_verkey:
        # The agent's key rotated (a twin transfer) after this invitation was made: it can no longer sign for it.
        return refuse(REQUEST_NOT_ACCEPTED, "this invitation is no longer valid")

    protocol = didexchange.protocol_of(message.type)
    connection.agent = message.agent
    did, key = pairwise_did_create(connection=connection, protocol=protocol)
    connection.state = Connection.State.RESPONDED
    connection.protocol = protocol
    connection.thread_id = message.message_id
    connection.their_did = their.did
    connection.their_label = label[:255]
    connection.their_verkey = message.sender_verkey
    connection.their_endpoint = their.endpoint
    connection.their_routing_keys = list(their.routing_verkeys)
    connection.save()
    message.connection = connection
    message.save(update_fields=["connection"])

    response = new_message(
        _key(protocol, "response"), did=did, **{"~thread": {"thid": message.message_id, "pthid": pthid}}
    )
    if protocol == "1.0":
        document = didexchange.legacy_document(did, key.verify_key, keys.endpoint_url())
        response["did_doc~attach"] = didexchange.did_doc_attachment(document, invitation_key)
    else:
        response["did_rotate~attach"] = didexchange.did_rotate_attachment(did, invitation_key)
    return response


@transaction.atomic
def complete_receive(ctx: Context) -> dict[str, Any] | None:
    """RFC 0023 complete, from the requester on the connection we responded on: ``completed``.

    Its ``thid`` must be the exchange's (the request's @id). A complete on a connection already completed (a
    trust ping came first) changes nothing.
    """
    message = ctx.message
    connection = ctx.connection
    thid, _ = thread_of(ctx.body)
    if connection is None or connection.role != Connection.Role.RESPONDER or not message.sender_verkey:
        _problem_to_sender(ctx, COMPLETE_NOT_ACCEPTED, "no exchange of ours is waiting for this complete")
        return None
    if message.sender_verkey != connection.their_verkey:
        _problem_to_sender(ctx, COMPLETE_NOT_ACCEPTED, "this complete is not from the connection's peer")
        return None
    if thid != connection.thread_id:
        return _problem(message, COMPLETE_NOT_ACCEPTED, "the complete's thid is not this exchange's")
    updated = Connection.objects.filter(pk=connection.pk, state=Connection.State.RESPONDED).update(
        state=Connection.State.COMPLETED
    )
    if updated:
        connection.state = Connection.State.COMPLETED
        return None
    connection.refresh_from_db(fields=["state"])
    if connection.state != Connection.State.COMPLETED:
        return _problem(message, COMPLETE_NOT_ACCEPTED, f"the connection is {connection.state}, not responded")
    return None


# -- they invited: our request, their response, our complete ---------------------------------------------------


def _supported(invitation: oob.Invitation) -> str:
    protocol = didexchange.invitation_protocol(invitation.handshake_protocols)
    if protocol is None:
        offered = ", ".join(invitation.handshake_protocols) or "none"
        raise InvitationError(
            f"the invitation offers no handshake protocol we support (DID Exchange 1.0 or 1.1); it offers: {offered}"
        )
    return protocol


@transaction.atomic
def request_create(*, agent: Agent, invitation_url: str) -> tuple[Connection, dict[str, Any]]:
    """Answer an RFC 0434 invitation (a URL with ``?oob=``): create the connection (role requester) and our DID
    Exchange request for it, which the caller queues in the same transaction (didcomm.outbox.invitation_accept).
    Raises :class:`InvitationError` with a reason a person can act on.

    DID Exchange 1.1 is preferred if offered (our DID a did:peer:4 long form), else 1.0 (an unqualified DID with
    its document in a signed ``did_doc~attach``). Until their response, the connection's peer is the
    invitation's recipient key and endpoint.
    """
    try:
        invitation = oob.parse_url(invitation_url.strip())
    except oob.OOBError as exc:
        raise InvitationError(f"not an invitation: {exc}") from None
    protocol = _supported(invitation)
    try:
        target = didexchange.invitation_target(invitation)
    except didexchange.ExchangeError as exc:
        raise InvitationError(f"the invitation cannot be answered: {exc}") from None

    # One accept at a time per agent: the "already accepted" check below must see a concurrent accept's row.
    Agent.objects.select_for_update().filter(pk=agent.pk).first()
    ours = Connection.objects.filter(agent=agent, role=Connection.Role.RESPONDER, invitation_id=invitation.id)
    own_key = RecipientKey.objects.filter(agent=agent, verkey=target.recipient_verkey).exists()
    if own_key or ours.exists():
        raise InvitationError("this is one of our own invitations: send it to the agent you want to connect with")
    accepted = Connection.objects.filter(agent=agent, role=Connection.Role.REQUESTER, invitation_id=invitation.id)
    if accepted.exclude(state=Connection.State.ABANDONED).exists():
        raise InvitationError("this invitation has already been accepted: see the connection it made")

    connection = Connection(
        agent=agent,
        role=Connection.Role.REQUESTER,
        state=Connection.State.REQUESTED,
        protocol=protocol,
        invitation_id=invitation.id,
        invitation_url=invitation_url.strip(),
        their_label=invitation.label[:255],
        their_verkey=target.recipient_verkey,
        their_endpoint=target.endpoint,
        their_routing_keys=list(target.routing_verkeys),
    )
    did, key = pairwise_did_create(connection=connection, protocol=protocol)
    request = new_message(_key(protocol, "request"), label=agent.label, did=did)
    request["~thread"] = {"thid": request["@id"], "pthid": invitation.id}
    if protocol == "1.0":
        document = didexchange.legacy_document(did, key.verify_key, keys.endpoint_url())
        request["did_doc~attach"] = didexchange.did_doc_attachment(document, key)
    connection.thread_id = request["@id"]
    connection.save()
    return connection, request


@transaction.atomic
def response_receive(ctx: Context) -> dict[str, Any] | None:
    """RFC 0023 response to our request: verify it, learn the responder's DID, complete.

    It must be on our exchange's thread and signed by the invitation's key (1.1 ``did_rotate~attach`` over
    exactly the response's ``did``; 1.0 ``did_doc~attach``), and the envelope's sender key must be a key of that
    DID. Anything else abandons the exchange with a problem report.
    """
    message = ctx.message
    connection = ctx.connection
    thid, _ = thread_of(ctx.body)
    if connection is None or connection.role != Connection.Role.REQUESTER or not message.sender_verkey:
        _problem_to_sender(ctx, RESPONSE_NOT_ACCEPTED, "no request of ours is waiting for this response")
        return None
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    connection.agent = message.agent
    if connection.state != Connection.State.REQUESTED or thid != connection.thread_id:
        return _problem(message, RESPONSE_NOT_ACCEPTED, "this response does not answer a pending request of ours")
    protocol = connection.protocol or didexchange.protocol_of(message.type)
    try:
        their = didexchange.resolve_response_did(ctx.body, invitation_verkey=connection.their_verkey)
        # Over a return route (RFC 0092) ACA-Py answers from the key our request went to: the invitation's,
        # the same key that signed the response.
        if message.sender_verkey not in their.verkeys and message.sender_verkey != connection.their_verkey:
            raise didexchange.ExchangeError("the response was not sent (Authcrypt) with a key of its did")
    except didexchange.ExchangeError as exc:
        _abandon(connection, f"their response was refused: {exc}")
        message.connection = connection
        return _problem(message, RESPONSE_PROCESSING_ERROR, str(exc), protocol=protocol)

    connection.their_did = their.did
    connection.their_verkey = message.sender_verkey if message.sender_verkey in their.verkeys else their.verkeys[0]
    if their.endpoint:
        connection.their_endpoint = their.endpoint
        connection.their_routing_keys = list(their.routing_verkeys)
    connection.state = Connection.State.COMPLETED
    connection.save()
    # The reply is queued over message.connection: the one just updated, so it goes to their new key.
    message.connection = connection
    return new_message(
        _key(protocol, "complete"),
        **{"~thread": {"thid": connection.thread_id, "pthid": connection.invitation_id}},
    )


# -- either role ------------------------------------------------------------------------------------------------


@transaction.atomic
def problem_report_receive(ctx: Context) -> None:
    """A peer's RFC 0023 problem report on an exchange still under way abandons it (its reason kept). From
    anyone but the peer, or about a finished exchange, it is only stored."""
    message = ctx.message
    thid, pthid = thread_of(ctx.body)
    # Refusing our response, the requester may write to the invitation's key rather than our pairwise one:
    # didcomm.inbound finds the connection by the exchange's thread then.
    connection = ctx.connection
    if connection is None or not message.sender_verkey or message.sender_verkey != connection.their_verkey:
        return None
    in_progress = (Connection.State.REQUESTED, Connection.State.RESPONDED)
    if connection.state not in in_progress or connection.thread_id not in (thid, pthid):
        return None
    description = ctx.body.get("description")
    code, text = "", ""
    if isinstance(description, dict):
        code = description.get("code") if isinstance(description.get("code"), str) else ""
        text = description.get("en") if isinstance(description.get("en"), str) else ""
    _abandon(connection, "the peer refused the exchange: " + ": ".join(part for part in (code, text) if part))
    if message.connection_id is None:
        message.connection = connection
        message.save(update_fields=["connection"])
    return None
