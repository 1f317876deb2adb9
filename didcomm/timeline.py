"""What the owner learns of their agents' messages: a signed history entry for everything a twin's agent
receives over a connection (its texts capped: :func:`history_text`), an inbox notification for the messages a
person should read (basic messages, problem reports), and a live push to the twin's open private page.

:func:`record_inbound` runs inside :func:`didcomm.inbound.inbound_receive`'s transaction, after dispatch: a
duplicate ``@id`` never gets there (its insert fails first), a rollback takes the entry and the notification
with it, and the pushes go out only after commit (core.live).
"""

from __future__ import annotations

import hashlib
from typing import Any

from core.live import broadcast_after_commit
from didcomm.handlers import is_problem_report
from didcomm.models import Connection, InboundMessage, OutboundMessage
from owners.models import Notification
from owners.services import notify
from ssi import messages
from twins.history import history_append
from twins.models import HistoryEntry, Twin

# Names for the message types an owner meets, by their ssi.messages.message_type_key.
KIND_NAMES = {
    messages.BASIC_MESSAGE: "Message",
    messages.PING: "Trust ping",
    messages.PING_RESPONSE: "Ping response",
    messages.PROBLEM_REPORT: "Problem report",
    messages.NOTIFICATION_PROBLEM_REPORT: "Problem report",
    messages.DIDEXCHANGE_REQUEST: "Connection request",
    messages.DIDEXCHANGE_RESPONSE: "Connection response",
    messages.DIDEXCHANGE_COMPLETE: "Connection complete",
    messages.DIDEXCHANGE_PROBLEM_REPORT: "Connection problem",
    messages.ROTATE: "DID rotation",
    messages.ROTATE_ACK: "DID rotation acknowledged",
    messages.ROTATE_PROBLEM_REPORT: "DID rotation problem",
    messages.ROTATE_HANGUP: "Hang-up",
}
# What a problem report of a protocol without a name above is called (any ``.../problem-report`` type, RFC 0035).
PROBLEM_KIND = "Problem report"
# The problem codes an owner meets most, in words: ours (didcomm.inbound, didcomm.dispatch, didcomm.handlers) and
# ACA-Py's. A report's own explanation follows them; a code not here is shown as it came, with the explanation.
PROBLEM_WORDS = {
    "thing-moved": "The thing has moved to another host",
    "twin-deactivated": "The thing was deactivated",
    "unsupported-message-type": "The other agent does not understand this kind of message",
    "invalid-message": "The other agent could not use this message",
    "message-parse-failure": "The other agent could not read this message",
    "request_not_accepted": "The connection request was not accepted",
    "response_not_accepted": "The connection response was not accepted",
    "complete_not_accepted": "The connection could not be completed",
    "e.did.unresolvable": "The new DID of the other side could not be resolved",
    "e.did.rotate_not_authorised": "The DID change did not come from the other side of the connection",
}
# What a history entry keeps of a message's text (a basic message's content, a problem report's code and
# explanation); beyond it, the start and the hash of the whole (history_text).
HISTORY_TEXT_MAX_BYTES = 4096
# How the inbox item of a peer's problem report starts (a twin's move takes these items along: didcomm.portability).
PROBLEM_TITLE = "Problem report from"
# Notification.title and .body limits.
TITLE_MAX = 200
BODY_MAX = 4000


def _problem(body: dict[str, Any]) -> tuple[str, str]:
    """RFC 0035 ``description: {code, en}`` (code and English text, either may be missing)."""
    description = body.get("description")
    if not isinstance(description, dict):
        return "", ""
    code, text = description.get("code"), description.get("en")
    return (code if isinstance(code, str) else ""), (text if isinstance(text, str) else "")


def problem_text(body: dict[str, Any]) -> str:
    """A problem report in words: what its code means (:data:`PROBLEM_WORDS`) and its explanation, or for a code
    we have no words for, the code and the explanation as they came."""
    code, text = _problem(body)
    words = PROBLEM_WORDS.get(code)
    if words:
        return f"{words}: {text}" if text else f"{words}."
    return ": ".join(part for part in (code, text) if part)


def describe(message_type: str, body: dict[str, Any]) -> tuple[str, str]:
    """A short name of the message's kind and its text for a person (a basic message's content, a problem
    report in words), for the activity lists: received and sent alike."""
    key = messages.message_type_key(message_type)
    problem = is_problem_report(message_type)
    kind = KIND_NAMES.get(key or "") or (PROBLEM_KIND if problem else (key or message_type).rsplit("/", 1)[-1])
    if key == messages.BASIC_MESSAGE:
        content = body.get("content")
        return kind, content if isinstance(content, str) else ""
    if problem:
        return kind, problem_text(body)
    return kind, ""


