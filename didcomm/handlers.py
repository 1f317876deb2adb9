"""Message handlers, and the one table that routes ``@type`` to them (STYLE: protocol endpoints).

A handler gets the stored inbound message and returns the reply the peer should get, or ``None``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from didcomm.models import Connection, InboundMessage, OutboundMessage

DIDCOMM_PREFIX = "https://didcomm.org/"
# RFC 0348: the old prefix is still accepted on receipt; we always send the new one.
LEGACY_PREFIX = "did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/"

PING = "trust_ping/1.0/ping"
PING_RESPONSE = "trust_ping/1.0/ping_response"
BASIC_MESSAGE = "basicmessage/1.0/message"
PROBLEM_REPORT = "report-problem/1.0/problem-report"
# RFC 0023 DID Exchange; each key covers 1.0 and 1.1 (RFC 0003: same major version).
DIDEXCHANGE_REQUEST = "didexchange/1.0/request"
DIDEXCHANGE_RESPONSE = "didexchange/1.0/response"
DIDEXCHANGE_COMPLETE = "didexchange/1.0/complete"
DIDEXCHANGE_PROBLEM_REPORT = "didexchange/1.0/problem_report"
# RFC 0794 DID Rotate.
ROTATE = "did-rotate/1.0/rotate"
ROTATE_ACK = "did-rotate/1.0/ack"
ROTATE_PROBLEM_REPORT = "did-rotate/1.0/problem-report"
ROTATE_HANGUP = "did-rotate/1.0/hangup"


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


def thread_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """A message's ``~thread`` ``thid`` and ``pthid`` (each ``None`` unless a string)."""
    thread = body.get("~thread")
    if not isinstance(thread, dict):
        return None, None
    thid, pthid = thread.get("thid"), thread.get("pthid")
    return (thid if isinstance(thid, str) else None), (pthid if isinstance(pthid, str) else None)


def new_message(key: str, **body: Any) -> dict[str, Any]:
    return {"@type": DIDCOMM_PREFIX + key, "@id": str(uuid.uuid4()), **body}


def problem_report(
    *, thid: str, code: str, explanation: str, key: str = PROBLEM_REPORT, pthid: str | None = None, **extra: Any
) -> dict[str, Any]:
    """RFC 0035: ``description`` carries a machine-readable ``code`` and an English text. ``key`` names a
    protocol's own problem report (``didexchange/1.1/problem_report``, ``did-rotate/1.0/problem-report``)."""
    thread = _thread(thid)
    if pthid is not None:
        thread["pthid"] = pthid
    return new_message(
        key,
        description={"en": explanation, "code": code},
        impact="message" if key == PROBLEM_REPORT else "thread",
        who_retries="none",
        **extra,
        **{"~thread": thread},
    )


def trust_ping(ctx: Context) -> dict[str, Any] | None:
    """RFC 0048: ``response_requested`` defaults to true.

    RFC 0023: a ping from the requester on a connection we ``responded`` on completes it, as a ``complete``
    would (ACA-Py pings as soon as it has our response).
    """
    connection = ctx.connection
    if (
        connection is not None
        and connection.state == Connection.State.RESPONDED
        and ctx.message.sender_verkey
        and ctx.message.sender_verkey == connection.their_verkey
    ):
        # Conditional: a ``complete`` on the same connection may be handled at the same moment.
        Connection.objects.filter(pk=connection.pk, state=Connection.State.RESPONDED).update(
            state=Connection.State.COMPLETED, updated_at=timezone.now()
        )
        connection.state = Connection.State.COMPLETED
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


# -- RFC 0023 DID Exchange and RFC 0794 DID Rotate (didcomm.exchange, didcomm.rotate) ---------------------------
# Imported when called: both import didcomm.services, which imports this module.


def didexchange_request(ctx: Context) -> dict[str, Any] | None:
    from didcomm import exchange

    return exchange.request_receive(ctx)


def didexchange_response(ctx: Context) -> dict[str, Any] | None:
    from didcomm import exchange

    return exchange.response_receive(ctx)


def didexchange_complete(ctx: Context) -> dict[str, Any] | None:
    from didcomm import exchange

    return exchange.complete_receive(ctx)


def didexchange_problem_report(ctx: Context) -> None:
    from didcomm import exchange

    return exchange.problem_report_receive(ctx)


def did_rotate(ctx: Context) -> dict[str, Any] | None:
    from didcomm import rotate

    return rotate.rotate_receive(ctx)


def did_rotate_ack(ctx: Context) -> None:
    from didcomm import rotate

    return rotate.ack_receive(ctx)


def did_rotate_problem_report(ctx: Context) -> None:
    from didcomm import rotate

    return rotate.problem_report_receive(ctx)


def did_rotate_hangup(ctx: Context) -> None:
    from didcomm import rotate

    return rotate.hangup_receive(ctx)


HANDLERS: dict[str, Handler] = {
    PING: trust_ping,
    PING_RESPONSE: trust_ping_response,
    BASIC_MESSAGE: basic_message,
    PROBLEM_REPORT: problem_report_received,
    DIDEXCHANGE_REQUEST: didexchange_request,
    DIDEXCHANGE_RESPONSE: didexchange_response,
    DIDEXCHANGE_COMPLETE: didexchange_complete,
    DIDEXCHANGE_PROBLEM_REPORT: didexchange_problem_report,
    ROTATE: did_rotate,
    ROTATE_ACK: did_rotate_ack,
    ROTATE_PROBLEM_REPORT: did_rotate_problem_report,
    ROTATE_HANGUP: did_rotate_hangup,
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
