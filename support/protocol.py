"""The support protocol's messages (README "Thingstead message types": ``support/1.0``), and what receiving one
checks. Plain data in and out: no Django here, so the rules read in one place.

A case is a thread: its ``open``'s ``@id`` is the ``thid`` of every later message (RFC 0008). Attachments follow
Aries RFC 0017: ``~attach`` items with ``data.base64`` (inline) or ``data.links`` (linked, with ``sha256``); we
send photos inline and keep linked ones as links (never fetched by the server: the owner's browser may follow
them). A peer running a plain Aries agent gets RFC 0095 basic messages on the same thread instead
(:func:`as_basic_message`), their text carrying what the Thingstead message would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from typing import Any

from ssi import messages

OPEN = "thingstead:support/1.0/open"
REPLY = "thingstead:support/1.0/reply"
ASK = "thingstead:support/1.0/ask"
PROVIDE = "thingstead:support/1.0/provide"
DECLINE = "thingstead:support/1.0/decline"
STATUS = "thingstead:support/1.0/status"
READ = "thingstead:support/1.0/read"
TYPES = (OPEN, REPLY, ASK, PROVIDE, DECLINE, STATUS, READ)

# What a case may carry (each message): text, attachments, context.
MAX_TEXT = 10_000
MAX_SUBJECT = 200
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 1_500_000  # inline, decoded; an envelope is at most 2.5 MB (didcomm.transport)
# What one message's inline attachments may weigh together, decoded, when we send it: base64 inside the message and
# again around its ciphertext make an envelope ~1.8x its attachments, and POST /didcomm/ reads at most 1 MiB
# (didcomm.views.MAX_BODY), as a Thingstead party's endpoint does.
MAX_INLINE_SENT_BYTES = 520_000
MAX_CONTEXT_ITEMS = 200  # readings and journal entries together
MAX_ASKS = 20
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
ATTACHMENT_TYPES = IMAGE_TYPES | {"application/json", "text/plain", "application/pdf"}
STATUSES = ("open", "resolved")


class ProtocolError(ValueError):
    """A message that breaks these rules; ``str(exc)`` is the explanation its sender gets."""


def attachment_inline(*, attach_id: str, mime_type: str, filename: str, data: bytes, description: str = "") -> dict:
    """An RFC 0017 attachment with its content inline (base64) and its SHA-256, as the RFC's ``data`` names it."""
    item = {
        "@id": attach_id,
        "mime-type": mime_type,
        "filename": filename,
        "byte_count": len(data),
        "data": {"base64": base64.b64encode(data).decode("ascii"), "sha256": hashlib.sha256(data).hexdigest()},
    }
    if description:
        item["description"] = description
    return item


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError(f"{name} must be a string")
    if len(value) > limit:
        raise ProtocolError(f"{name} is longer than {limit} characters")
    return value


