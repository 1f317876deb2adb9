"""The fast receiving path reads the source, its secrets and its things fresh for every message: nothing a change
makes stale may keep working (a rotated or deleted secret, a deleted source, an unlinked or deactivated thing)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingest import services as ingest_services
from ingest.models import Delivery, Source, SourceThing
from ingest.receive import find_source, receive_message
from ssi import webhooks
from twins.models import HistoryEntry, Reading
from twins.verification import verify_twin


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


def test_find_source_brings_the_owners_linked_things_in_one_query(source, grinder):
    with CaptureQueriesContext(connection) as queries:
        found = find_source(source.public_id)
    assert len(queries) == 1
    assert found == source and found.secret_sealed and found.mapping == source.mapping
    assert [(external_id, twin.pk, twin.slug) for external_id, twin in found._prefetched_things] == [
        ("acme-grinder-7", grinder.pk, grinder.slug)
    ]


def test_a_single_message_stores_reading_history_and_latest_in_few_statements(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = signed(secret, {"value": 7.5}, "speed-1")
    found = find_source(source.public_id)
    with CaptureQueriesContext(connection) as queries:
        answer = receive_message(source=found, headers=headers, body=body, now=time.time())
    assert answer.status == 200
    # Replay check, then the transaction: delivery, twin lock, readings, history head, history entry, latest.
    statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT") and "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 7, statements
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
