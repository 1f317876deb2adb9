"""Small messages' readings into the signed history, after the fact.

A small message (at most :data:`DEFER_AT_MOST` readings, so every single reading) is acknowledged as soon as its
readings commit, together with a :class:`~ingest.models.PendingReadings` row per thing; the history entry follows
from the task worker, about :data:`FLUSH_DELAY` later. The 2xx therefore still means "stored": the readings are
committed, and the history entry committing to them cannot be lost:

- the pending rows are in the same transaction as the readings, and leave only in the transaction that appends
  their entry (under the thing's row lock), so a crash of the request, the worker or the database at any point
  leaves them pending;
- a :class:`~ingest.models.HistoryFlush` row per thing says a flush is due. The message that creates it (or
  renews it, once stale) schedules :func:`flush_histories` after commit; later messages see it and leave their
  readings to that flush. One flush run takes every thing with such a row, so under load a run appends many
  readings per entry and many things per run. If the scheduling is lost (the process died right after COMMIT)
  the row grows stale, and the next message for the thing after :data:`STALE_AFTER` schedules again, as does
  any other thing's message (a run takes every row);
- any other append to the thing's history (a batch, a note, a scan, a transfer, a deactivation, an export's
  scan catch-up) first appends its pending readings (the twins.history catch-up), so the history never places a
  later event before a reading committed earlier, and a transfer or deactivation never leaves one out;
- `python manage.py ingest_history` appends every thing's pending readings now (after a crash, with no traffic).

Per flush and thing, one entry: one pending reading gets exactly the entry a manual reading gets, several get one
entry listing them all (the shape of a batch's entry), at most :data:`MAX_PER_ENTRY` per entry.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.tasks import task
from django.utils import timezone
from redis.exceptions import RedisError

from core.redis import redis_client
from core.sql import select_rows
from ingest.models import HistoryFlush, PendingReadings
from twins.history import TwinDeactivated, history_catch_up, lock_twin_for_append
from twins.models import HistoryEntry, Reading, Twin
from twins.services import history_content

log = logging.getLogger(__name__)

DEFER_AT_MOST = 50
MAX_PER_ENTRY = 1000
STALE_AFTER = timedelta(seconds=60)
# How long a flush waits after it is scheduled, so that under load one entry commits to many readings.
FLUSH_DELAY = timedelta(seconds=2)
# At most this many things per flush run (a run schedules the next one when more are due).
THINGS_PER_RUN = 500
# "A flush run is scheduled and has not started" (Redis): messages seeing it leave their things to that run.
QUEUED_KEY = "ingest:history-flush-queued"
QUEUED_SECONDS = 30

_PENDING = PendingReadings._meta.db_table
# What a reading's history content needs (twins.services.history_content).
_READING_FIELDS = (
    "id",
    "twin_id",
    "kind",
    "value",
    "unit",
    "time",
    "source",
    "device_signed",
    "device_key",
    "signature",
    "signed_content",
)


def _marks(values: list) -> str:
    return ", ".join(["%s"] * len(values))


def pending_items(locked: Twin) -> list[tuple[str, dict[str, Any], int | None]]:
    """The catch-up registered with twins.history (ingest.apps): the history items of the twin's pending
    readings, oldest first, their pending rows deleted in the caller's transaction (under the twin's row lock).
    Readings deleted meanwhile (a seller's redaction, a downsample) are left out."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, reading_ids FROM {_PENDING} WHERE twin_id = %s", [locked.pk])  # noqa: S608
        rows = cursor.fetchall()
        if not rows:
            return []
        ids: list[int] = []
        for _, reading_ids in rows:
            ids.extend(json.loads(reading_ids) if isinstance(reading_ids, str) else reading_ids)
        pending = [pk for pk, _ in rows]
        cursor.execute(f"DELETE FROM {_PENDING} WHERE id IN ({_marks(pending)})", pending)  # noqa: S608
    readings = select_rows(
        Reading, _READING_FIELDS, f"WHERE twin_id = %s AND id IN ({_marks(ids)}) ORDER BY id", [locked.pk, *ids]
    )
    items = []
    for start in range(0, len(readings), MAX_PER_ENTRY):
        chunk = readings[start : start + MAX_PER_ENTRY]
        # The entry a batch of these readings would get (a single one: the entry of a manual reading).
        items.append((HistoryEntry.Kind.READING, history_content(chunk), chunk[0].pk if len(chunk) == 1 else None))
    return items


_DELETE_FLUSH = f"DELETE FROM {HistoryFlush._meta.db_table} WHERE twin_id = %s"  # noqa: S608


def readings_to_history(*, twin_id: int) -> int:
    """Append the thing's pending readings now and clear its flush request; how many entries were appended."""
    with transaction.atomic():
        try:
            # The thing's row lock first: every message for it that had begun has committed once it is granted
            # (they hold a lock on the thing to COMMIT), and later ones wait for this transaction.
            locked = lock_twin_for_append(Twin(pk=twin_id))
        except Twin.DoesNotExist:
            return 0  # deleted with its readings, pending rows and flush request
        try:
            entries = history_catch_up(twin=locked, locked=True)
        except TwinDeactivated:
            # Cannot happen through ingestion (a deactivation appends what is pending first, and refused
            # messages store nothing); if it does, the history is closed for good: say so and let go.
            dropped = PendingReadings.objects.filter(twin_id=twin_id).delete()[0]
            log.warning("thing %s is deactivated: %s pending reading rows stay out of its history", twin_id, dropped)
            entries = []
        with connection.cursor() as cursor:
            cursor.execute(_DELETE_FLUSH, [twin_id])
    return len(entries)


@task()
def flush_histories() -> int:
    """The worker's flush: every thing with a flush request, oldest first; how many entries were appended."""
    client = redis_client()
    if client is not None:
        # Before reading the requests: a message committing after this line schedules the next run.
        try:
            client.delete(QUEUED_KEY)
        except RedisError:
            log.warning("Redis unavailable: messages leave their things to a run until the marker expires")
    due = list(HistoryFlush.objects.order_by("requested_at").values_list("twin_id", flat=True)[: THINGS_PER_RUN + 1])
    count = sum(readings_to_history(twin_id=twin_id) for twin_id in due[:THINGS_PER_RUN])
    if len(due) > THINGS_PER_RUN:
        _enqueue()
    return count


def schedule(twin_ids: list[int]) -> None:
    """After commit, for the things whose flush request this message created or renewed: make sure a flush run is
    queued. With Redis one queued run serves every thing (SET NX of :data:`QUEUED_KEY`); without it (one process
    on a laptop) each thing enqueues one."""
    if not twin_ids:
        return
    # The message has committed: nothing here may fail its answer. A flush that cannot be scheduled now is
    # requested again by the thing's next message once its request is stale (or by ingest_history).
    try:
        client = redis_client()
        if client is None:
            runs = len(twin_ids)  # one process, no shared marker: a run per thing (each finds the others done)
        else:
            try:
                runs = 1 if client.set(QUEUED_KEY, 1, nx=True, ex=QUEUED_SECONDS) else 0
            except RedisError:
                log.warning("Redis unavailable: history flush enqueued without the queued-run marker")
                runs = 1
        for _ in range(runs):
            _enqueue()
    except Exception:
        log.exception("history flush for things %s not scheduled; their next message will ask again", twin_ids)


def _enqueue() -> None:
    if flush_histories.get_backend().supports_defer:
        flush_histories.using(run_after=timezone.now() + FLUSH_DELAY).enqueue()
    else:
        flush_histories.enqueue()


def flush_all() -> int:
    """Every thing's pending readings into its history now (the management command)."""
    twin_ids = set(PendingReadings.objects.values_list("twin_id", flat=True).distinct())
    twin_ids |= set(HistoryFlush.objects.values_list("twin_id", flat=True))
    return sum(readings_to_history(twin_id=twin_id) for twin_id in sorted(twin_ids))
