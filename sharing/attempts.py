"""One delivery attempt of an outbox item, and what its outcome means for the item (SECURITY 37-40).

The life of an item: OPEN while its batching window collects events, due once the window has ended; a worker
claims it (SENDING, with a lease: ``next_attempt_at`` is the lease's end), re-checks the grant, sends, and records
the outcome in one UPDATE guarded by its lease. No transaction is open across the send, and no row lock is held.

- 2xx: DELIVERED.
- A temporary failure (5xx, 408, 429, a timeout, a refused or reset connection): PENDING again, the next attempt
  after the next step of ``SHARING_RETRY_SCHEDULE``; a 429 or 503 with ``Retry-After`` waits at least that long
  (capped at RETRY_AFTER_CAP). After the last step: FAILED, the dead letter, which sharing.replay can put back.
- 410 from a webhook receiver: the endpoint is disabled, and this item and every undelivered item for the
  endpoint are CANCELLED (the receiver said it is gone: nothing for it can be delivered, so nothing is replayable).
- Any other refusal (another 4xx, a redirect, an address core.netguard refuses, no endpoint, a key we cannot pack
  for): FAILED at once. Resending the same message cannot change the answer; replay is there once it is fixed.
- The grant revoked or expired, the endpoint disabled, the connection removed, the twin deactivated: CANCELLED
  before anything is sent.

A worker that dies mid-send (SIGKILL) leaves the item SENDING; once its lease has run out the item is due again,
and it goes out with the same message id. Receivers dedupe on that id, so at-least-once is what they see.

Time comes from :func:`now`, the one clock seam: tests move it instead of sleeping.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from didcomm.inbound import InboundError
from didcomm.models import Connection
from didcomm.tasks import receive as didcomm_receive
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from sharing.send import TOTAL_TIMEOUT, SendError, didcomm_message, send_didcomm, send_webhook

logger = logging.getLogger(__name__)

Status = OutboxItem.Status

DEFAULT_RETRY_SCHEDULE = (30, 120, 600, 1800, 3600, 10800, 21600, 43200, 86400, 86400)  # ≈ 2.9 days in all
DEFAULT_LEASE_SECONDS = 60  # longer than one send can take (send.TOTAL_TIMEOUT)
# A receiver's Retry-After is honoured up to this (a year-long one would otherwise park the item for good).
RETRY_AFTER_CAP = timedelta(hours=24)
# Items still to be delivered: what a grant's end or an endpoint's 410 cancels.
UNDELIVERED = (Status.OPEN, Status.PENDING, Status.SENDING)


def now() -> datetime:
    """The clock every delivery decision reads (the seam tests move)."""
    return timezone.now()


def retry_schedule() -> tuple[timedelta, ...]:
    """The waits before the 2nd, 3rd, ... attempt (``SHARING_RETRY_SCHEDULE``, seconds)."""
    seconds = getattr(settings, "SHARING_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)
    return tuple(timedelta(seconds=int(s)) for s in seconds)


def max_attempts() -> int:
    return len(retry_schedule()) + 1


def lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "SHARING_DELIVERY_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def backoff(attempts: int) -> timedelta | None:
    """How long to wait after ``attempts`` attempts have failed temporarily; ``None`` once they are used up."""
    schedule = retry_schedule()
    if attempts > len(schedule):
        return None
    return schedule[max(attempts, 1) - 1]


def retry_after(value: str | None, *, at: datetime) -> timedelta | None:
    """RFC 9110 ``Retry-After``: delay-seconds or an HTTP date; ``None`` if absent or unreadable. Capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value[:9]))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        wait = max(when - at, timedelta(0))
    return min(wait, RETRY_AFTER_CAP)


# -- what is due, and claiming it -------------------------------------------------------


def due(at: datetime) -> Q:
    """Items a worker may take at ``at``: a closed window, a retry that is due, or a lapsed lease (its worker
    died mid-send)."""
    return (
        Q(status=Status.OPEN, window_ends_at__lte=at)
        | (Q(status=Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=at)))
        | Q(status=Status.SENDING, next_attempt_at__lt=at)
    )


