"""ingest.receive.receive_message: the webhook's checks and storage without HTTP (the MQTT bridge's entry point)."""

from __future__ import annotations

import json
import time

from django.db import IntegrityError, OperationalError, connection
from django.test import TestCase
from django.utils import timezone

from ingest import services as ingest_services
from ingest.history import flush_all
from ingest.models import Delivery
from ingest.receive import Incoming, find_source, not_found, receive_many, receive_message
from ssi import webhooks
from twins import services as twin_services
from twins.models import HistoryEntry, Reading, Twin
from twins.verification import verify_twin


def message(secret: str, payload: dict, msg_id: str = "msg_1") -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return webhooks.headers_for(secret, msg_id, int(time.time()), body), body


def test_a_signed_message_is_stored_and_a_repeat_gets_the_first_answer(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = message(secret, {"value": 8})

    first = receive_message(source=source, headers=headers, body=body, now=time.time())
    again = receive_message(source=source, headers=headers, body=body, now=time.time())

    assert (first.status, first.body, first.retry_after) == (200, {"stored": 1, "webhook_id": "msg_1"}, None)
    assert (again.status, again.body) == (first.status, first.body)
    assert Reading.objects.filter(twin=grinder).count() == 1


def test_header_names_are_matched_whatever_their_case(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = message(secret, {"value": 8})
    answer = receive_message(
        source=source, headers={name.upper(): value for name, value in headers.items()}, body=body, now=time.time()
    )
    assert answer.ok


def test_a_message_is_checked_against_the_clock_it_is_given(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = message(secret, {"value": 8})
    answer = receive_message(source=source, headers=headers, body=body, now=time.time() + 3600)
    assert answer.status == 401 and "too old" in answer.body["message"]


def test_rejections_answer_with_the_webhooks_error_shape(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = message(webhooks.new_secret(), {"value": 8})
    assert receive_message(source=source, headers=headers, body=body, now=time.time()).status == 401
    headers, body = message(secret, {"value": "warm"}, msg_id="msg_2")
    answer = receive_message(source=source, headers=headers, body=body, now=time.time())
    assert answer.status == 400 and answer.body["extra"]["pointer"] == "/value"
    assert receive_message(source=source, headers={}, body=b"{}", now=time.time()).status == 400
    assert not Delivery.objects.exists()


def test_an_unavailable_database_is_a_503_with_retry_after_not_an_exception(source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = message(secret, {"value": 8})

    def down(execute, sql, params, many, context):
        raise OperationalError("the database is down (test)")

    with connection.execute_wrapper(down):
        answer = receive_message(source=source, headers=headers, body=body, now=time.time())
    assert answer.status == 503 and answer.retry_after
    assert Reading.objects.filter(twin=grinder).count() == 0


def test_find_source_knows_only_public_ids(source):
    assert find_source(source.public_id) == source
    assert find_source("") is None and find_source("x" * 33) is None and find_source("nosuch") is None
    assert find_source("no\u0000such") is None


def test_an_unverified_webhook_id_that_could_not_be_valid_never_reaches_the_database(source):
    for webhook_id in ("a\u0000b", "x" * 1000, "two words\n"):
        found = find_source(source.public_id, webhook_id)
        assert found == source and found._replay == (None, None)


# --- Several messages at once (receive_many: the ingest gateway's group commit) ---------------------------------


def incoming(source, secret: str, payload: dict, msg_id: str, **changes) -> Incoming:
    headers, body = message(secret, payload, msg_id)
    fields = {"public_id": source.public_id, "headers": headers, "body": body, "now": time.time(), **changes}
    return Incoming(**fields)


def receive_group(messages: list[Incoming]) -> list:
    # The test's transaction never commits: run what waits for the COMMIT (pushes, history flushes) as it would.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return receive_many(messages)


def test_each_message_of_a_group_gets_the_answer_it_would_get_alone(source_and_secret, grinder, alice):
    source, secret = source_and_secret
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")
    Twin.objects.filter(pk=kettle.pk).update(deactivated_at=timezone.now())
    group = [
        incoming(source, secret, {"thing": "acme-grinder-7", "value": 1}, "ok-1"),
        incoming(source, secret, {"thing": "nosuch", "value": 2}, "unknown-thing"),
        incoming(source, secret, {"thing": "acme-grinder-7", "value": 3}, "ok-1"),  # a retry, in the same group
        incoming(source, secret, {"value": 4}, "bad-signature", headers={**message(secret, {}, "x")[0]}),
        incoming(source, secret, {"value": 5}, "unknown-source", public_id="nosuch"),
        incoming(source, secret, {"value": 6}, "too-large", body=None),
        incoming(source, secret, {"thing": "kettle", "value": 7}, "deactivated"),
        incoming(source, secret, {"readings": [{"thing": "acme-grinder-7", "value": n} for n in range(60)]}, "big"),
        incoming(source, secret, {"thing": "acme-grinder-7", "value": "warm"}, "not-a-number"),
    ]
    answers = receive_group(group)

    assert [answer.status for answer in answers] == [200, 400, 200, 401, 404, 413, 409, 200, 400]
    assert answers[0].body == answers[2].body == {"stored": 1, "webhook_id": "ok-1"}
    assert answers[1].body["extra"] == {"pointer": "/thing"}
    assert answers[4].body == not_found().body
    assert answers[7].body == {"stored": 60, "webhook_id": "big"}
    assert answers[8].body["extra"] == {"pointer": "/value"}
    assert Reading.objects.filter(twin=grinder).count() == 61
    assert not Reading.objects.filter(twin=kettle).exists()
    assert set(Delivery.objects.values_list("webhook_id", flat=True)) == {"ok-1", "big"}
    # Alone, each gets the same answer (the accepted ones now as retries: their first answer).
    alone = [receive_group([one])[0] for one in group]
    assert [(a.status, a.body) for a in alone] == [(a.status, a.body) for a in answers]
    assert Reading.objects.filter(twin=grinder).count() == 61


def test_a_message_that_fails_the_groups_transaction_fails_alone(source_and_secret, grinder):
    source, secret = source_and_secret

    def poison(execute, sql, params, many, context):
        # Storing it (PostgreSQL's ingest_store_group, or the ORM's INSERT elsewhere) breaks a constraint.
        writes = "ingest_store_group" in sql or "INSERT INTO" in sql
        if writes and "poison" in str(params):
            raise IntegrityError("a constraint failed (test)")
        return execute(sql, params, many, context)

    group = [incoming(source, secret, {"value": n}, f"msg-{n}") for n in range(3)]
    group.insert(1, incoming(source, secret, {"value": 99}, "poison"))
    with connection.execute_wrapper(poison):
        answers = receive_group(group)

    assert [answer.status for answer in answers] == [200, 503, 200, 200]
    assert answers[1].retry_after and answers[1].body["message"]
    assert sorted(Reading.objects.filter(twin=grinder).values_list("value", flat=True)) == [0, 1, 2]
    assert not Delivery.objects.filter(webhook_id="poison").exists()
    assert verify_twin(grinder).ok


def test_an_outage_answers_503_to_every_message_of_the_group(source_and_secret, grinder):
    source, secret = source_and_secret

    def down(execute, sql, params, many, context):
        raise OperationalError("the database is down (test)")

    group = [incoming(source, secret, {"value": n}, f"msg-{n}") for n in range(3)]
    with connection.execute_wrapper(down):
        answers = receive_group(group)
    assert [(answer.status, bool(answer.retry_after)) for answer in answers] == [(503, True)] * 3
    assert not Reading.objects.filter(twin=grinder).exists()


def test_every_reading_of_a_group_is_pushed_and_enters_the_history(source_and_secret, grinder):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from core.live import owner_group

    source, secret = source_and_secret
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(owner_group(grinder.owner_id), channel)
    answers = receive_group([incoming(source, secret, {"value": n}, f"msg-{n}") for n in range(4)])

    assert [answer.status for answer in answers] == [200] * 4
    heard = [async_to_sync(layer.receive)(channel)["event"]["reading"]["value"] for _ in range(4)]
    assert heard == [0, 1, 2, 3]
    flush_all()  # whatever the immediate task backend has not appended yet
    report = verify_twin(grinder)
    assert report.ok
    committed = HistoryEntry.objects.filter(twin=grinder, kind="reading")
    assert sum(len(e.entry["content"].get("readings", [None])) for e in committed) == 4


def batch(source, secret: str, thing: str, msg_id: str, first: int = 0) -> Incoming:
    # Over ingest.history.DEFER_AT_MOST readings: the batch path (COPY and a signed entry per thing on PostgreSQL).
    readings = [{"thing": thing, "value": first + n, "time": 1763719200 + first + n} for n in range(60)]
    return incoming(source, secret, {"readings": readings}, msg_id)


def test_batches_stored_together_each_get_the_answer_they_would_get_alone(source_and_secret, grinder, alice):
    # The ingest gateway's large committer stores the batches that arrived together in one transaction.
    source, secret = source_and_secret
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")
    Twin.objects.filter(pk=kettle.pk).update(deactivated_at=timezone.now())
    group = [
        batch(source, secret, "acme-grinder-7", "big-1"),
        batch(source, secret, "kettle", "big-deactivated"),
        batch(source, secret, "acme-grinder-7", "big-2", first=100),
        batch(source, secret, "acme-grinder-7", "big-1"),  # a retry, in the same group
    ]
    answers = receive_group(group)

    assert [(a.status, a.body.get("stored")) for a in answers] == [(200, 60), (409, None), (200, 60), (200, 60)]
    assert answers[3].body == answers[0].body == {"stored": 60, "webhook_id": "big-1"}
    assert Reading.objects.filter(twin=grinder).count() == 120
    assert not Reading.objects.filter(twin=kettle).exists()
    assert set(Delivery.objects.values_list("webhook_id", flat=True)) == {"big-1", "big-2"}
    assert verify_twin(grinder).ok
    alone = [receive_group([one])[0] for one in group]
    assert [(a.status, a.body) for a in alone] == [(a.status, a.body) for a in answers]
    assert Reading.objects.filter(twin=grinder).count() == 120


def test_a_batch_that_fails_the_groups_transaction_fails_alone(source_and_secret, grinder):
    source, secret = source_and_secret

    def poison(execute, sql, params, many, context):
        if "INSERT INTO" in sql and "poison" in str(params):  # its Delivery row (PostgreSQL's COPY path or the ORM)
            raise IntegrityError("a constraint failed (test)")
        return execute(sql, params, many, context)

    group = [batch(source, secret, "acme-grinder-7", f"big-{n}", first=100 * n) for n in range(3)]
    group.insert(1, batch(source, secret, "acme-grinder-7", "poison", first=1000))
    with connection.execute_wrapper(poison):
        answers = receive_group(group)

    assert [answer.status for answer in answers] == [200, 503, 200, 200]
    assert Reading.objects.filter(twin=grinder).count() == 180
    assert not Delivery.objects.filter(webhook_id="poison").exists()
    assert verify_twin(grinder).ok
