"""twins.events.ReadingsStored from ingestion: one event per thing per stored message, on every path through
ingest.store (a small message: PostgreSQL's ingest_store_small or the ORM; a batch: COPY or the ORM; the gateway's
group commit), sent in the storing transaction. Run on both databases."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import TestCase

from ingest import services as ingest_services
from ingest.history import DEFER_AT_MOST
from ingest.models import Delivery
from ingest.receive import Incoming, receive_many, receive_message
from ssi import webhooks
from twins import events
from twins import services as twin_services
from twins.models import Reading, Twin


@pytest.fixture
def heard() -> Iterator[list[events.ReadingsStored]]:
    """What an after-commit subscriber hears."""
    heard: list[events.ReadingsStored] = []
    events.subscribe(events.ReadingsStored, heard.append)
    yield heard
    events.unsubscribe(events.ReadingsStored, heard.append)


@pytest.fixture
def kettle(alice, source) -> Twin:
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")
    return kettle


def as_stored(twin: Twin) -> events.ReadingsStored:
    """The event that says exactly the thing's readings in the database were stored."""
    ids = tuple(Reading.objects.filter(twin=twin).order_by("pk").values_list("pk", flat=True))
    return events.ReadingsStored(twin_id=twin.pk, owner_id=twin.owner_id, reading_ids=ids, count=len(ids))


def incoming(source, secret: str, payload: dict, msg_id: str) -> Incoming:
    body = json.dumps(payload).encode()
    return Incoming(source.public_id, webhooks.headers_for(secret, msg_id, int(time.time()), body), body, time.time())


def test_a_single_reading_by_webhook_is_heard_once_with_its_id(sender, grinder, heard):
    assert sender.post({"value": 7.5}).status_code == 200
    assert heard == [as_stored(grinder)] and heard[0].count == 1


def test_a_small_message_naming_two_things_is_heard_once_per_thing(sender, grinder, kettle, heard):
    payload = {"readings": [{"thing": "kettle", "value": 90}, {"value": 3, "thing": grinder.slug}] * 2}
    assert sender.post(payload).status_code == 200
    assert sorted(heard, key=lambda event: event.twin_id) == sorted(
        [as_stored(grinder), as_stored(kettle)], key=lambda event: event.twin_id
    )


def test_a_batch_is_heard_once_per_thing_with_every_reading_id(sender, grinder, kettle, heard):
    readings = [{"thing": name, "value": n} for n in range(DEFER_AT_MOST) for name in ("kettle", "acme-grinder-7")]
    assert sender.post({"readings": readings}).status_code == 200
    assert {event.twin_id: event for event in heard} == {grinder.pk: as_stored(grinder), kettle.pk: as_stored(kettle)}
    assert len(heard) == 2 and heard[0].count == DEFER_AT_MOST


def test_a_retry_stores_nothing_and_is_not_heard(sender, grinder, heard):
    assert sender.post({"value": 1}, msg_id="msg_once").status_code == 200
    assert sender.post({"value": 1}, msg_id="msg_once").status_code == 200
    assert len(heard) == 1


def test_a_deactivated_thing_refuses_the_message_and_nothing_is_heard(sender, grinder, heard):
    Twin.objects.filter(pk=grinder.pk).update(deactivated_at="2026-01-01T00:00:00Z")
    assert sender.post({"value": 1}).status_code == 409
    assert sender.post({"readings": [{"value": n} for n in range(DEFER_AT_MOST + 1)]}).status_code == 409
    assert heard == []


def test_each_message_of_a_group_commit_is_heard_for_its_things(source_and_secret, grinder, kettle, heard):
    source, secret = source_and_secret
    group = [
        incoming(source, secret, {"thing": "kettle", "value": 1}, "msg-1"),
        incoming(source, secret, {"thing": "acme-grinder-7", "value": 2}, "msg-2"),
        incoming(source, secret, {"readings": [{"thing": "kettle", "value": n} for n in range(60)]}, "msg-3"),
    ]
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert [answer.status for answer in receive_many(group)] == [200] * 3
    kettle_ids = list(Reading.objects.filter(twin=kettle).order_by("pk").values_list("pk", flat=True))
    assert [(event.twin_id, event.count) for event in heard] == [(kettle.pk, 1), (grinder.pk, 1), (kettle.pk, 60)]
    assert [list(event.reading_ids) for event in heard if event.twin_id == kettle.pk] == [
        kettle_ids[:1],
        kettle_ids[1:],
    ]


def test_a_group_that_rolls_back_is_heard_only_as_its_messages_are_stored_again(source_and_secret, grinder, heard):
    source, secret = source_and_secret
    group = [incoming(source, secret, {"value": n}, f"msg-{n}") for n in range(3)]
    group.append(incoming(source, secret, {"value": 99}, "poison"))  # stored last in the group: after the others

    def poison(execute, sql, params, many, context):
        if ("ingest_store_group" in sql or "INSERT INTO" in sql) and "poison" in str(params):
            raise IntegrityError("a constraint failed (test)")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(poison), TestCase.captureOnCommitCallbacks(execute=True):
        answers = receive_many(group)
    assert [answer.status for answer in answers] == [200, 200, 200, 503]
    # The group's events for msg-0..2 went with its rollback; each message stored again alone is heard once.
    assert sorted(event.reading_ids for event in heard) == [
        (pk,) for pk in Reading.objects.order_by("pk").values_list("pk", flat=True)
    ]


def test_a_message_rolled_back_by_its_caller_is_heard_only_in_the_transaction(source_and_secret, grinder, heard):
    source, secret = source_and_secret
    within: list[events.ReadingsStored] = []

    def in_transaction(event: events.ReadingsStored) -> None:
        # Called at once, in the storing transaction: the readings it names are there to be read.
        assert Reading.objects.filter(pk__in=event.reading_ids).count() == event.count
        within.append(event)

    events.subscribe(events.ReadingsStored, in_transaction, in_transaction=True)
    try:
        for payload in ({"value": 1}, {"readings": [{"value": n} for n in range(DEFER_AT_MOST + 1)]}):
            body = json.dumps(payload).encode()
            headers = webhooks.headers_for(secret, f"msg-{len(within)}", int(time.time()), body)
            with TestCase.captureOnCommitCallbacks(execute=True), pytest.raises(RuntimeError):
                with transaction.atomic():
                    assert receive_message(source=source, headers=headers, body=body, now=time.time()).ok
                    raise RuntimeError("the caller's transaction rolls back")
    finally:
        events.unsubscribe(events.ReadingsStored, in_transaction)
    assert [event.count for event in within] == [1, DEFER_AT_MOST + 1]
    assert heard == [] and not Reading.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_in_transaction_subscriber_rolls_a_lone_message_back(source_and_secret, grinder, heard):
    # No transaction around it: on PostgreSQL a lone small message is otherwise one statement committing on its own.
    source, secret = source_and_secret

    def refuse(event: events.ReadingsStored) -> None:
        raise RuntimeError("the subscriber's own write failed")

    events.subscribe(events.ReadingsStored, refuse, in_transaction=True)
    try:
        for n, payload in enumerate(({"value": 1}, {"readings": [{"value": n} for n in range(DEFER_AT_MOST + 1)]})):
            body = json.dumps(payload).encode()
            headers = webhooks.headers_for(secret, f"msg-{n}", int(time.time()), body)
            with pytest.raises(RuntimeError):
                receive_message(source=source, headers=headers, body=body, now=time.time())
    finally:
        events.unsubscribe(events.ReadingsStored, refuse)
    assert heard == []
    assert not Reading.objects.exists() and not Delivery.objects.exists()