def close_windows(*, at: datetime | None = None) -> int:
    """OPEN items whose window has ended become PENDING (the event subscriber joins only an OPEN item whose window
    is still open, so nothing joins an item being sent). Returns how many."""
    at = at or now()
    return OutboxItem.objects.filter(status=Status.OPEN, window_ends_at__lte=at).update(
        status=Status.PENDING, next_attempt_at=F("window_ends_at")
    )


def due_ids(*, limit: int = 500, at: datetime | None = None) -> list[int]:
    """The ids of items due at ``at``, oldest first (what the sweep enqueues)."""
    at = at or now()
    return list(
        OutboxItem.objects.filter(due(at)).order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit]
    )


def claim(item_id: int, *, at: datetime | None = None) -> datetime | None:
    """Take one item for this worker if it is due: one conditional UPDATE, so of two workers exactly one gets it
    (on PostgreSQL the second waits for the first's row lock, then finds the row no longer due). Returns the
    lease's end (the token the outcome's UPDATE is guarded by), or ``None``."""
    at = at or now()
    until = at + lease()
    candidate = OutboxItem.objects.filter(due(at), pk=item_id)
    # A read first: the item's own task often finds it delivered already (another task's batch took it), and a
    # read commits nothing; the UPDATE alone decides who gets it.
    if not candidate.exists():
        return None
    taken = candidate.update(status=Status.SENDING, next_attempt_at=until)
    return until if taken else None


