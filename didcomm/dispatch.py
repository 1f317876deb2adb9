"""The one table that routes a received message's ``@type`` to its handler (STYLE: protocol endpoints)."""

from __future__ import annotations

from typing import Any

from didcomm import exchange, handlers, rotate
from didcomm.handlers import Context, Handler
from ssi import messages

HANDLERS: dict[str, Handler] = {
    messages.PING: handlers.trust_ping,
    messages.PING_RESPONSE: handlers.trust_ping_response,
    messages.BASIC_MESSAGE: handlers.basic_message,
    messages.PROBLEM_REPORT: handlers.problem_report_received,
    messages.NOTIFICATION_PROBLEM_REPORT: handlers.problem_report_received,
    messages.DIDEXCHANGE_REQUEST: exchange.request_receive,
    messages.DIDEXCHANGE_RESPONSE: exchange.response_receive,
    messages.DIDEXCHANGE_COMPLETE: exchange.complete_receive,
    messages.DIDEXCHANGE_PROBLEM_REPORT: exchange.problem_report_receive,
    messages.ROTATE: rotate.rotate_receive,
    messages.ROTATE_ACK: rotate.ack_receive,
    messages.ROTATE_PROBLEM_REPORT: rotate.problem_report_receive,
    messages.ROTATE_HANGUP: rotate.hangup_receive,
}


def register_handler(key: str, handler: Handler) -> None:
    """Route message type ``key`` (``family/1.0/name``, or ``thingstead:family/1.0/name`` for our own protocols)
    to ``handler``: how a feature built on the agents (sharing, makers) adds its protocols from its
    ``AppConfig.ready()``. Registering the same handler again is a no-op; a second handler for a key is a bug."""
    existing = HANDLERS.get(key)
    if existing is not None and existing is not handler:
        raise ValueError(f"message type {key} already has a handler")
    HANDLERS[key] = handler


def dispatch(ctx: Context) -> dict[str, Any] | None:
    """Route by ``@type``; an unknown type gets an RFC 0035 problem report, never an error page."""
    key = messages.message_type_key(ctx.message.type)
    handler = HANDLERS.get(key) if key is not None else None
    if handler is None:
        return handlers.problem(
            thid=ctx.message.message_id,
            code="unsupported-message-type",
            explanation=f"message type {ctx.message.type[:200]} is not supported",
        )
    return handler(ctx)
