"""SECURITY 37-40: outgoing permitted notifications (Standard Webhooks POSTs to a real receiver on loopback).

Delivery runs as the worker runs it: sharing.tasks.deliver_due enqueues ``deliver_item`` for what is due, which
the tests' inline task backend runs at once. Time moves through the delivery code's clock (sharing.attempts.now).
"""

from __future__ import annotations

import email.utils
from datetime import timedelta

import pytest
from django.db import transaction

from core import netguard
from sharing import attempts
from sharing.models import OutboxItem, WebhookEndpoint
from sharing.replay import outbox_replay
from sharing.tasks import deliver_due

from .delivery_helpers import clock_fixture, item_for, receiver_fixture, verified, webhook_grant  # noqa: F401

pytestmark = pytest.mark.django_db


def _status(item: OutboxItem) -> str:
    item.refresh_from_db()
    return item.status


def test_security_37_a_500_is_retried_on_the_configured_schedule_with_the_same_id_then_failed_and_replayable(
    grinder, alice, receiver, clock, settings
):
    settings.SHARING_RETRY_SCHEDULE = [30, 120, 600, 1800, 3600, 10800, 21600, 43200, 86400, 86400]
    receiver.default = (500, {})
    grant = webhook_grant(grinder, receiver.url)
    item = item_for(grant, window_ends_at=clock())

    attempted_at = []
    for step in [*settings.SHARING_RETRY_SCHEDULE, None]:
        sent_before = len(receiver.requests)
        assert deliver_due() == 1
        attempted_at.append(clock())
        assert len(receiver.requests) == sent_before + 1
        item.refresh_from_db()
        if step is None:
            break
        assert item.status == OutboxItem.Status.PENDING
        assert item.next_attempt_at == clock() + timedelta(seconds=step)
        assert item.last_status_code == 500
        clock.advance(step - 1)
        assert deliver_due() == 0  # one second early: nothing
        assert len(receiver.requests) == sent_before + 1
        clock.advance(1)

    assert item.status == OutboxItem.Status.FAILED
    assert item.attempts == len(settings.SHARING_RETRY_SCHEDULE) + 1 == len(receiver.requests)
    assert item.last_status_code == 500 and "gave up after 11 attempts" in item.last_error
    assert attempted_at[-1] - attempted_at[0] >= timedelta(days=2, hours=20)  # "about three days"
    # Every attempt: the same webhook-id (the item's message id), each signed and verifiable.
    for request, at in zip(receiver.requests, attempted_at, strict=True):
        assert verified(request, at=at) == str(item.message_id)
    clock.advance(10 * 86400)
    assert deliver_due() == 0  # the dead letter stays put

    receiver.default = (204, {})
    (replayed,) = outbox_replay(items=[item.pk], by=alice)
    assert replayed.pk == item.pk
    deliver_due()
    item.refresh_from_db()
    assert item.status == OutboxItem.Status.DELIVERED and item.delivered_at == clock()
    assert verified(receiver.requests[-1], at=clock()) == str(item.message_id)
    assert len(receiver.requests) == 12


def test_security_38_a_410_disables_the_endpoint_and_429_retry_after_delays_the_next_attempt(grinder, receiver, clock):
    # 410: the endpoint is disabled; what was waiting for it is cancelled, never sent.
    gone = webhook_grant(grinder, receiver.url)
    first = item_for(gone, window_ends_at=clock())
    second = item_for(gone, window_ends_at=clock() + timedelta(seconds=5), kind="scans")
    receiver.answer(410)
    deliver_due()
    endpoint = WebhookEndpoint.objects.get(pk=gone.endpoint_id)
    assert endpoint.disabled_at == clock() and "410" in endpoint.disabled_reason
    assert _status(first) == OutboxItem.Status.CANCELLED and first.last_status_code == 410
    assert _status(second) == OutboxItem.Status.CANCELLED
    clock.advance(60)
    deliver_due()
    assert len(receiver.requests) == 1

    # 429 with Retry-After in seconds: not before it, though our own schedule would retry after 30 s.
    slow = webhook_grant(grinder, receiver.url)
    item = item_for(slow, window_ends_at=clock())
    receiver.answer((429, {"Retry-After": "600"}))
    deliver_due()
    item.refresh_from_db()
    assert item.status == OutboxItem.Status.PENDING and item.last_status_code == 429
    assert item.next_attempt_at == clock() + timedelta(seconds=600)
    clock.advance(599)
    deliver_due()
    assert len(receiver.requests) == 2
    # ... and as an HTTP date (RFC 9110 allows both).
    clock.advance(1)
    later = clock() + timedelta(hours=2)
    receiver.answer((429, {"Retry-After": email.utils.format_datetime(later, usegmt=True)}))
    deliver_due()
    item.refresh_from_db()
    assert len(receiver.requests) == 3
    assert item.next_attempt_at >= later - timedelta(seconds=1)
    clock.set(later - timedelta(seconds=2))
    deliver_due()
    assert len(receiver.requests) == 3
    clock.set(later + timedelta(seconds=1))
    deliver_due()
    assert _status(item) == OutboxItem.Status.DELIVERED
    assert len(set(receiver.ids[1:])) == 1


def test_security_39_a_rolled_back_change_emits_nothing_and_a_committed_one_is_emitted_across_a_worker_crash(
    grinder, receiver, clock, settings, django_capture_on_commit_callbacks
):
    grant = webhook_grant(grinder, receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        item_for(grant, window_ends_at=clock())
        raise RuntimeError("the event's transaction fails after the item was written")
    assert not OutboxItem.objects.exists()
    clock.advance(3600)
    deliver_due()
    assert receiver.requests == []

    # Committed: its delivery task is enqueued at commit and runs when due.
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            item = item_for(grant, window_ends_at=clock())
    assert _status(item) == OutboxItem.Status.DELIVERED
    assert receiver.ids == [str(item.message_id)]

    # A worker that claimed an item and died mid-send (nothing recorded): the item is taken again once the
    # lease runs out, and delivered with the same id. (tests/sharing/test_worker_kill.py: a real SIGKILL.)
    crashed = item_for(grant, window_ends_at=clock())
    assert attempts.claim(crashed.pk) is not None
    assert deliver_due() == 0  # leased to the dead worker
    clock.advance(settings.SHARING_DELIVERY_LEASE_SECONDS + 1)
    assert deliver_due() == 1
    assert _status(crashed) == OutboxItem.Status.DELIVERED
    assert receiver.ids == [str(item.message_id), str(crashed.message_id)]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "192.168.0.10", "172.16.5.4", "169.254.169.254", "[fe80::1]"],
)
def test_security_40_notification_urls_resolving_to_private_loopback_or_link_local_addresses_are_refused(
    grinder, receiver, clock, settings, host
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    url = f"http://{host}:{receiver.port}/hook"
    item = item_for(webhook_grant(grinder, url), window_ends_at=clock())

    deliver_due()

    item.refresh_from_db()
    assert item.status == OutboxItem.Status.FAILED  # refused for good: retrying cannot change the address
    assert item.last_error == netguard.REFUSAL and item.last_status_code is None
    assert receiver.requests == []  # the loopback receiver really listens: it was not reached
