"""Delivering permitted notifications: the webhook event and the DIDComm message on the wire, what each answer
does to the item, the grant re-checked before every attempt, one worker per item, receiving at our own agents,
and replay by the owner and by an operator."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from core.vault import unseal_key
from didcomm.models import InboundMessage, OutboundMessage
from didcomm.tasks import receive
from sharing import attempts, send
from sharing.models import ConnectionSubject, Grant, OutboxItem, ReceivedNotification
from sharing.tasks import deliver_due
from ssi import envelope
from tests.conftest import client_for, run_together

from .delivery_helpers import (  # noqa: F401 (fixtures)
    SECRET,
    clock_fixture,
    connect_agents,
    item_for,
    receiver_fixture,
    verified,
    webhook_grant,
)

pytestmark = pytest.mark.django_db

NOTIFICATION_TYPE = "https://thingstead.org/didcomm/notify/1.0/notification"


def _refresh(item: OutboxItem) -> OutboxItem:
    item.refresh_from_db()
    return item


# -- the webhook ------------------------------------------------------------------------------------------


def test_a_webhook_is_a_signed_standard_webhooks_post_of_the_thing_event(grinder, receiver, clock):
    item = item_for(webhook_grant(grinder, receiver.url), window_ends_at=clock(), n=3)

    deliver_due()

    (request,) = receiver.requests
    assert request.path == "/hook?token=s3cret"
    assert request.headers["content-type"] == "application/json"
    assert verified(request, at=clock()) == request.headers["webhook-id"] == str(item.message_id)
    assert request.headers["webhook-timestamp"] == str(int(clock().timestamp()))
    event = json.loads(request.body)
    assert event["type"] == "thing.readings"
    assert event["timestamp"] == send.iso(clock())
    data = event["data"]
    assert data["thing"] == grinder.did and grinder.did.startswith("did:webvh:")
    assert data["kind"] == "readings" and data["count"] == 3
    assert [entry["value"] for entry in data["items"]] == [7, 8, 9]
    assert data["window"] == {"from": send.iso(item.created_at), "to": send.iso(item.window_ends_at)}
    # Opaque and stable: the grant's database id is not what the receiver sees.
    assert data["grant"] == send.grant_reference(item.grant) and data["grant"] != f"grant_{item.grant_id}"
    assert data["sent_time"] == event["timestamp"]
    item = _refresh(item)
    assert item.status == OutboxItem.Status.DELIVERED and item.attempts == 1 and item.last_status_code == 200


def test_an_item_is_not_sent_before_its_batching_window_ends(grinder, receiver, clock):
    item = item_for(webhook_grant(grinder, receiver.url), window_ends_at=clock() + timedelta(seconds=5))
    assert deliver_due() == 0
    assert _refresh(item).status == OutboxItem.Status.OPEN
    clock.advance(5)
    deliver_due()
    assert _refresh(item).status == OutboxItem.Status.DELIVERED


def test_a_4xx_refusal_fails_at_once_and_a_closed_port_is_retried(grinder, receiver, clock):
    refused = item_for(webhook_grant(grinder, receiver.url), window_ends_at=clock())
    receiver.answer(400)
    deliver_due()
    refused = _refresh(refused)
    assert refused.status == OutboxItem.Status.FAILED and refused.attempts == 1 and refused.last_status_code == 400

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = item_for(webhook_grant(grinder, f"http://127.0.0.1:{closed}/"), window_ends_at=clock())
    deliver_due()
    down = _refresh(down)
    assert down.status == OutboxItem.Status.PENDING and down.last_status_code is None
    assert "refused" in down.last_error.lower()
    assert down.next_attempt_at == clock() + attempts.retry_schedule()[0]


def test_a_receiver_slower_than_the_total_timeout_is_a_temporary_failure(grinder, clock, monkeypatch):
    monkeypatch.setattr(send, "TOTAL_TIMEOUT", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def hang() -> None:
        client, _ = listener.accept()  # reads nothing, answers nothing
        accepted.append(client)

    threading.Thread(target=hang, daemon=True).start()
    item = item_for(webhook_grant(grinder, f"http://127.0.0.1:{listener.getsockname()[1]}/"), window_ends_at=clock())
    started = time.monotonic()
    deliver_due()
    assert time.monotonic() - started < 5
    item = _refresh(item)
    assert item.status == OutboxItem.Status.PENDING and "timed out" in item.last_error
    listener.close()
    for client in accepted:
        client.close()


# -- the grant, before every attempt ------------------------------------------------------------------------


def test_nothing_is_sent_after_the_grant_is_revoked_or_expires(grinder, receiver, clock):
    revoked = webhook_grant(grinder, receiver.url)
    first = item_for(revoked, window_ends_at=clock())
    receiver.answer(503)
    deliver_due()
    assert _refresh(first).status == OutboxItem.Status.PENDING  # waiting for its retry...
    Grant.objects.filter(pk=revoked.pk).update(revoked_at=clock(), revoked_reason="owner")
    later = item_for(revoked, window_ends_at=clock())
    clock.advance(3600)
    deliver_due()
    assert _refresh(first).status == OutboxItem.Status.CANCELLED  # ...and never sent again
    assert _refresh(later).status == OutboxItem.Status.CANCELLED
    assert "revoked" in first.last_error
    assert len(receiver.requests) == 1

    expiring = webhook_grant(grinder, receiver.url)
    Grant.objects.filter(pk=expiring.pk).update(expires_at=clock() + timedelta(seconds=10))
    expired = item_for(expiring, window_ends_at=clock() + timedelta(seconds=20))
    clock.advance(20)
    deliver_due()
    assert _refresh(expired).status == OutboxItem.Status.CANCELLED and "expired" in expired.last_error
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_item(grinder, receiver, clock):
    # Written outside a transaction, each item's task runs at once (inline backend): before its window ends.
    ends = clock() + timedelta(seconds=10)
    items = [item_for(webhook_grant(grinder, receiver.url), window_ends_at=ends) for _ in range(5)]
    assert receiver.requests == []
    clock.advance(10)
    for item in items:
        outcomes = run_together(*[lambda item=item: attempts.deliver(item.pk)] * 2)
        assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
        assert [outcome.status for _, outcome in outcomes].count(None) == 1  # one took it, the other found it taken
    assert sorted(receiver.ids) == sorted(str(item.message_id) for item in items)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's")
def test_batch_claims_of_two_sweepers_are_disjoint(grinder, receiver, clock):
    grant = webhook_grant(grinder, receiver.url)
    # Written in bulk (no post_save, so no delivery task of their own): they wait for the sweepers.
    items = OutboxItem.objects.bulk_create(
        OutboxItem(grant=grant, twin=grinder, kind="readings", payload={"items": []}, window_ends_at=clock())
        for _ in range(40)
    )
    outcomes = run_together(lambda: attempts.claim_batch(limit=30), lambda: attempts.claim_batch(limit=30))
    claimed = [item_id for kind, batch in outcomes if kind == "ok" for item_id, _ in batch]
    assert sorted(claimed) == sorted(item.pk for item in items)


# -- DIDComm ---------------------------------------------------------------------------------------------------


def test_over_didcomm_one_message_per_item_with_the_item_id_and_our_agents_store_it_once(grinder, bob, receiver, clock):
    peers = connect_agents(grinder, bob, endpoint=receiver.url)
    grant = Grant.objects.create(twin=grinder, connection=peers.twin_side, kinds=["readings"], created_by=grinder.owner)
    item = item_for(grant, window_ends_at=clock(), n=2)

    deliver_due()

    (request,) = receiver.requests
    assert request.headers["content-type"] == envelope.MEDIA_TYPE
    party_key = unseal_key(peers.party_side.my_key_sealed)
    opened = envelope.unpack(request.body, my_keys={peers.party_side.my_verkey: party_key})
    assert opened.sender_verkey == peers.twin_side.my_verkey
    message = json.loads(opened.message)
    assert message["@type"] == NOTIFICATION_TYPE and message["@id"] == str(item.message_id)
    assert message["thing"] == grinder.did and message["kind"] == "readings" and message["count"] == 2
    assert set(message) == {"@type", "@id", "thing", "kind", "items", "count", "window", "grant", "sent_time"}
    assert _refresh(item).status == OutboxItem.Status.DELIVERED

    # Bob's agent receives it (the inbound path every transport uses): stored once, even if it comes again.
    receive(raw=request.body)
    receive(raw=request.body)
    (stored,) = ReceivedNotification.objects.filter(connection=peers.party_side)
    assert stored.message_id == str(item.message_id)
    assert (stored.kind, stored.thing, stored.count) == ("readings", grinder.did, 2)
    assert stored.body["items"] == message["items"]
    answers = OutboundMessage.objects.filter(connection=peers.party_side)
    assert not answers.exists()  # acknowledged: no problem report either time


def test_a_notification_about_a_thing_the_connection_is_not_about_is_refused(grinder, bob, receiver, clock):
    peers = connect_agents(grinder, bob, endpoint=receiver.url)
    ConnectionSubject.objects.create(connection=peers.party_side, thing_did="did:webvh:Qm-other:example.com:x")
    grant = Grant.objects.create(twin=grinder, connection=peers.twin_side, kinds=["readings"], created_by=grinder.owner)
    item_for(grant, window_ends_at=clock())
    deliver_due()
    receive(raw=receiver.requests[0].body)
    assert not ReceivedNotification.objects.exists()
    (report,) = OutboundMessage.objects.filter(connection=peers.party_side)
    assert report.body["description"]["code"] == "not-this-connections-thing"

    ConnectionSubject.objects.create(connection=peers.party_side, thing_did=grinder.did)
    second = item_for(grant, window_ends_at=clock())
    deliver_due()
    receive(raw=receiver.requests[1].body)
    (stored,) = ReceivedNotification.objects.all()
    assert stored.message_id == str(second.message_id)
    assert InboundMessage.objects.filter(connection=peers.party_side).count() == 2


def test_over_didcomm_our_schedule_governs_retries_and_a_refusal_fails_the_item(grinder, bob, receiver, clock):
    peers = connect_agents(grinder, bob, endpoint=receiver.url)
    grant = Grant.objects.create(twin=grinder, connection=peers.twin_side, kinds=["readings"], created_by=grinder.owner)
    item = item_for(grant, window_ends_at=clock())
    receiver.answer(502, 500)
    deliver_due()
    assert _refresh(item).next_attempt_at == clock() + attempts.retry_schedule()[0]
    clock.advance(attempts.retry_schedule()[0].total_seconds())
    deliver_due()
    assert _refresh(item).next_attempt_at == clock() + attempts.retry_schedule()[1]
    clock.advance(attempts.retry_schedule()[1].total_seconds())
    deliver_due()
    item = _refresh(item)
    assert item.status == OutboxItem.Status.DELIVERED and item.attempts == 3
    bodies = [
        envelope.unpack(r.body, my_keys={peers.party_side.my_verkey: unseal_key(peers.party_side.my_key_sealed)})
        for r in receiver.requests
    ]
    assert {json.loads(b.message)["@id"] for b in bodies} == {str(item.message_id)}

    refused = item_for(grant, window_ends_at=clock())
    receiver.answer(403)
    deliver_due()
    assert _refresh(refused).status == OutboxItem.Status.FAILED
    # Nothing went through didcomm's own outbound queue (whose schedule would differ).
    assert not OutboundMessage.objects.filter(connection=peers.twin_side).exists()


def test_a_removed_connection_cancels_what_was_waiting(grinder, bob, receiver, clock):
    peers = connect_agents(grinder, bob, endpoint=receiver.url)
    grant = Grant.objects.create(twin=grinder, connection=peers.twin_side, kinds=["readings"], created_by=grinder.owner)
    item = item_for(grant, window_ends_at=clock())
    peers.twin_side.state = "abandoned"
    peers.twin_side.save()
    deliver_due()
    assert _refresh(item).status == OutboxItem.Status.CANCELLED
    assert receiver.requests == []


# -- replay ------------------------------------------------------------------------------------------------------


def _failed(grant, clock) -> OutboxItem:
    item = item_for(grant, window_ends_at=clock())
    OutboxItem.objects.filter(pk=item.pk).update(status=OutboxItem.Status.FAILED, attempts=11, last_error="gave up")
    return item


def test_the_owner_replays_failed_notifications_from_the_delivery_log(grinder, alice, carol, receiver, clock):
    grant = webhook_grant(grinder, receiver.url)
    one, other = _failed(grant, clock), _failed(grant, clock)
    url = f"/things/{grinder.slug}/sharing/replay/"

    assert client_for(carol).post(url, {"message_id": str(one.message_id)}).status_code == 404
    assert client_for(alice).post(url, {"message_id": "not-a-uuid"}).status_code == 400
    assert _refresh(one).status == OutboxItem.Status.FAILED

    response = client_for(alice).post(url, {"message_id": str(one.message_id), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == f"/things/{grinder.slug}/sharing/"
    one = _refresh(one)
    assert one.status == OutboxItem.Status.PENDING and one.attempts == 0 and one.last_error == ""
    assert _refresh(other).status == OutboxItem.Status.FAILED
    deliver_due()
    assert receiver.ids == [str(one.message_id)]

    client_for(alice).post(url)  # every failed one of the thing
    deliver_due()
    assert receiver.ids == [str(one.message_id), str(other.message_id)]
    assert _refresh(other).status == OutboxItem.Status.DELIVERED


def test_an_operator_replays_with_the_command(grinder, receiver, clock):
    grant = webhook_grant(grinder, receiver.url)
    item = _failed(grant, clock)
    delivered = item_for(grant, window_ends_at=clock())
    OutboxItem.objects.filter(pk=delivered.pk).update(status=OutboxItem.Status.DELIVERED)
    out = StringIO()
    call_command("sharing_replay", "--all", "--dry-run", stdout=out)
    assert "1 failed notification(s) would be replayed" in out.getvalue()
    assert _refresh(item).status == OutboxItem.Status.FAILED

    call_command("sharing_replay", str(item.message_id), str(delivered.message_id), stdout=out, stderr=StringIO())
    assert _refresh(item).status == OutboxItem.Status.PENDING
    assert _refresh(delivered).status == OutboxItem.Status.DELIVERED
    out = StringIO()
    call_command("sharing_deliver_due", "--here", stdout=out)
    assert "1 notification(s) attempted, 1 delivered" in out.getvalue()
    assert receiver.ids == [str(item.message_id)]