def peer_name(connection: Connection | None) -> str:
    if connection is None:
        return "an agent without a connection"
    return connection.their_label or connection.their_did or "a peer without a label"


def history_content(message: InboundMessage) -> dict[str, Any]:
    """What the twin's history entry commits to: the message's type and @id, who sent it (the connection's
    label and DID, and the sender key), and for a basic message its content, for a problem report its code."""
    connection = message.connection
    content: dict[str, Any] = {
        "received": message.type,
        "id": message.message_id,
        "from": {
            "label": connection.their_label if connection is not None else "",
            "did": connection.their_did if connection is not None else "",
            "key": message.sender_verkey,
        },
    }
    key = messages.message_type_key(message.type)
    if key == messages.BASIC_MESSAGE and isinstance(message.body.get("content"), str):
        content.update(history_text(message.body["content"]))
    elif is_problem_report(message.type):
        code, text = _problem(message.body)
        content.update(history_text(code, "code"))
        content.update(history_text(text, "explanation"))
    return content


def history_text(text: str, name: str = "content") -> dict[str, Any]:
    """``{name: text}``, or for a text over :data:`HISTORY_TEXT_MAX_BYTES` of UTF-8 its start (cut on a
    character boundary) with the SHA-256 and length of the whole: the entry commits to the full text (whoever
    holds the message can show it is the one recorded) while a peer cannot grow the twin's history, and every
    export of it, by what it sends. The full message stays with the agent (InboundMessage) for its owner."""
    data = text.encode("utf-8")
    if len(data) <= HISTORY_TEXT_MAX_BYTES:
        return {name: text}
    return {
        name: data[:HISTORY_TEXT_MAX_BYTES].decode("utf-8", "ignore"),
        f"{name}_sha256": hashlib.sha256(data).hexdigest(),
        f"{name}_bytes": len(data),
    }


def _notification(message: InboundMessage, twin: Twin | None) -> tuple[str, str, str] | None:
    """(kind, title, body) of the inbox item a message deserves, or None."""
    key = messages.message_type_key(message.type)
    to = f" to {twin.name}" if twin is not None else ""
    peer = peer_name(message.connection)
    if key == messages.BASIC_MESSAGE:
        content = message.body.get("content")
        if not isinstance(content, str):
            return None  # refused with a problem report (handlers.basic_message); nothing to read
        return Notification.Kind.AGENT, f"Message from {peer}{to}", content
    if is_problem_report(message.type):
        code, text = _problem(message.body)
        title = f"{PROBLEM_TITLE} {peer}{to}" + (f": {code}" if code else "")
        # The code is in the title: the body is the explanation, after the code's words when we have them.
        return Notification.Kind.SYSTEM, title, problem_text(message.body) if code in PROBLEM_WORDS else text
    return None


def record_inbound(message: InboundMessage) -> None:
    """Record a message one of our agents just received and dispatched (see the module docstring).

    Only what came over a connection: a handshake that made none (a refused DID Exchange request, the one kind
    of message taken from a stranger, didcomm.inbound) is neither history nor news. A deactivated twin's agent
    takes nothing (didcomm.inbound); if the twin was deactivated meanwhile, its history raises TwinDeactivated
    and the receipt rolls back."""
    if message.connection is None:
        return
    agent = message.agent
    twin = agent.twin if agent.twin_id is not None else None
    if twin is not None:
        history_append(twin=twin, kind=HistoryEntry.Kind.MESSAGE, content=history_content(message), ref_id=message.pk)
    notification = _notification(message, twin)
    if notification is not None:
        kind, title, body = notification
        notify(
            owner=twin.owner if twin is not None else agent.owner,
            kind=kind,
            title=_cut(title, TITLE_MAX),
            body=_cut(body, BODY_MAX),
            twin=twin,
            sender_name=_cut(peer_name(message.connection), 100),
        )
    if twin is not None:
        broadcast_after_commit(owner_id=twin.owner_id, twin_id=twin.pk, event=agent_event(twin))


def record_outbound(message: OutboundMessage) -> None:
    """A message an owner sent from a Connections page: the twin's open private page shows it (sent messages
    are not history: the history records what the twin received)."""
    twin = message.agent.twin if message.agent.twin_id is not None else None
    if twin is not None:
        broadcast_after_commit(owner_id=twin.owner_id, twin_id=twin.pk, event=agent_event(twin))


def agent_event(twin: Twin) -> dict[str, Any]:
    """The live push for new agent activity (core.live): the private page fetches its section again."""
    return {"kind": "agent", "thing": twin.slug}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