def claim_batch(*, limit: int = 100, at: datetime | None = None) -> list[tuple[int, datetime]]:
    """Take up to ``limit`` due items at once: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` (workers
    sweeping together take disjoint sets, none waiting on another's rows).
    Returns ``(item id, lease end)`` pairs."""
    at = at or now()
    until = at + lease()
    candidates = OutboxItem.objects.filter(due(at)).order_by("next_attempt_at", "id")
    if not candidates.exists():
        return []  # a read commits nothing: the common case of a drain with nothing left to take
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(candidates.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            OutboxItem.objects.filter(pk__in=ids).update(status=Status.SENDING, next_attempt_at=until)
        return [(item_id, until) for item_id in ids]
    # Elsewhere (SQLite: one writer at a time) one UPDATE that re-checks "due" takes what nobody took meanwhile;
    # the lease's end, this worker's own instant, then tells which rows are ours.
    with transaction.atomic():
        ids = list(candidates.values_list("id", flat=True)[:limit])
        OutboxItem.objects.filter(due(at), pk__in=ids).update(status=Status.SENDING, next_attempt_at=until)
        mine = OutboxItem.objects.filter(pk__in=ids, status=Status.SENDING, next_attempt_at=until)
        taken = set(mine.values_list("id", flat=True))
    return [(item_id, until) for item_id in ids if item_id in taken]


def release(claimed: Sequence[tuple[int, datetime]], *, at: datetime | None = None) -> int:
    """Give back the items of a batch that were claimed and not attempted (the batch stopped before its lease could
    run out): due again at once, for anyone, instead of after the lease. Guarded by the lease, as every outcome
    is. Returns how many."""
    at = at or now()
    released = 0
    for until in {until for _, until in claimed}:
        ids = [item_id for item_id, lease_end in claimed if lease_end == until]
        released += OutboxItem.objects.filter(pk__in=ids, status=Status.SENDING, next_attempt_at=until).update(
            status=Status.PENDING, next_attempt_at=at
        )
    return released


# -- one attempt --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one attempt left: the item's new status (``None``: not taken, another worker has it or it is not
    due), and when its next attempt is due after a temporary failure."""

    status: str | None = None
    retry_at: datetime | None = None


# What one attempt reads, in one query: only the columns it uses (a twin's or an agent's full rows cost more to
# fetch and to turn into objects than the send itself).
_ATTEMPT_FIELDS = (
    *("message_id", "kind", "payload", "count", "created_at", "window_ends_at", "attempts", "twin_id", "grant_id"),
    *("twin__did", "twin__deactivated_at"),
    *("grant__created_at", "grant__revoked_at", "grant__expires_at", "grant__twin_id"),
    *("grant__endpoint__url", "grant__endpoint__secret_sealed", "grant__endpoint__disabled_at"),
    *("grant__connection__state", "grant__connection__agent_id", "grant__connection__my_key_sealed"),
    *("grant__connection__their_verkey", "grant__connection__their_endpoint", "grant__connection__their_routing_keys"),
)


def refusal(grant: Grant, *, at: datetime) -> str:
    """Why nothing may be sent under ``grant`` now ("" if it may): checked before every attempt."""
    if grant.revoked_at is not None:
        return "the grant was revoked before delivery"
    if grant.expires_at is not None and grant.expires_at <= at:
        return "the grant expired before delivery"
    if grant.twin.deactivated_at is not None:
        return "the thing was deactivated before delivery"
    if grant.endpoint is not None and grant.endpoint.disabled_at is not None:
        return "the webhook endpoint is disabled"
    if grant.connection is not None and grant.connection.state == Connection.State.ABANDONED:
        return "the connection was removed before delivery"
    return ""


def deliver(item_id: int) -> Outcome:
    """Claim ``item_id`` if it is due, and make one attempt (see the module)."""
    until = claim(item_id)
    if until is None:
        return Outcome()
    return attempt(item_id, until)


def _load(ids: Sequence[int]) -> dict[int, OutboxItem]:
    items = OutboxItem.objects.select_related("twin", "grant__endpoint", "grant__connection").only(*_ATTEMPT_FIELDS)
    return {item.pk: item for item in items.filter(pk__in=list(ids))}


def deliver_claimed(claimed: Sequence[tuple[int, datetime]], *, flush_every: int = 50) -> list[Outcome]:
    """One attempt for each item of :func:`claim_batch`: the items are read in one query, and deliveries are
    recorded together (every ``flush_every``), each guarded by its lease. Stops early, leaving the rest to be
    taken again once their lease runs out, if one more send might outlast the lease (a slow receiver)."""
    items = _load([item_id for item_id, _ in claimed])
    outcomes: list[Outcome] = []
    done: list[tuple[int, datetime, int | None]] = []
    for item_id, until in claimed:
        if now() + timedelta(seconds=TOTAL_TIMEOUT) >= until:
            break
        item = items.get(item_id)
        if item is None:
            continue  # deleted meanwhile (its twin or grant went)
        outcome, status_code = _try(item, until)
        outcomes.append(outcome)
        if outcome.status == Status.DELIVERED:
            done.append((item_id, until, status_code))
            if len(done) >= flush_every:
                _delivered(done)
                done = []
    _delivered(done)
    return outcomes


def attempt(item_id: int, until: datetime) -> Outcome:
    """Send one item this worker claimed (lease ``until``) and record the outcome, guarded by that lease: a worker
    whose lease lapsed (and whose item another worker took) records nothing."""
    item = _load([item_id])[item_id]
    outcome, status_code = _try(item, until)
    if outcome.status == Status.DELIVERED:
        _delivered([(item_id, until, status_code)])
    return outcome


def _delivered(done: Sequence[tuple[int, datetime, int | None]]) -> None:
    """Record deliveries: one UPDATE per lease and status code (one in all, for a batch), each row only if this
    worker's lease on it still holds."""
    groups: dict[tuple[datetime, int | None], list[int]] = {}
    for item_id, until, status_code in done:
        groups.setdefault((until, status_code), []).append(item_id)
    at = now()
    for (until, status_code), ids in groups.items():
        OutboxItem.objects.filter(pk__in=ids, status=Status.SENDING, next_attempt_at=until).update(
            status=Status.DELIVERED,
            delivered_at=at,
            attempts=F("attempts") + 1,
            next_attempt_at=None,
            last_status_code=status_code,
            last_error="",
        )