def check_attachments(raw: object) -> list[dict[str, Any]]:
    """The message's ``~attach`` items, checked (RFC 0017): each an object with an ``@id``, a mime type we show,
    and ``data`` holding either ``base64`` that decodes to at most MAX_ATTACHMENT_BYTES (matching ``sha256`` and
    ``byte_count`` when given) or ``links`` (https) with a ``sha256``. Returned as stored."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ProtocolError("~attach must be a list")
    if len(raw) > MAX_ATTACHMENTS:
        raise ProtocolError(f"at most {MAX_ATTACHMENTS} attachments")
    checked = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            raise ProtocolError("each attachment needs a data object")
        attach_id = item.get("@id", "")
        mime = item.get("mime-type", "application/octet-stream")
        if not isinstance(attach_id, str) or not isinstance(mime, str) or len(attach_id) > 100:
            raise ProtocolError("an attachment's @id and mime-type are strings")
        if mime not in ATTACHMENT_TYPES:
            raise ProtocolError(f"attachment type {mime[:60]} is not taken")
        filename = item.get("filename", "")
        filename = filename[:200] if isinstance(filename, str) else ""
        description = item.get("description", "")
        description = description[:500] if isinstance(description, str) else ""
        data = item["data"]
        stored: dict[str, Any] = {"@id": attach_id, "mime-type": mime, "filename": filename}
        if description:
            stored["description"] = description
        if "base64" in data:
            try:
                content = base64.b64decode(data["base64"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ProtocolError("an attachment's base64 does not decode") from None
            if len(content) > MAX_ATTACHMENT_BYTES:
                raise ProtocolError(f"an attachment is larger than {MAX_ATTACHMENT_BYTES} bytes")
            digest = hashlib.sha256(content).hexdigest()
            if data.get("sha256") not in (None, digest):
                raise ProtocolError("an attachment's sha256 does not match its content")
            if item.get("byte_count") not in (None, len(content)):
                raise ProtocolError("an attachment's byte_count does not match its content")
            stored["byte_count"] = len(content)
            stored["data"] = {"base64": base64.b64encode(content).decode("ascii"), "sha256": digest}
        elif "links" in data:
            links = data["links"]
            if (
                not isinstance(links, list)
                or not links
                or not all(
                    isinstance(link, str) and link.startswith("https://") and len(link) <= 2000 for link in links
                )
            ):
                raise ProtocolError("an attachment's links are https:// URLs")
            if not isinstance(data.get("sha256"), str):
                raise ProtocolError("a linked attachment needs its sha256")
            stored["data"] = {"links": links[:5], "sha256": data["sha256"][:64]}
            if isinstance(item.get("byte_count"), int):
                stored["byte_count"] = item["byte_count"]
        else:
            raise ProtocolError("an attachment's data holds base64 or links")
        checked.append(stored)
    return checked


def check_context(raw: object) -> dict[str, Any]:
    """What the owner attached as data (``context``): ``model``, ``serial``, ``firmware`` (strings or a model
    object), ``readings`` ({kind: [{time, value, unit}]}) and ``journal`` ([{title, text, time}]). Anything else
    in it is dropped, as unknown fields are."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProtocolError("context must be an object")
    out: dict[str, Any] = {}
    model = raw.get("model")
    if isinstance(model, dict):
        out["model"] = {k: str(v)[:120] for k, v in model.items() if k in ("name", "gtin") and isinstance(v, str)}
    elif isinstance(model, str):
        out["model"] = {"name": model[:120]}
    for name in ("serial", "firmware"):
        if isinstance(raw.get(name), str):
            out[name] = raw[name][:120]
    count = 0
    readings = raw.get("readings")
    if isinstance(readings, dict):
        out["readings"] = {}
        if len(readings) > MAX_ASKS:
            raise ProtocolError(f"context readings name at most {MAX_ASKS} kinds")
        for kind, rows in readings.items():
            if not isinstance(kind, str) or not isinstance(rows, list):
                raise ProtocolError("context readings are lists by kind")
            kept = []
            for row in rows:
                count += 1
                if count > MAX_CONTEXT_ITEMS:
                    raise ProtocolError(f"at most {MAX_CONTEXT_ITEMS} readings and journal entries")
                if not isinstance(row, dict) or not isinstance(row.get("value"), (int, float)):
                    raise ProtocolError("a reading needs a numeric value")
                kept.append(
                    {
                        "time": str(row.get("time", ""))[:40],
                        "value": row["value"],
                        "unit": str(row.get("unit", ""))[:20],
                    }
                )
            out["readings"][kind[:40]] = kept
    journal = raw.get("journal")
    if isinstance(journal, list):
        out["journal"] = []
        for row in journal:
            count += 1
            if count > MAX_CONTEXT_ITEMS:
                raise ProtocolError(f"at most {MAX_CONTEXT_ITEMS} readings and journal entries")
            if not isinstance(row, dict):
                raise ProtocolError("a journal entry is an object")
            out["journal"].append(
                {
                    "title": str(row.get("title", ""))[:200],
                    "text": str(row.get("text", ""))[:MAX_TEXT],
                    "time": str(row.get("time", ""))[:40],
                }
            )
    return out


