"""The outbox collectors: an event a grant covers becomes (part of) an OPEN outbox item in the event's own
transaction, on every path that stores it (a page, the API, the ingest webhook, a tag scan, the journal); what it
does not cover, or what happens under an expired grant, becomes nothing; a rollback leaves nothing; a burst of
readings to several parties makes a few items per window, not one per reading and party."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import Client, TestCase
from django.utils import timezone

from didcomm.models import Connection
from sharing import collect, grants
from sharing.models import Grant, OutboxItem
from ssi import webhooks
from ssi.keys import SigningKey
from tests.didcomm.endpoints import completed_connection
from twins import events
from twins import services as twin_services
from twins.models import Reading

pytestmark = pytest.mark.django_db

READING_FIELDS = {"id", "kind", "value", "unit", "time"}


class Clock:
    """The collectors' clock, set by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(timezone.now())
    monkeypatch.setattr(collect, "now", clock)
    return clock


def items(kind: str = "readings") -> list[dict]:
    return [item for row in OutboxItem.objects.filter(kind=kind).order_by("pk") for item in row.payload["items"]]


def test_a_reading_becomes_an_open_item_with_only_what_the_grant_permits(grinder, grant):
    reading = twin_services.reading_add(twin=grinder, value=7.5, kind="temperature", unit="°C", note="private note")
    row = OutboxItem.objects.get()
    assert row.status == OutboxItem.Status.OPEN and row.grant == grant and row.twin == grinder and row.count == 1
    assert row.window_ends_at > timezone.now()
    (item,) = row.payload["items"]
    assert set(item) == READING_FIELDS
    assert item["id"] == reading.pk and item["value"] == 7.5 and item["unit"] == "°C" and item["kind"] == "temperature"


def test_a_grant_of_temperature_readings_does_not_emit_humidity(alice, grinder, connection):
    grants.grant_create(twin=grinder, party=connection, kinds=["readings:temperature"], by=alice)
    twin_services.reading_add(twin=grinder, value=21, kind="temperature")
    twin_services.reading_add(twin=grinder, value=55, kind="humidity")
    assert [item["kind"] for item in items()] == ["temperature"]


def test_location_and_diagnostics_are_not_inside_readings(alice, grinder, connection, endpoint):
    grants.grant_create(twin=grinder, party=connection, kinds=["readings"], by=alice)
    grants.grant_create(twin=grinder, party=endpoint, kinds=["location", "diagnostics"], by=alice)
    for kind in ("temperature", "position", "diag_error_code", "brew_count"):
        twin_services.reading_add(twin=grinder, value=1, kind=kind)
    by_grant = {
        (row.grant.connection_id is not None, row.kind): [i["kind"] for i in row.payload["items"]]
        for row in OutboxItem.objects.select_related("grant")
    }
    assert by_grant == {
        (True, "readings"): ["temperature"],
        (False, "location"): ["position"],
        (False, "diagnostics"): ["diag_error_code"],
    }


def test_an_expired_grant_emits_nothing(alice, grinder, grant):
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    twin_services.reading_add(twin=grinder, value=1)
    assert not OutboxItem.objects.exists()


def test_a_grant_ending_later_still_emits(alice, grinder, connection):
    grants.grant_create(
        twin=grinder, party=connection, kinds=["readings"], expires_at=timezone.now() + timedelta(hours=1), by=alice
    )
    twin_services.reading_add(twin=grinder, value=1)
    assert OutboxItem.objects.count() == 1


def test_a_rolled_back_transaction_leaves_no_item(grinder, grant):
    with pytest.raises(RuntimeError), transaction.atomic():
        twin_services.reading_add(twin=grinder, value=1)
        assert OutboxItem.objects.count() == 1  # written in the event's transaction...
        raise RuntimeError("the change fails after the reading")
    assert not OutboxItem.objects.exists() and not Reading.objects.exists()  # ...and gone with it


def test_a_twin_without_grants_costs_one_query(grinder, django_assert_num_queries):
    event = events.ReadingsStored(twin_id=grinder.pk, owner_id=grinder.owner_id, reading_ids=(1, 2, 3), count=3)
    with django_assert_num_queries(1):
        collect.on_readings_stored(event)


def test_readings_within_the_window_join_one_item_and_the_next_window_opens_another(grinder, grant, clock):
    start = clock.now
    for n in range(3):
        clock.now = start + timedelta(seconds=n)
        twin_services.reading_add(twin=grinder, value=n)
    assert OutboxItem.objects.count() == 1 and OutboxItem.objects.get().count == 3
    clock.now = start + timedelta(seconds=5)  # the window (SHARING_BATCH_SECONDS = 5) has closed
    twin_services.reading_add(twin=grinder, value=9)
    first, second = OutboxItem.objects.order_by("pk")
    assert (first.count, second.count) == (3, 1)
    assert first.window_ends_at == start + timedelta(seconds=5)
    assert second.window_ends_at == start + timedelta(seconds=10)


