"""Appending to a twin's signed history (ssi.history) and redacting entries.

Appends are serialized per twin by a row lock on the twin (SELECT ... FOR UPDATE on PostgreSQL; SQLite
serializes writers anyway), so two concurrent appends never read the same head and fork the chain; the
(twin, seq) unique constraint backs that up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from ssi import history as chain
from ssi import webvh
from twins.identity import agent_key
from twins.models import HistoryEntry, Twin


class TwinDeactivated(Exception):
    """The twin's DID is deactivated: nothing may be appended any more (SECURITY 10: 409)."""

    message = "This twin has been deactivated: it no longer accepts readings, notes, tags or transfers."


def lock_twin(twin: Twin) -> Twin:
    """Take the twin's row lock for the rest of the transaction and return the fresh row."""
    return Twin.objects.select_for_update().get(pk=twin.pk)


def _head(twin: Twin) -> HistoryEntry | None:
    return HistoryEntry.objects.filter(twin=twin).order_by("-seq").first()


def _time_after(*times: datetime | None) -> datetime:
    """Now, or later if needed: history times never decrease, and an entry must not predate the DID log
    version whose key signs it (versionTime has whole seconds and may be a second or two ahead)."""
    return max(t for t in (datetime.now(UTC), *times) if t is not None)


def scid_of(twin: Twin) -> str:
    return webvh.parse_did(twin.did).scid


def history_append(
    *,
    twin: Twin,
    kind: str,
    content: Any,
    ref_id: int | None = None,
    not_before: datetime | None = None,
    locked: bool = False,
) -> HistoryEntry | None:
    """Append one signed entry committing to `content`. A twin without an identity yet records nothing.

    `not_before`: right after a key rotation, the versionTime of the log entry that introduced the key.
    `locked`: `twin` is the fresh row from :func:`lock_twin` in this transaction (no second lock, no savepoint).
    """
    if locked:
        return _append(twin, kind, content, ref_id, not_before)
    with transaction.atomic():
        return _append(lock_twin(twin), kind, content, ref_id, not_before)


def _append(
    locked: Twin, kind: str, content: Any, ref_id: int | None, not_before: datetime | None
) -> HistoryEntry | None:
    if locked.deactivated_at is not None:
        raise TwinDeactivated(TwinDeactivated.message)
    if not locked.did:
        return None
    head = _head(locked)
    time = _time_after(head.time if head else None, not_before)
    entry = chain.append(
        head.entry if head else None,
        content=content,
        kind=str(kind),
        key=agent_key(locked),
        scid=scid_of(locked),
        time=time,
    )
    return HistoryEntry.objects.create(
        twin=locked, seq=entry["seq"], kind=str(kind), time=time, entry=entry, ref_id=ref_id
    )


@transaction.atomic
def history_redact(*, twin: Twin, kinds: list[str] | None = None, ref_id: int | None = None) -> int:
    """Drop content and salt of the matching entries; their hashes stay, so the chain still verifies."""
    qs = HistoryEntry.objects.filter(twin=twin, redacted=False)
    if kinds is not None:
        qs = qs.filter(kind__in=kinds)
    if ref_id is not None:
        qs = qs.filter(ref_id=ref_id)
    count = 0
    for item in qs.only("pk", "entry"):
        item.entry = chain.redact(item.entry)
        item.redacted = True
        item.save(update_fields=["entry", "redacted"])
        count += 1
    return count


def history_entries(twin: Twin) -> list[dict[str, Any]]:
    return list(HistoryEntry.objects.filter(twin=twin).order_by("seq").values_list("entry", flat=True))
