"""What receiving a message does, for the protocols with no module of their own (RFC 0048 trust ping, RFC 0095
basic message, RFC 0035 problem report), and the context every handler gets (didcomm.dispatch routes to them).

A handler gets the stored inbound message and returns the reply the peer should get, or ``None``. It never
sends: :func:`didcomm.inbound.inbound_receive` stores the reply (and any :meth:`Context.answer`) in the
receipt's transaction, and its caller starts their delivery once that commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from didcomm.models import Connection, InboundMessage, OutboundMessage
from ssi.messages import (
    DIDCOMM_PREFIX,
    NOTIFICATION_PROBLEM_REPORT,
    PING,
    PING_RESPONSE,
    message_type_key,
    new_message,
    problem_report,
    thread,
)


@dataclass(frozen=True)
class Answer:
    """A message for a peer that receiving ``Context.message`` calls for, besides the handler's reply."""

    body: dict[str, Any]
    connection: Connection | None
    to_verkey: str
    # Without a connection: where the sender's DID says to deliver (else only a return route can take it).
    to_endpoint: str = ""
    to_routing_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    message: InboundMessage
    connection: Connection | None
    answers: list[Answer] = field(default_factory=list)

    @property
    def body(self) -> dict[str, Any]:
        return self.message.body

    def answer(
        self,
        body: dict[str, Any],
        *,
        connection: Connection | None = None,
        endpoint: str = "",
        routing_keys: tuple[str, ...] = (),
    ) -> None:
        """Queue ``body`` along with the reply: over ``connection`` to its peer's key as it is now (a handler may
        move the connection to another key afterwards), or without one back to the message's sender only: at
        ``endpoint`` (through ``routing_keys``) if its DID names one, else over a return route."""
        to_verkey = connection.their_verkey if connection is not None else self.message.sender_verkey
        self.answers.append(
            Answer(
                body=body,
                connection=connection,
                to_verkey=to_verkey,
                to_endpoint=endpoint if connection is None else "",
                to_routing_keys=tuple(routing_keys) if connection is None else (),
            )
        )


Handler = Callable[[Context], dict[str, Any] | None]


def problem(*, thid: str, code: str, explanation: str, impact: str = "message") -> dict[str, Any]:
    """The agent's own RFC 0035 problem report, outside any protocol that has one (an unknown message type, a bad
    basic message, a deactivated or moved twin): ``notification/1.0/problem-report``, the type ACA-Py 1.7 handles
    (it logs "Received problem report" and raises its ``problem_report`` webhook), where it logs
    ``report-problem/1.0`` as "Unrecognized message type" and drops it, so its controller never learns why.
    ``impact`` (RFC 0035): ``message`` (this message only), ``thread`` or ``connection`` (nothing on it works).
    The protocols with their own report (DID Exchange, DID Rotate, issue-credential) use theirs."""
    return problem_report(thid=thid, code=code, explanation=explanation, key=NOTIFICATION_PROBLEM_REPORT, impact=impact)


def is_problem_report(message_type: str) -> bool:
    """Whether a message type is a problem report (any protocol's): one is never answered with another."""
    key = message_type_key(message_type) or message_type
    return key.rsplit("/", 1)[-1] in ("problem-report", "problem_report")


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
    return new_message(PING_RESPONSE, **{"~thread": thread(ctx.message.message_id)})


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
        return problem(
            thid=ctx.message.message_id, code="invalid-message", explanation="basic message needs a content string"
        )
    return None


def problem_report_received(ctx: Context) -> None:
    """Stored for the owner; nothing to answer (answering a problem report with one would loop)."""
    return None
