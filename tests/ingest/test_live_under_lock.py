"""The race of issue 18: a move's confirmation (leaving_to) or release (moved_to) committing between receiving's
checks and the write. The write checks again under the things' row locks (ingest.live.check_locked, and the same
condition in ingest_store_small): the message is refused, nothing of it is stored and no Delivery row acknowledges
it, so the sender's retry gets the answer the thing's state now calls for.

On PostgreSQL with a real concurrent transaction holding the twin's row lock while the message arrives (the single
message's function, the batch's lock statement, and the gateway's group); on every database (SQLite's ORM path
too) by changing the thing between the checks and the write."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from ingest import history as pending_history
from ingest import live
from ingest import services as ingest_services
from ingest.mapping import RawReading, clean_mapping, extract
from ingest.models import Delivery, PendingReadings
from ingest.receive import Incoming, receive_many
from ssi import webhooks
from twins import services as twin_services
from twins.history import lock_twin
from twins.leaving import TwinLeaving
from twins.models import HistoryEntry, Reading, Twin

NEW_HOST = "https://new.example.org"
STATES = {
    "leaving": {"leaving_to": NEW_HOST},
    "moved": {"moved_to": NEW_HOST, "leaving_to": NEW_HOST},
    "arriving": {"arriving": True},
}
BATCH = pending_history.DEFER_AT_MOST + 1  # a batch: the other shape of the write


def readings_for(count: int) -> list[RawReading]:
    """`count` readings of the source's one thing, as a payload maps them."""
    return extract({"readings": [{"value": n} for n in range(count)]}, clean_mapping({}), now=timezone.now())


def assert_nothing_stored(webhook_id: str) -> None:
    assert not Reading.objects.exists()
    assert not Delivery.objects.filter(webhook_id=webhook_id).exists()
    assert not PendingReadings.objects.exists()
    assert not HistoryEntry.objects.filter(kind=HistoryEntry.Kind.READING).exists()


@pytest.mark.parametrize("count", [1, BATCH], ids=["single", "batch"])
@pytest.mark.parametrize("state", list(STATES))
def test_a_thing_that_stops_living_here_between_the_checks_and_the_write_stores_nothing(source, grinder, state, count):
    readings = ingest_services.resolve_readings(source=source, raw=readings_for(count), now=timezone.now())
    assert list(readings) == [grinder]  # read live
    Twin.objects.filter(pk=grinder.pk).update(**STATES[state])

    expected = TwinLeaving if state == "leaving" else live.NotLive
    with pytest.raises(expected) as refused:
        ingest_services.delivery_store(source=source, webhook_id=f"raced-{state}", readings=readings)

    if state == "leaving":
        assert refused.value.status == 503 and refused.value.extra["leaving"] == [grinder.slug]
    else:
        assert grinder.slug in refused.value.message
    assert_nothing_stored(f"raced-{state}")


# --- a real concurrent transaction (PostgreSQL: SQLite serializes writers, there is nothing to race) ---------------


def _wait_until_a_transaction_waits_for_a_lock() -> None:
    """Until another connection of this database waits for a lock (pg_stat_activity); not a timing assert: the wait
    ends as soon as it is seen, and fails the test only if it never is."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the message never waited for the twin's lock")


def _signed(source, secret: str, payload, webhook_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, webhooks.headers_for(secret, webhook_id, int(time.time()), body)


def _post(source, secret: str, payload, webhook_id: str) -> list[tuple[int, str | None, dict]]:
    body, headers = _signed(source, secret, payload, webhook_id)
    response = Client().post(f"/hooks/{source.public_id}", data=body, content_type="application/json", headers=headers)
    return [(response.status_code, response.get("Retry-After"), response.json())]


def _group(source, secret: str, payloads: list[tuple[dict, str]]) -> list[tuple[int, str | None, dict]]:
    messages = []
    for payload, webhook_id in payloads:
        body, headers = _signed(source, secret, payload, webhook_id)
        messages.append(Incoming(source.public_id, headers, body, time.time()))
    answers = receive_many(messages)
    return [(a.status, None if a.retry_after is None else str(a.retry_after), a.body) for a in answers]


def _while_the_lock_is_held(twin: Twin, change: dict, send) -> list:
    """`send()` in a thread of its own while another transaction holds `twin`'s row lock and changes it; that
    transaction commits once the message waits for the lock. What `send` returned."""
    held, release = threading.Event(), threading.Event()
    outcome: list = []

    def hold() -> None:
        try:
            with transaction.atomic():
                lock_twin(twin)
                Twin.objects.filter(pk=twin.pk).update(**change)
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def sender() -> None:
        try:
            outcome.append(send())
        except Exception as exc:  # reported to the test
            outcome.append(exc)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(timeout=30)
    sending = threading.Thread(target=sender)
    sending.start()
    try:
        _wait_until_a_transaction_waits_for_a_lock()
    finally:
        release.set()
        holder.join(timeout=60)
        sending.join(timeout=60)
    assert not sending.is_alive(), "the message never finished"
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    return outcome[0]


@pytest.mark.parametrize("count", [1, BATCH], ids=["single", "batch"])
@pytest.mark.parametrize("state", ["leaving", "moved"])
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serializes writers; the race needs PostgreSQL")
def test_a_hook_message_waiting_for_the_lock_of_a_confirmation_or_release_is_refused_and_stores_nothing(
    source_and_secret, grinder, state, count
):
    source, secret = source_and_secret
    payload = {"readings": [{"value": n} for n in range(count)]}

    [(status, retry_after, body)] = _while_the_lock_is_held(
        grinder, STATES[state], lambda: _post(source, secret, payload, "raced")
    )

    if state == "leaving":
        assert (status, retry_after) == (503, "60") and "new.example.org" in body["message"]
    else:
        assert (status, retry_after) == (409, None) and NEW_HOST in body["message"]
    assert "Nothing of this message was stored" in body["message"]
    assert_nothing_stored("raced")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serializes writers; the race needs PostgreSQL")
def test_a_gateway_group_waiting_for_a_confirmations_lock_refuses_only_the_leaving_things_message(
    source_and_secret, grinder, alice
):
    source, secret = source_and_secret
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp", reading_unit="C")
    ingest_services.source_link_thing(source=source, twin=kettle, external_id="kettle")
    big = {"readings": [{"thing": "acme-grinder-7", "value": n} for n in range(BATCH)]}
    payloads = [
        ({"thing": "acme-grinder-7", "value": 1}, "grinder-single"),
        ({"thing": "kettle", "value": 90}, "kettle-single"),
        (big, "grinder-batch"),
    ]

    answers = _while_the_lock_is_held(grinder, STATES["leaving"], lambda: _group(source, secret, payloads))

    assert [(status, retry_after) for status, retry_after, _ in answers] == [(503, "60"), (200, None), (503, "60")]
    assert list(Reading.objects.values_list("twin_id", "value")) == [(kettle.pk, 90.0)]
    assert list(Delivery.objects.values_list("webhook_id", flat=True)) == ["kettle-single"]
