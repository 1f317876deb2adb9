"""Real concurrent deliveries on PostgreSQL: the same webhook-id at the same moment stores once; batches for the
same things in parallel neither deadlock nor lose readings."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from ingest.models import Delivery
from ssi import webhooks
from tests.conftest import run_together
from twins import events
from twins import services as twin_services
from twins.models import HistoryEntry, Reading
from twins.verification import verify_twin

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL"
    ),
]


def post(source, secret: str, payload: dict, msg_id: str) -> Callable[[], tuple[int, dict]]:
    body = json.dumps(payload).encode()

    def job() -> tuple[int, dict]:
        headers = webhooks.headers_for(secret, msg_id, int(time.time()), body)
        response = Client().post(
            f"/hooks/{source.public_id}", data=body, content_type="application/json", headers=headers
        )
        return response.status_code, response.json()

    return job


def test_the_same_webhook_id_sent_at_the_same_moment_stores_once(source_and_secret, grinder):
    source, secret = source_and_secret
    payload = {"readings": [{"value": n} for n in range(50)]}
    outcomes = run_together(*(post(source, secret, payload, "msg_race") for _ in range(6)))
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    results = [result for _, result in outcomes]
    assert [status for status, _ in results] == [200] * 6
    assert {body["stored"] for _, body in results} == {50}
    assert Reading.objects.filter(twin=grinder).count() == 50
    assert Delivery.objects.filter(source=source).count() == 1
    assert HistoryEntry.objects.filter(twin=grinder, kind="reading").count() == 1


def test_parallel_batches_for_the_same_things_all_land_without_deadlock(source_and_secret, grinder, alice):
    from ingest import services as ingest_services

    source, secret = source_and_secret
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=source, twin=kettle)
    # Each batch names the things in a different order; row locks are taken in pk order regardless.
    jobs = []
    for n in range(6):
        things = [grinder.slug, kettle.slug] if n % 2 else [kettle.slug, grinder.slug]
        payload = {"readings": [{"thing": slug, "value": n} for slug in things for _ in range(20)]}
        jobs.append(post(source, secret, payload, f"msg_{n}"))
    outcomes = run_together(*jobs)
    assert [result[0] if kind == "ok" else result for kind, result in outcomes] == [200] * 6
    assert Reading.objects.filter(twin=grinder).count() == 120
    assert Reading.objects.filter(twin=kettle).count() == 120
    assert verify_twin(grinder).ok and verify_twin(kettle).ok


def test_a_single_message_is_three_statements_the_last_committing_on_its_own(source_and_secret, grinder):
    from django.test.utils import CaptureQueriesContext

    from ingest.receive import find_source, receive_message

    source, secret = source_and_secret
    body = json.dumps({"value": 7.5}).encode()
    headers = webhooks.headers_for(secret, "msg_count", int(time.time()), body)
    with CaptureQueriesContext(connection) as queries:
        found = find_source(source.public_id, "msg_count")
        answer = receive_message(source=found, headers=headers, body=body, now=time.time())
    assert answer.status == 200
    statements = [q["sql"] for q in queries]
    if events.has_subscribers(events.ReadingsStored, in_transaction=True):
        # An in-transaction subscriber (sharing's outbox, when installed) gets the write wrapped in a transaction of
        # its own, so its rows commit with the readings (ingest.store); the rest is as without one.
        end = statements.index("COMMIT")
        assert statements[2] == "BEGIN" and "ingest_store_group" in statements[3], statements[:6]
        statements = [*statements[:2], statements[3], *statements[end + 1 :]]
    # The source with the first answer to the id, the things named, the write, committing on its own. What follows
    # is the history flush, which the tests' inline task backend runs at once, in its own transaction.
    assert "ingest_delivery" in statements[0] and "ingest_source_things" in statements[1]
    assert "ingest_store_group" in statements[2] and "ingest_historyflush" in statements[3], statements[:4]
    assert Reading.objects.get(twin=grinder).value == 7.5
    assert HistoryEntry.objects.filter(twin=grinder, kind="reading").count() == 1
    assert verify_twin(grinder).ok


def test_messages_and_flushes_racing_leave_every_reading_in_the_history_exactly_once(source_and_secret, grinder, alice):
    from ingest import services as ingest_services
    from ingest.history import flush_all, readings_to_history
    from ingest.models import HistoryFlush, PendingReadings

    source, secret = source_and_secret
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")

    def sender(n: int) -> Callable[[], list[int]]:
        def job() -> list[int]:
            thing = "kettle" if n % 2 else "acme-grinder-7"
            return [post(source, secret, {"thing": thing, "value": n * 100 + k}, f"msg_{n}_{k}")()[0] for k in range(8)]

        return job

    def flusher() -> int:
        return sum(readings_to_history(twin_id=twin.pk) for _ in range(15) for twin in (grinder, kettle))

    outcomes = run_together(*(sender(n) for n in range(4)), flusher, flusher)
    assert [kind for kind, _ in outcomes] == ["ok"] * 6, outcomes
    assert all(status == 200 for _, statuses in outcomes[:4] for status in statuses)
    flush_all()
    assert not PendingReadings.objects.exists() and not HistoryFlush.objects.exists()
    for twin in (grinder, kettle):
        committed = []
        for entry in HistoryEntry.objects.filter(twin=twin, kind="reading").order_by("seq"):
            content = entry.entry["content"]
            committed += [r["reading"] for r in content.get("readings", [content])]
        assert sorted(committed) == sorted(Reading.objects.filter(twin=twin).values_list("pk", flat=True))
        assert len(committed) == len(set(committed)) == 16
        assert verify_twin(twin).ok


def test_the_web_hooks_single_message_reads_whether_its_source_feeds_a_live_thing_with_the_source(
    source_and_secret, grinder
):
    # The 308/409 for a source whose things all moved or are arriving (ingest.apis._moved) needs to know whether it
    # feeds a live thing: asked in the source's own query, not in a round trip of its own before it.
    from django.test.utils import CaptureQueriesContext

    source, secret = source_and_secret
    body = json.dumps({"value": 7.5}).encode()
    headers = webhooks.headers_for(secret, "msg_hook_count", int(time.time()), body)
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(
            f"/hooks/{source.public_id}", data=body, content_type="application/json", headers=headers
        )
    assert response.status_code == 200
    statements = [q["sql"] for q in queries]
    write = next(n for n, sql in enumerate(statements) if "ingest_store_group" in sql)
    assert write == (3 if statements[2] == "BEGIN" else 2), statements[:4]  # BEGIN: see the test above
    assert "ingest_delivery" in statements[0] and "ingest_sourcething" in statements[0]
    assert "ingest_source_things" in statements[1]
