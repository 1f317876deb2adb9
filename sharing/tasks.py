"""The outbox in the task worker: delivering an item is a task, started once the transaction that wrote the item
commits, to run when its batching window ends; a temporary failure re-enqueues it for its next attempt. The
due-sweep (:func:`deliver_due`, the ``sharing_deliver_due`` command) is the safety net behind both: a task lost
with its worker, a lease that lapsed, a backend that cannot defer (the inline one the tests use).

The same pattern as didcomm.tasks, with the outbox item's own schedule and lease (sharing.attempts).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.tasks import task

from sharing import attempts
from sharing.models import OutboxItem
from sharing.send import TOTAL_TIMEOUT


@task()
def deliver_item(item_id: int) -> str | None:
    """One attempt at one item if it is due and no other worker has it (sharing.attempts.deliver); a temporary
    failure re-enqueues this task for the next attempt. Returns the item's new status (``None``: not taken)."""
    outcome = attempts.deliver(item_id)
    if outcome.retry_at is not None:
        schedule(item_id, outcome.retry_at)
    drain()
    return outcome.status


# How many other due items one delivery task takes along (see drain).
DRAIN = 100


def drain(*, limit: int = DRAIN) -> int:
    """Deliver, in one batch, other items that are due now and nobody holds (sharing.attempts.claim_batch): under
    load every task would otherwise pay its own claim and commits for one message, and their own tasks, when they
    run, find them taken and stop at one UPDATE. An item that fails here keeps its next attempt on its row, for
    its own task or the sweep. Returns how many were attempted."""
    if attempts.lease() <= timedelta(seconds=TOTAL_TIMEOUT):
        return 0  # no batch fits in a lease shorter than one send may take
    claimed = attempts.claim_batch(limit=limit)
    if claimed:
        attempts.deliver_claimed(claimed)
        attempts.release(claimed)
    return len(claimed)


@task()
def deliver_due_items() -> int:
    """The safety net as a task, for a scheduler to enqueue every minute or so (see :func:`deliver_due`)."""
    return deliver_due()


def schedule(item_id: int, when: datetime) -> None:
    """Enqueue delivery of ``item_id`` to run at ``when`` (at once if that has passed). A backend that cannot
    defer runs it now only if it is due; otherwise the item waits for the sweep, with its due time on the row."""
    backend = deliver_item.get_backend()
    if when > attempts.now():
        if backend.supports_defer:
            deliver_item.using(run_after=when).enqueue(item_id)
        return
    deliver_item.enqueue(item_id)


def deliver_after_commit(items: Iterable[OutboxItem], *, when: datetime | None = None) -> None:
    """Have the worker deliver ``items`` when their windows end (or at ``when``), once the current transaction
    commits (at once outside one): a rollback takes the rows with it and nothing is enqueued (SECURITY 39), and
    the worker never looks for a row that is not there yet. sharing.delivery calls this for every item created
    with ``save()``; code that writes items with ``bulk_create`` calls it itself."""
    for item in items:
        item_id, at = item.pk, when or item.window_ends_at
        transaction.on_commit(lambda item_id=item_id, at=at: schedule(item_id, at))


def deliver_due(*, limit: int = 500) -> int:
    """Close the windows that have ended, and enqueue delivery of every item that is due and unclaimed. Returns
    how many were enqueued."""
    attempts.close_windows()
    ids = attempts.due_ids(limit=limit)
    for item_id in ids:
        deliver_item.enqueue(item_id)
    return len(ids)
