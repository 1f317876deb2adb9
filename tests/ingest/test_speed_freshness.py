"""The fast receiving path reads the source, its secrets and its things fresh for every message: nothing a change
makes stale may keep working (a rotated or deleted secret, a deleted source, an unlinked or deactivated thing)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingest import services as ingest_services
from ingest.mapping import DEFAULT_MAPPING
from ingest.mapping import extract as extract_readings
from ingest.models import Delivery, Source, SourceThing
from ingest.receive import find_source, receive_message
from ssi import webhooks
from twins import services as twin_services
from twins.models import HistoryEntry, Reading
from twins.verification import verify_twin


def extract(payload: dict) -> list:
    return extract_readings(payload, DEFAULT_MAPPING, now=timezone.now())


def signed(secret: str, payload: dict, msg_id: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return webhooks.headers_for(secret, msg_id, int(time.time()), body), body


def test_a_rotated_secret_is_refused_at_once_after_a_message_was_accepted(sender):
    assert sender.post({"value": 1}).status_code == 200
    _source, new_secret = ingest_services.source_rotate_secret(source=sender.source, overlap=timedelta(0))
    assert sender.post({"value": 2}).status_code == 401
    assert sender.post({"value": 3}, secret=new_secret).status_code == 200


def test_the_previous_secret_ends_at_once_when_the_overlap_is_ended(sender):
    source, new_secret = ingest_services.source_rotate_secret(source=sender.source, overlap=timedelta(hours=1))
    assert sender.post({"value": 1}).status_code == 200  # still valid during the overlap
    ingest_services.source_end_overlap(source=Source.objects.get(pk=source.pk))
    assert sender.post({"value": 2}).status_code == 401
    assert sender.post({"value": 3}, secret=new_secret).status_code == 200


def test_a_deleted_source_is_404_at_once(sender):
    assert sender.post({"value": 1}).status_code == 200
    ingest_services.source_delete(source=sender.source)
    response = sender.post({"value": 2})
    assert response.status_code == 404 and response.json() == {"message": "Not found.", "extra": {}}
    assert find_source(sender.source.public_id) is None


def test_an_unlinked_thing_is_refused_at_once(sender, grinder):
    assert sender.post({"value": 1}).status_code == 200
    ingest_services.source_unlink_thing(link=SourceThing.objects.get(source=sender.source, twin=grinder))
    response = sender.post({"thing": grinder.slug, "value": 2})
    assert response.status_code == 400 and response.json()["extra"]["pointer"] == "/thing"


def test_find_source_brings_the_first_answer_to_the_message_id_in_the_same_query(sender, source):
    assert sender.post({"value": 1}, msg_id="speed-seen").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        seen = find_source(source.public_id, "speed-seen")
        unseen = find_source(source.public_id, "speed-new")
    assert len(queries) == 2
    assert seen == source and seen.secret_sealed and seen.mapping == source.mapping
    assert seen._replay[0] == "speed-seen" and seen._replay[1].body == {"stored": 1, "webhook_id": "speed-seen"}
    assert unseen._replay == ("speed-new", None)


def test_only_the_things_a_message_names_are_read(source, grinder, alice):
    for n in range(5):
        twin = twin_services.twin_create(owner=alice, name=f"Meter {n}", reading_kind="temp")
        ingest_services.source_link_thing(source=source, twin=twin, external_id=f"m{n}")
    raw = extract({"readings": [{"thing": "m3", "value": 1}, {"thing": grinder.slug, "value": 2}]})
    with CaptureQueriesContext(connection) as queries:
        by_external, by_slug, some = ingest_services.source_things(
            source=source, names={r.thing for r in raw}, only=False
        )
    assert len(queries) == 1
    assert list(by_external) == ["m3"] and list(by_slug) == [grinder.slug] and some == []


def test_a_single_message_stores_reading_and_latest_now_and_its_history_after_commit(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = signed(secret, {"value": 7.5}, "speed-1")
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = receive_message(
            source=find_source(source.public_id, "speed-1"), headers=headers, body=body, now=time.time()
        )
    assert answer.status == 200
    grinder.refresh_from_db()
    assert grinder.latest_value == 7.5
    assert HistoryEntry.objects.filter(twin=grinder, kind="reading").count() == 1
    assert verify_twin(grinder).ok


def test_a_repeat_and_a_concurrent_duplicate_answer_with_the_first_response(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = signed(secret, {"value": 7.5}, "speed-dup")
    first = receive_message(source=find_source(source.public_id), headers=headers, body=body, now=time.time())
    # The replay SELECT missed (a concurrent delivery not yet committed): the INSERT's conflict answers instead.
    outcome = ingest_services.delivery_store(
        source=source,
        webhook_id="speed-dup",
        readings={grinder: [Reading(kind="x", value=1.0, unit="", time=timezone.now())]},
    )
    assert (outcome.status, outcome.body, outcome.replayed) == (first.status, first.body, True)
    assert Reading.objects.filter(twin=grinder).count() == 1
    assert Delivery.objects.filter(source=source).count() == 1
