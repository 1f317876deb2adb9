"""The outbox's writers: what a grant covers of an event is written to its OPEN outbox item in the event's own
transaction (twins.events subscribers with ``in_transaction=True``, wired by sharing.grants.connect), so a
rolled-back change leaves nothing to send and a committed one always has its item (SECURITY 39). The delivery
worker (sharing.delivery) sends an item once its batching window has closed.

Batching: a grant's events of one data kind within ``SHARING_BATCH_SECONDS`` join one item (locked with SELECT
... FOR UPDATE while it grows, so concurrent events append one after the other and the worker, which takes the
same lock to close it, sees all of them). A thing sending 10 readings a second to 3 parties costs 3 items per
window, not 30 rows a second.

Items carry what the grant permits and nothing more: a reading's id, kind, value, unit and time; a scan's time
(no address, no user agent: none is stored either); a journal entry's id, title, text, time and action.

Cost when the twin has no grant: one query on the (twin, revoked_at) index, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from didcomm.models import Connection
from sharing import kinds as data_kinds
from sharing.models import Grant, OutboxItem
from twins.events import JournalChanged, ReadingsStored, ScanRecorded
from twins.models import JournalNote, Reading

# The clock the collectors read; tests replace it (a frozen or stepped time), nothing else should.
now = timezone.now

# Items per outbox item: a burst (a 1,000-reading batch) fills several, so no message grows without bound and an
# append never rewrites more than this much JSON.
MAX_ITEMS = 1000

# Statuses of an item not yet sent: what revoking or expiring a grant stops at once.
UNDELIVERED = (OutboxItem.Status.OPEN, OutboxItem.Status.PENDING)


def batch_window() -> timedelta:
    return timedelta(seconds=getattr(settings, "SHARING_BATCH_SECONDS", 5))


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Whether the twin has any grant not revoked: what every stored reading, scan and journal entry asks, in the
# writer's transaction, and for most things the answer is no. Plain SQL on the (twin, revoked_at) index: building the
# ORM query for the full answer cost more than the query itself and halved the ingest gateway's single webhooks
# (bench/ingest.py).
_ANY_GRANT = "SELECT 1 FROM sharing_grant WHERE twin_id = %s AND revoked_at IS NULL LIMIT 1"


def grants_for(twin_id: int, at: datetime) -> list[Grant]:
    """The grants of the twin that may receive something now: active, and their party still there (a webhook
    endpoint not disabled, a connection not removed). One query for a twin without grants, two otherwise."""
    with connection.cursor() as cursor:
        cursor.execute(_ANY_GRANT, [twin_id])
        if cursor.fetchone() is None:
            return []
    rows = (
        Grant.objects.active(at)
        .filter(twin_id=twin_id)
        .select_related("endpoint", "connection")
        .only("id", "twin_id", "kinds", "expires_at", "endpoint__disabled_at", "connection__state")
        .order_by()
    )
    return [
        grant
        for grant in rows
        if (grant.endpoint_id is None or grant.endpoint.disabled_at is None)
        and (grant.connection_id is None or grant.connection.state != Connection.State.ABANDONED)
    ]


def _add(grant: Grant, kind: str, items: list[dict[str, Any]], count: int, at: datetime) -> None:
    """Append `items` (standing for `count` events) to the grant's open item of `kind`, or open a new one."""
    open_item = (
        OutboxItem.objects.select_for_update()
        .filter(grant=grant, kind=kind, status=OutboxItem.Status.OPEN, window_ends_at__gt=at)
        .order_by("-id")
        .first()
    )
    if open_item is not None and len(open_item.payload.get("items", [])) + len(items) <= MAX_ITEMS:
        open_item.payload.setdefault("items", []).extend(items)
        open_item.count += count
        open_item.save(update_fields=["payload", "count"])
        return
    window_ends_at = at + batch_window()
    for start in range(0, max(len(items), 1), MAX_ITEMS):
        chunk = items[start : start + MAX_ITEMS]
        OutboxItem.objects.create(
            grant=grant,
            twin_id=grant.twin_id,
            kind=kind,
            payload={"items": chunk},
            count=count if len(items) <= MAX_ITEMS else len(chunk),
            status=OutboxItem.Status.OPEN,
            window_ends_at=window_ends_at,
            # The worker's due index (status, next_attempt_at) finds it when the window closes.
            next_attempt_at=window_ends_at,
        )