def test_the_window_is_the_setting(grinder, grant, clock, settings):
    settings.SHARING_BATCH_SECONDS = 1
    twin_services.reading_add(twin=grinder, value=1)
    assert OutboxItem.objects.get().window_ends_at == clock.now + timedelta(seconds=1)


def test_ten_readings_a_second_to_three_parties_make_a_few_items_not_one_per_reading(
    alice, grinder, connection, endpoint, clock
):
    other = completed_connection(twin=grinder, peer=SigningKey.generate(), their_label="Vet")
    for party in (connection, endpoint, other):
        grants.grant_create(twin=grinder, party=party, kinds=["readings"], by=alice)
    start = clock.now
    for n in range(100):  # 10 s at 10 readings a second
        clock.now = start + timedelta(milliseconds=100 * n)
        twin_services.reading_add(twin=grinder, value=n)
    rows = list(OutboxItem.objects.all())
    assert len(rows) == 6  # 3 parties × 2 windows of 5 s
    assert sum(row.count for row in rows) == 300
    assert all(row.count == len(row.payload["items"]) == 50 for row in rows)


def test_a_large_batch_is_split_into_items_of_at_most_max_items(grinder, grant, monkeypatch):
    monkeypatch.setattr(collect, "MAX_ITEMS", 4)
    ids = tuple(twin_services.reading_add(twin=grinder, value=n).pk for n in range(2))
    OutboxItem.objects.all().delete()
    more = [Reading.objects.create(twin=grinder, kind="x", value=n, time=timezone.now()).pk for n in range(8)]
    collect.on_readings_stored(events.ReadingsStored(grinder.pk, grinder.owner_id, ids + tuple(more), 10))
    assert sorted(row.count for row in OutboxItem.objects.all()) == [2, 4, 4]


def test_journal_entries_are_emitted_with_their_action_and_a_delete_carries_no_text(alice, grinder, connection):
    grants.grant_create(twin=grinder, party=connection, kinds=["journal"], by=alice)
    note = twin_services.note_create(twin=grinder, title="Descaled", text="with citric acid")
    note_id = note.pk
    twin_services.note_update(note=note, title="Descaled again")
    twin_services.note_delete(note=note)
    created, edited, deleted = items("journal")
    assert created == {
        "id": note_id,
        "action": "create",
        "title": "Descaled",
        "text": "with citric acid",
        "time": created["time"],
    }
    assert edited["action"] == "edit" and edited["title"] == "Descaled again"
    assert set(deleted) == {"id", "action", "time"} and deleted["action"] == "delete"
    assert not OutboxItem.objects.filter(kind="readings").exists()


@pytest.mark.needs("tags")
def test_a_tag_scan_is_emitted_without_anything_about_who_scanned(alice, grinder, grinder_tag, connection):
    grants.grant_create(twin=grinder, party=connection, kinds=["scans"], by=alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        Client(HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14) Chrome/130").get(f"/t/{grinder_tag.token}")
    (item,) = items("scans")
    assert set(item) == {"time", "count", "by_owner"} and item["count"] == 1 and item["by_owner"] is False
    assert "Android" not in json.dumps(item)


def test_a_reading_logged_on_the_page_is_emitted(alice_client, grinder, grant):
    response = alice_client.post(f"/things/{grinder.slug}/readings/new/", {"value": "12"})
    assert response.status_code in (200, 302)
    assert [item["value"] for item in items()] == [12]


def test_a_reading_posted_to_the_api_is_emitted(alice_api, grinder, grant):
    response = alice_api.post(f"/api/things/{grinder.slug}/readings/", {"value": 4.5}, format="json")
    assert response.status_code == 201
    assert [item["id"] for item in items()] == [response.json()["id"]]


@pytest.mark.needs("ingest")
def test_readings_from_the_ingest_webhook_are_emitted_in_its_transaction(alice, grinder, grant):
    from ingest import services as ingest_services

    source, secret = ingest_services.source_create(owner=alice, name="Acme cloud")
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="g7")
    body = json.dumps({"readings": [{"thing": "g7", "value": n, "kind": "temperature"} for n in range(3)]}).encode()
    headers = webhooks.headers_for(secret, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client().post(
            f"/hooks/{source.public_id}", data=body, content_type="application/json", headers=headers
        )
    assert response.status_code == 200, response.content
    assert sorted(item["value"] for item in items()) == [0, 1, 2]
    assert set(items()[0]) == READING_FIELDS


def test_a_removed_connection_receives_nothing(grinder, grant, connection):
    Connection.objects.filter(pk=connection.pk).update(state=Connection.State.ABANDONED)
    twin_services.reading_add(twin=grinder, value=1)
    assert not OutboxItem.objects.exists()


def test_item_times_are_utc_iso_8601(grinder, grant):
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    twin_services.reading_add(twin=grinder, value=1, time=when)
    assert items()[0]["time"] == "2026-03-01T08:00:00Z"
