"""The redactor of a twin's "Agent message" history entries (twins.history.register_redactor, Kind.MESSAGE).

When the seller removes those entries at a sale, the words behind them go too: what the thing's agent received
(basic messages, problem reports: the kinds whose text an entry holds, didcomm.timeline.history_content) and what
the seller sent from it (basic messages already delivered or given up; those still queued go out as she wrote
them). The rows stay, stripped to their ``@id``, ``@type`` and ``~thread``: a received message is taken once per
``@id`` (SECURITY 14), so a replay of one the seller received is still refused, and a thread a protocol or a
support case follows still names its messages. Nothing of the agent's protocol state (connections, keys, pending
rotations, recall notices, grant requests, introductions) is touched.

The buyer does not read the seller's messages in any case: the activity lists start at the current owner's
``owner_since`` (didcomm.selectors); this removes them from the database too, as she asked.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from didcomm.handlers import is_problem_report
from didcomm.models import InboundMessage, OutboundMessage
from ssi import messages
from twins.models import Twin

# What a stripped message keeps: its identity and its thread (ids only, no words).
KEPT = ("@id", "@type", "~thread")
BATCH = 500


def _has_words(message_type: str) -> bool:
    return messages.message_type_key(message_type) == messages.BASIC_MESSAGE or is_problem_report(message_type)


def _stripped(body: Any) -> dict[str, Any]:
    return {name: body[name] for name in KEPT if isinstance(body, dict) and name in body}


def _strip(rows: QuerySet) -> int:
    changed = []
    for row in rows.only("id", "type", "body").iterator(chunk_size=BATCH):
        if _has_words(row.type) and row.body != _stripped(row.body):
            row.body = _stripped(row.body)
            changed.append(row)
    rows.model.objects.bulk_update(changed, ["body"], batch_size=BATCH)
    return len(changed)


def messages_remove(twin: Twin) -> None:
    """Kind.MESSAGE's redactor, in the sale's transaction (before the thing changes hands): every message of the
    twin's agent so far is the seller's."""
    _strip(InboundMessage.objects.filter(agent__twin=twin))
    _strip(OutboundMessage.objects.filter(agent__twin=twin).exclude(status=OutboundMessage.Status.QUEUED))