def reading_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "value": row["value"],
        "unit": row["unit"],
        "time": _time(row["time"]),
    }


def on_readings_stored(event: ReadingsStored) -> None:
    at = now()
    grants = grants_for(event.twin_id, at)
    if not grants or not event.reading_ids:
        return
    rows = list(
        Reading.objects.filter(pk__in=event.reading_ids)
        .order_by("time", "id")
        .values("id", "kind", "value", "unit", "time")
    )
    for grant in grants:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if data_kinds.covers_reading(grant.kinds, row["kind"]):
                by_kind.setdefault(data_kinds.reading_data_kind(row["kind"]), []).append(reading_item(row))
        for kind, items in by_kind.items():
            _add(grant, kind, items, len(items), at)


def on_scan_recorded(event: ScanRecorded) -> None:
    at = now()
    grants = [grant for grant in grants_for(event.twin_id, at) if data_kinds.covers(grant.kinds, data_kinds.SCANS)]
    if not grants:
        return
    # Scan rows are the tags feature's; the event says how many and when (now: buffered scans are written within
    # seconds of happening). Nothing about who scanned is kept, so nothing can be shared.
    item = {"time": _time(at), "count": event.count, "by_owner": event.by_owner}
    for grant in grants:
        _add(grant, data_kinds.SCANS, [item], event.count, at)


def journal_item(note: dict[str, Any] | None, event: JournalChanged, at: datetime) -> dict[str, Any]:
    if event.action == "delete" or note is None:
        return {"id": event.note_id, "action": "delete", "time": _time(at)}
    return {
        "id": event.note_id,
        "action": event.action,
        "title": note["title"],
        "text": note["text"],
        "time": _time(note["time"]),
    }


def on_journal_changed(event: JournalChanged) -> None:
    at = now()
    grants = [grant for grant in grants_for(event.twin_id, at) if data_kinds.covers(grant.kinds, data_kinds.JOURNAL)]
    if not grants:
        return
    note = JournalNote.objects.filter(pk=event.note_id).values("title", "text", "time").first()
    item = journal_item(note, event, at)
    for grant in grants:
        _add(grant, data_kinds.JOURNAL, [item], 1, at)


# --- Stopping what was not sent ------------------------------------------------------------------------------


def undelivered(grants: Iterable[Grant] | QuerySet[Grant]) -> QuerySet[OutboxItem]:
    return OutboxItem.objects.filter(grant__in=grants, status__in=UNDELIVERED)


def outbox_cancel(grants: Iterable[Grant] | QuerySet[Grant], *, reason: str) -> int:
    """Cancel every item of `grants` not yet sent (OPEN or PENDING), in the caller's transaction; returns how
    many. An item a worker is sending right now (SENDING) is the worker's: it re-checks the grant first."""
    return undelivered(grants).update(status=OutboxItem.Status.CANCELLED, last_error=reason[:300])


def outbox_narrow(grant: Grant) -> None:
    """After a grant's kinds changed: drop from its unsent items what it no longer covers (an item left empty is
    cancelled)."""
    for item in undelivered([grant]).select_for_update():
        if item.kind in data_kinds.READING_DATA_KINDS:
            kept = [
                i for i in item.payload.get("items", []) if data_kinds.covers_reading(grant.kinds, i.get("kind", ""))
            ]
        else:
            kept = item.payload.get("items", []) if data_kinds.covers(grant.kinds, item.kind) else []
        if not kept:
            item.status = OutboxItem.Status.CANCELLED
            item.last_error = "no longer granted"
            item.save(update_fields=["status", "last_error"])
        elif len(kept) != len(item.payload.get("items", [])):
            item.payload = {**item.payload, "items": kept}
            item.count = len(kept)
            item.save(update_fields=["payload", "count"])
