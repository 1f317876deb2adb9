"""Message handlers, and the one table that routes ``@type`` to them (STYLE: protocol endpoints).

A handler gets the stored inbound message and returns the reply the peer should get, or ``None``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from didcomm import didexchange
from didcomm.models import Connection, InboundMessage, OutboundMessage

DIDCOMM_PREFIX = "https://didcomm.org/"
# RFC 0348: the old prefix is still accepted on receipt; we always send the new one.
LEGACY_PREFIX = "did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/"

PING = "trust_ping/1.0/ping"
PING_RESPONSE = "trust_ping/1.0/ping_response"
BASIC_MESSAGE = "basicmessage/1.0/message"
PROBLEM_REPORT = "report-problem/1.0/problem-report"
# RFC 0023 DID Exchange; the key covers 1.0 and 1.1 (RFC 0003: same major version).
DIDEXCHANGE_REQUEST = "didexchange/1.0/request"


@dataclass(frozen=True)
class Context:
    message: InboundMessage
    connection: Connection | None

    @property
    def body(self) -> dict[str, Any]:
        return self.message.body


Handler = Callable[[Context], dict[str, Any] | None]


def message_type_key(message_type: str) -> str | None:
    """``family/major.0/name`` for a message type URI under either prefix, or ``None``.

    RFC 0003 semver: a receiver that knows 1.0 handles any 1.x (it ignores what it does not know).
    """
    for prefix in (DIDCOMM_PREFIX, LEGACY_PREFIX):
        if message_type.startswith(prefix):
            parts = message_type[len(prefix) :].split("/")
            break
    else:
        return None
    if len(parts) != 3 or not all(parts):
        return None
    family, version, name = parts
    major, dot, minor = version.partition(".")
    if not (major.isdigit() and dot and minor.isdigit()):
        return None
    return f"{family}/{int(major)}.0/{name}"


def _thread(message_id: str) -> dict[str, str]:
    return {"thid": message_id}


def new_message(key: str, **body: Any) -> dict[str, Any]:
    return {"@type": DIDCOMM_PREFIX + key, "@id": str(uuid.uuid4()), **body}


def problem_report(*, thid: str, code: str, explanation: str) -> dict[str, Any]:
    """RFC 0035: ``description`` carries a machine-readable ``code`` and an English text."""
    return new_message(
        PROBLEM_REPORT,
        description={"en": explanation, "code": code},
        impact="message",
        who_retries="none",
        **{"~thread": _thread(thid)},
    )


def trust_ping(ctx: Context) -> dict[str, Any] | None:
    """RFC 0048: ``response_requested`` defaults to true."""
    if ctx.body.get("response_requested", True) is False:
        return None
    return new_message(PING_RESPONSE, **{"~thread": _thread(ctx.message.message_id)})


def trust_ping_response(ctx: Context) -> None:
    """The round-trip time is measured from the ping we queued to this answer's arrival."""
    thread = ctx.body.get("~thread")
    thid = thread.get("thid") if isinstance(thread, dict) else None
    if ctx.connection is None or not isinstance(thid, str):
        return None
    ping = OutboundMessage.objects.filter(
        connection=ctx.connection, message_id=thid, type=DIDCOMM_PREFIX + PING
    ).first()
    if ping is None:
        return None
    now = timezone.now()
    ctx.connection.last_ping_at = now
    ctx.connection.last_rtt_ms = max(0, int((now - ping.created_at).total_seconds() * 1000))
    ctx.connection.save(update_fields=["last_ping_at", "last_rtt_ms", "updated_at"])
    return None


def basic_message(ctx: Context) -> dict[str, Any] | None:
    """RFC 0095: ``content`` is the text. Stored as received (the InboundMessage row) for the owner to read."""
    if not isinstance(ctx.body.get("content"), str):
        return problem_report(
            thid=ctx.message.message_id, code="invalid-message", explanation="basic message needs a content string"
        )
    return None


def problem_report_received(ctx: Context) -> None:
    """Stored for the owner; nothing to answer (answering a problem report with one would loop)."""
    return None


@transaction.atomic
def didexchange_request(ctx: Context) -> dict[str, Any] | None:
    """RFC 0023 request, as responder: verify it, learn the requester's DID, move the invitation's connection
    to ``requested``. (The response comes next.)

    The request answers one of our invitations (``~thread.pthid``), still unused; the requester's DID is a
    did:peer:2/4 that resolves from itself, or comes with a signed ``did_doc~attach`` that must verify; and
    the envelope's sender key must be a key of that DID, so the DID belongs to whoever sent the request.
    """
    message = ctx.message
    thread = ctx.body.get("~thread")
    pthid = thread.get("pthid") if isinstance(thread, dict) else None
    if ctx.connection is not None:
        return _didexchange_problem(message, "request_not_accepted", "a connection with this key already exists")
    connection = (
        Connection.objects.select_for_update()
        .filter(agent=message.agent, invitation_id=pthid, state=Connection.State.INVITED)
        .first()
        if isinstance(pthid, str) and pthid
        else None
    )
    if connection is None:
        return _didexchange_problem(message, "request_not_accepted", "no open invitation of ours has this pthid")
    label = ctx.body.get("label", "")
    if not isinstance(label, str):
        return _didexchange_problem(message, "request_processing_error", "label must be a string")
    try:
        their = didexchange.resolve_request_did(ctx.body)
    except didexchange.ExchangeError as exc:
        return _didexchange_problem(message, "request_processing_error", str(exc))
    if not message.sender_verkey or message.sender_verkey not in their.verkeys:
        return _didexchange_problem(
            message, "request_processing_error", "the request was not sent (Authcrypt) with a key of its did"
        )
    connection.state = Connection.State.REQUESTED
    connection.their_did = their.did
    connection.their_label = label[:255]
    connection.their_verkey = message.sender_verkey
    connection.their_endpoint = their.endpoint
    connection.save(update_fields=["state", "their_did", "their_label", "their_verkey", "their_endpoint", "updated_at"])
    message.connection = connection
    message.save(update_fields=["connection"])
    return None


def _didexchange_problem(message: InboundMessage, code: str, explanation: str) -> dict[str, Any]:
    """RFC 0023 errors: a problem report on the exchange's thread (the request's ``@id``)."""
    return problem_report(thid=message.message_id, code=code, explanation=explanation)


HANDLERS: dict[str, Handler] = {
    PING: trust_ping,
    PING_RESPONSE: trust_ping_response,
    BASIC_MESSAGE: basic_message,
    PROBLEM_REPORT: problem_report_received,
    DIDEXCHANGE_REQUEST: didexchange_request,
}


def dispatch(ctx: Context) -> dict[str, Any] | None:
    """Route by ``@type``; an unknown type gets an RFC 0035 problem report, never an error page."""
    key = message_type_key(ctx.message.type)
    handler = HANDLERS.get(key) if key is not None else None
    if handler is None:
        return problem_report(
            thid=ctx.message.message_id,
            code="unsupported-message-type",
            explanation=f"message type {ctx.message.type[:200]} is not supported",
        )
    return handler(ctx)
