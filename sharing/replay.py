"""Replaying the dead letter: FAILED items (retries used up, or refused by the receiver) go back to PENDING, with
their attempts reset and the same message id, for the worker to deliver again. By the owner of the thing (the
delivery log's button), or by an operator (``python manage.py sharing_replay``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet

from owners.models import Owner
from sharing import attempts
from sharing.models import OutboxItem
from sharing.tasks import deliver_after_commit


def replayable(*, by: Owner | None) -> QuerySet[OutboxItem]:
    """FAILED items ``by`` may replay: the owner's things' (an operator, ``by=None``: every one)."""
    items = OutboxItem.objects.filter(status=OutboxItem.Status.FAILED)
    return items if by is None else items.filter(twin__owner=by)


@transaction.atomic
def outbox_replay(*, items: Iterable[OutboxItem | int], by: Owner | None) -> list[OutboxItem]:
    """Put the FAILED ones of ``items`` (rows or ids) that ``by`` may replay back to PENDING, due now, attempts
    reset, message id unchanged; the worker is asked to deliver them once this commits. Others are left alone
    (delivered, cancelled, another owner's). Returns the replayed items.

    The grant is checked again before the attempt, as for every attempt: replaying under a grant that has ended
    cancels the item instead of sending it.
    """
    ids = {item.pk if isinstance(item, OutboxItem) else int(item) for item in items}
    chosen = list(replayable(by=by).select_for_update().filter(pk__in=ids).order_by("id"))
    at = attempts.now()
    OutboxItem.objects.filter(pk__in=[item.pk for item in chosen], status=OutboxItem.Status.FAILED).update(
        status=OutboxItem.Status.PENDING, attempts=0, next_attempt_at=at, last_error="", last_status_code=None
    )
    for item in chosen:
        item.status, item.attempts, item.next_attempt_at = OutboxItem.Status.PENDING, 0, at
    deliver_after_commit(chosen, when=at)
    return chosen
