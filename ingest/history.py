"""Small messages' readings into the signed history, after the fact.

A small message (at most :data:`DEFER_AT_MOST` readings, so every single reading) is acknowledged as soon as its
readings commit, together with a :class:`~ingest.models.PendingReadings` row per thing; the history entry follows
from the task worker, usually within a second. The 2xx therefore still means "stored": the readings are
committed, and the history entry committing to them cannot be lost:

- the pending rows are in the same transaction as the readings, and leave only in the transaction that appends
  their entry (under the thing's row lock), so a crash of the request, the worker or the database at any point
  leaves them pending;
- the flush is asked for through a :class:`~ingest.models.HistoryFlush` row per thing: the message that creates
  it enqueues :func:`flush_history` after commit, later messages see it and leave their readings to that task.
  If the enqueue is lost (the process died right after COMMIT) the row grows stale, and the next message for the
  thing after :data:`STALE_AFTER` enqueues again; every flush also takes the stale rows of other things;
- any other append to the thing's history (a batch, a note, a scan, a transfer, a deactivation, an export's
  scan catch-up) first appends its pending readings (twins.history catch-up), so the history never places a
  later event before a reading committed earlier, and a transfer or deactivation never leaves one out;
- `python manage.py ingest_history` appends every thing's pending readings now (after a crash with no traffic).

One entry per flush and thing: one pending reading gets exactly the entry a manual reading gets, several get
one entry listing them all (the shape of a batch's entry), at most :data:`MAX_PER_ENTRY` per entry.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.tasks import task
from django.utils import timezone

from ingest.models import HistoryFlush, PendingReadings
from twins.history import TwinDeactivated, history_catch_up
from twins.models import HistoryEntry, Reading, Twin
from twins.services import _reading_content

log = logging.getLogger(__name__)

DEFER_AT_MOST = 50
MAX_PER_ENTRY = 1000
STALE_AFTER = timedelta(seconds=60)

_PENDING = f"SELECT id, reading_ids FROM {PendingReadings._meta.db_table} WHERE twin_id = %s ORDER BY id"  # noqa: S608


def pending_items(locked: Twin) -> list[tuple[str, dict[str, Any], int | None]]:
    """The catch-up registered with twins.history (ingest.apps): the history items of the twin's pending
    readings, oldest message first, their pending rows deleted in the caller's transaction. Readings deleted
    meanwhile (a seller's redaction, a downsample) are left out."""
    with connection.cursor() as cursor:
        cursor.execute(_PENDING, [locked.pk])
        rows = cursor.fetchall()
    if not rows:
        return []
    ids: list[int] = []
    for _, reading_ids in rows:
        ids.extend(json.loads(reading_ids) if isinstance(reading_ids, str) else reading_ids)
    PendingReadings.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    readings = sorted(Reading.objects.filter(twin_id=locked.pk, pk__in=ids), key=lambda reading: reading.pk)
    items = []
    for start in range(0, len(readings), MAX_PER_ENTRY):
        chunk = readings[start : start + MAX_PER_ENTRY]
        if len(chunk) == 1:
            items.append((HistoryEntry.Kind.READING, _reading_content(chunk[0]), chunk[0].pk))
        else:
            items.append((HistoryEntry.Kind.READING, {"readings": [_reading_content(r) for r in chunk]}, None))
    return items


def readings_to_history(*, twin_id: int) -> int:
    """Append the thing's pending readings now and clear its flush request; how many entries were appended."""
    twin = Twin.objects.filter(pk=twin_id).only("pk").first()
    if twin is None:
        return 0  # deleted with its readings, pending rows and flush request
    with transaction.atomic():
        try:
            # The thing's row lock first (inside history_catch_up): every message for it that had begun has
            # committed once it is granted, and later ones wait for this transaction. Only then is the flush
            # request deleted, so a message committing after this transaction enqueues a new flush.
            entries = history_catch_up(twin=twin)
        except TwinDeactivated:
            # Cannot happen through ingestion (a deactivation appends what is pending first, and refused
            # messages store nothing); if it does, the history is closed for good: say so and let go.
            dropped = PendingReadings.objects.filter(twin_id=twin_id).delete()[0]
            log.warning("thing %s is deactivated: %s pending reading rows stay out of its history", twin_id, dropped)
            entries = []
        HistoryFlush.objects.filter(twin_id=twin_id).delete()
    return len(entries)


@task()
def flush_history(twin_id: int) -> int:
    """The worker's flush of one thing, then of any thing whose flush request went stale (its task lost)."""
    count = readings_to_history(twin_id=twin_id)
    stale = HistoryFlush.objects.filter(requested_at__lt=timezone.now() - STALE_AFTER).exclude(twin_id=twin_id)
    for other in list(stale.values_list("twin_id", flat=True)[:100]):
        count += readings_to_history(twin_id=other)
    return count


def schedule(twin_ids: list[int]) -> None:
    """After commit: enqueue the flush of each thing whose flush request the message created (or renewed)."""
    for twin_id in twin_ids:
        flush_history.enqueue(twin_id)


def flush_all() -> int:
    """Every thing's pending readings into its history now (the management command)."""
    twin_ids = set(PendingReadings.objects.values_list("twin_id", flat=True).distinct())
    twin_ids |= set(HistoryFlush.objects.values_list("twin_id", flat=True))
    return sum(readings_to_history(twin_id=twin_id) for twin_id in sorted(twin_ids))