def _try(item: OutboxItem, until: datetime) -> tuple[Outcome, int | None]:
    """Re-check the grant and send ``item``. A refusal or failure is recorded here; a delivery is left to the
    caller to record (with others), and comes back with the receiver's status code (webhooks)."""
    mine = OutboxItem.objects.filter(pk=item.pk, status=Status.SENDING, next_attempt_at=until)
    grant = item.grant
    grant.twin = item.twin  # the same row (an item is its grant's twin's)
    at = now()
    why_not = refusal(grant, at=at)
    if why_not:
        mine.update(status=Status.CANCELLED, next_attempt_at=None, last_error=why_not)
        logger.info("outbox item %s (%s) cancelled: %s", item.pk, item.kind, why_not)
        return Outcome(status=Status.CANCELLED), None
    attempts = item.attempts + 1
    status_code = None
    try:
        if grant.connection is not None:
            sent = send_didcomm(grant.connection, didcomm_message(item, sent_at=at))
            _receive_replies(sent.replies)
        else:
            status_code = send_webhook(grant.endpoint, item, sent_at=at)
    except SendError as exc:
        return _failed(item, mine, exc, attempts=attempts), None
    except Exception as exc:
        # A bug of ours, not the receiver's answer: logged with its traceback, and retried on the schedule like a
        # temporary failure, so the item neither sits SENDING until a sweep nor is lost.
        logger.exception("outbox item %s: unexpected error while sending", item.pk)
        internal = SendError(f"internal error: {type(exc).__name__}", permanent=False)
        return _failed(item, mine, internal, attempts=attempts), None
    logger.info("outbox item %s (%s) delivered, attempt %s", item.pk, item.kind, attempts)
    return Outcome(status=Status.DELIVERED), status_code


def _receive_replies(replies: Sequence[bytes]) -> None:
    # What a peer sent back on our WebSocket (a problem report, say) is received like anything it sends us.
    for raw in replies:
        try:
            didcomm_receive(raw=raw)
        except InboundError as exc:
            logger.warning("DIDComm reply to a notification refused: %s", exc)


def _failed(item: OutboxItem, mine, exc: SendError, *, attempts: int) -> Outcome:
    error = str(exc)[:300]
    at = now()
    if exc.status == 410 and item.grant.endpoint is not None:
        _endpoint_gone(item.grant.endpoint, at=at, reason=error)
        mine.update(
            status=Status.CANCELLED, attempts=attempts, next_attempt_at=None, last_status_code=410, last_error=error
        )
        logger.warning("outbox item %s: %s; its endpoint is disabled", item.pk, error)
        return Outcome(status=Status.CANCELLED)
    wait = None if exc.permanent else backoff(attempts)
    if wait is not None and exc.status in (429, 503):
        asked = retry_after(exc.retry_after, at=at)
        if asked is not None:
            wait = max(wait, asked)
    if wait is None:
        if not exc.permanent:
            error = f"gave up after {attempts} attempts: {error}"[:300]
        mine.update(
            status=Status.FAILED, attempts=attempts, next_attempt_at=None, last_status_code=exc.status, last_error=error
        )
        logger.warning("outbox item %s (%s) failed after attempt %s: %s", item.pk, item.kind, attempts, error)
        return Outcome(status=Status.FAILED)
    retry_at = at + wait
    mine.update(
        status=Status.PENDING,
        attempts=attempts,
        next_attempt_at=retry_at,
        last_status_code=exc.status,
        last_error=error,
    )
    logger.warning("outbox item %s (%s) attempt %s will be retried: %s", item.pk, item.kind, attempts, error)
    return Outcome(status=Status.PENDING, retry_at=retry_at)


@transaction.atomic
def _endpoint_gone(endpoint: WebhookEndpoint, *, at: datetime, reason: str) -> None:
    """A 410: the endpoint is disabled and nothing still undelivered for it goes out (CANCELLED, not FAILED:
    replaying to a receiver that is gone cannot deliver)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=True).update(
        disabled_at=at, disabled_reason=f"the receiver answered 410 Gone ({reason})"[:200]
    )
    OutboxItem.objects.filter(grant__endpoint=endpoint, status__in=UNDELIVERED).exclude(
        status=Status.SENDING, next_attempt_at__gte=at
    ).update(status=Status.CANCELLED, next_attempt_at=None, last_error="the webhook endpoint answered 410 Gone")
