"""Background work for the DIDComm agents: outbound delivery runs in the task worker, never in a request.

Delivery of a queued message starts once the transaction that queued it commits (:func:`deliver_after_commit`).
A receipt queues its answers the same way: :func:`receive` is the inbound path of every transport, the HTTP
endpoint, the WebSocket consumer, and the answers that come back on our own outbound sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from didcomm import transport
from didcomm.inbound import Closed, InboundError, Received, inbound_receive
from didcomm.models import OutboundMessage

logger = logging.getLogger(__name__)


@task()
def deliver_outbound(outbound_id: int) -> None:
    """Send one queued message (see didcomm.transport.deliver); a temporary failure re-enqueues this task for
    the message's next attempt, and what the peer sent back on the same connection is received."""
    attempt = transport.deliver(outbound_id)
    if attempt.retry_at is not None:
        _schedule(outbound_id, attempt.retry_at)
    for raw in attempt.replies:
        try:
            receive(raw=raw)
        except InboundError as exc:
            logger.warning("DIDComm reply over WebSocket refused: %s", exc)


@task()
def deliver_due_outbound() -> int:
    """The safety net, for a scheduler to enqueue every few minutes: re-enqueue queued messages whose attempt is
    due (see :func:`deliver_due`)."""
    return deliver_due()


def _schedule(outbound_id: int, when: datetime) -> None:
    """Re-enqueue the delivery task to run at ``when``. A backend that cannot defer (the inline one the tests
    use) is left alone: the message stays queued with its ``next_attempt_at`` for :func:`deliver_due`."""
    if deliver_outbound.get_backend().supports_defer:
        deliver_outbound.using(run_after=when).enqueue(outbound_id)


def deliver_due(*, limit: int = 500) -> int:
    """The safety net: enqueue delivery of queued messages that are due and unclaimed (a task lost with its
    worker, a backend that cannot defer, a lease that lapsed). Returns how many were enqueued."""
    ids = list(
        OutboundMessage.objects.filter(transport.claimable(timezone.now()))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    for outbound_id in ids:
        deliver_outbound.enqueue(outbound_id)
    return len(ids)


def deliver_after_commit(messages: Iterable[OutboundMessage]) -> None:
    """Have the worker deliver ``messages`` once the current transaction commits (at once outside one): a
    rollback takes the rows with it, and the worker never looks for a row that is not there yet."""
    for message in messages:
        outbound_id = message.pk
        transaction.on_commit(lambda outbound_id=outbound_id: deliver_outbound.enqueue(outbound_id))


def receive(*, raw: bytes, on_open: Callable[[str, dict[str, Any]], None] | None = None) -> Received:
    """Receive an envelope (see didcomm.inbound.inbound_receive, which raises InboundError for the caller to
    answer) and have what it queued delivered once the receipt commits."""
    try:
        received = inbound_receive(raw=raw, on_open=on_open)
    except Closed as exc:
        deliver_after_commit(exc.queued)  # a deactivated twin's last word to its peer
        raise
    deliver_after_commit(received.queued)
    return received