def parse(key: str, body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a received support message (``key``: its type key), checked; ProtocolError otherwise.

    Returns ``thid`` (the case's thread: the ``@id`` for an ``open``), ``content``, and per type ``subject``,
    ``context``, ``attachments``, ``asks``, ``status``, ``read``."""
    thid, _ = messages.thread_of(body)
    if key == OPEN:
        thid = body["@id"]
    elif not thid:
        raise ProtocolError("a support message needs ~thread.thid naming its case")
    out: dict[str, Any] = {"thid": thid, "content": _text(body, "content", MAX_TEXT)}
    if key == OPEN:
        out["subject"] = _text(body, "subject", MAX_SUBJECT).strip() or out["content"][:80].strip()
        if not out["subject"]:
            raise ProtocolError("an open needs a subject or content")
    if key in (OPEN, PROVIDE, REPLY):
        out["context"] = check_context(body.get("context"))
        out["attachments"] = check_attachments(body.get("~attach"))
    if key == ASK:
        asks = body.get("asks", [])
        if not isinstance(asks, list) or len(asks) > MAX_ASKS or not all(isinstance(a, str) for a in asks):
            raise ProtocolError(f"asks is a list of at most {MAX_ASKS} strings")
        out["asks"] = [a[:60] for a in asks]
    if key == STATUS:
        if body.get("status") not in STATUSES:
            raise ProtocolError(f"status is one of {', '.join(STATUSES)}")
        out["status"] = body["status"]
    if key == READ:
        read = body.get("read")
        if not isinstance(read, list) or len(read) > 500 or not all(isinstance(r, str) for r in read):
            raise ProtocolError("read is a list of message ids")
        out["read"] = read
    return out


# -- plain Aries agents: RFC 0095 ----------------------------------------------------------------------------------


def context_text(context: dict[str, Any]) -> str:
    """What a context says, as lines a person reads (a basic message carries no structure)."""
    lines = []
    model = context.get("model")
    if isinstance(model, dict) and model:
        lines.append(
            "Model: "
            + " ".join(v for v in (model.get("name", ""), f"(GTIN {model['gtin']})" if model.get("gtin") else "") if v)
        )
    if context.get("serial"):
        lines.append(f"Serial: {context['serial']}")
    if context.get("firmware"):
        lines.append(f"Firmware: {context['firmware']}")
    for kind, rows in (context.get("readings") or {}).items():
        shown = ", ".join(
            f"{row['value']:g} {row.get('unit', '')}".strip() + f" at {row.get('time', '')}" for row in rows[:20]
        )
        lines.append(f"Readings of {kind}: {shown}" + (f" and {len(rows) - 20} more" if len(rows) > 20 else ""))
    for entry in context.get("journal") or []:
        lines.append(f"Journal {entry.get('time', '')[:16]}: {entry.get('title', '')}: {entry.get('text', '')}")
    return "\n".join(lines)


def as_basic_message(body: dict[str, Any], *, thid: str, sent_time: str) -> dict[str, Any]:
    """The RFC 0095 basic message that carries support message ``body`` to a plain Aries agent, on the case's
    thread, with the same attachments (an agent that does not read ``~attach`` ignores it, as RFC 0011 says of
    decorators)."""
    key = messages.message_type_key(body["@type"])
    parts = []
    if key == OPEN:
        parts.append(f"Support case: {body.get('subject', '')}")
    elif key == ASK:
        parts.append("Could you send more: " + ", ".join(body.get("asks", [])))
    elif key == DECLINE:
        parts.append("(The owner declined to send more.)")
    elif key == STATUS:
        parts.append(f"(Case {body.get('status')}.)")
    if body.get("content"):
        parts.append(body["content"])
    context = context_text(body.get("context") or {})
    if context:
        parts.append(context)
    attached = body.get("~attach") or []
    if attached:
        parts.append("Attached: " + ", ".join(item.get("filename") or item.get("@id", "") for item in attached))
    basic = {
        "@type": messages.message_type_uri(messages.BASIC_MESSAGE),
        "@id": str(uuid.uuid4()),
        "~thread": messages.thread(thid),
        "content": "\n\n".join(part for part in parts if part),
        "sent_time": sent_time,
    }
    if attached:
        basic["~attach"] = attached
    return basic
