"""twins.events: the seam features hang on. In-transaction subscribers write with the change; the others hear it
only once it has committed, and never when it rolled back."""

from __future__ import annotations

import pytest
from django.db import transaction

from twins import events, services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    """Subscribe recorders to every event type, in both kinds; unsubscribe after the test."""
    calls: list[tuple[str, object, bool]] = []
    kinds = (
        events.TwinCreated,
        events.ReadingsStored,
        events.JournalChanged,
        events.Transferred,
        events.Deactivated,
    )

    def now(event):
        calls.append(("now", event, transaction.get_connection().in_atomic_block))

    def later(event):
        calls.append(("later", event, transaction.get_connection().in_atomic_block))

    for kind in kinds:
        events.subscribe(kind, now, in_transaction=True)
        events.subscribe(kind, later)
    yield calls
    for kind in kinds:
        events.unsubscribe(kind, now)
        events.unsubscribe(kind, later)


def test_in_transaction_subscribers_run_inside_and_the_others_after_commit(heard, alice):
    twin = services.twin_create(owner=alice, name="Kettle")
    assert [(when, type(event), inside) for when, event, inside in heard] == [
        ("now", events.TwinCreated, True),
        ("later", events.TwinCreated, False),
    ]
    assert heard[0][1] == events.TwinCreated(twin_id=twin.pk, owner_id=alice.pk)


def test_a_rolled_back_change_reaches_no_after_commit_subscriber(heard, alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.twin_create(owner=alice, name="Kettle")
        raise RuntimeError("the caller's transaction fails after the service")
    assert [when for when, _, _ in heard] == ["now"]


def test_a_failing_in_transaction_subscriber_rolls_the_change_back(alice):
    def refuse(event):
        raise RuntimeError("the feature's row could not be written")

    events.subscribe(events.TwinCreated, refuse, in_transaction=True)
    try:
        with pytest.raises(RuntimeError):
            services.twin_create(owner=alice, name="Kettle")
    finally:
        events.unsubscribe(events.TwinCreated, refuse)
    assert not alice.twins.exists()


def test_a_failing_after_commit_subscriber_does_not_stop_the_others(alice, caplog):
    def broken(event):
        raise RuntimeError("the outside world is down")

    reached = []
    events.subscribe(events.TwinCreated, broken)
    events.subscribe(events.TwinCreated, reached.append)
    try:
        twin = services.twin_create(owner=alice, name="Kettle")
    finally:
        events.unsubscribe(events.TwinCreated, broken)
        events.unsubscribe(events.TwinCreated, reached.append)
    assert reached == [events.TwinCreated(twin_id=twin.pk, owner_id=alice.pk)]
    assert "the outside world is down" in caplog.text


def test_readings_notes_and_deactivation_each_send_their_event(heard, alice):
    twin = services.twin_create(owner=alice, name="Kettle")
    reading = services.reading_add(twin=twin, value=3)
    note = services.note_create(twin=twin, title="Descaled")
    services.twin_deactivate(twin=twin)
    later = [event for when, event, _ in heard if when == "later"]
    assert later[1:] == [
        events.ReadingsStored(twin_id=twin.pk, owner_id=alice.pk, reading_ids=(reading.pk,), count=1),
        events.JournalChanged(twin_id=twin.pk, owner_id=alice.pk, note_id=note.pk, action="create"),
        events.Deactivated(twin_id=twin.pk, owner_id=alice.pk),
    ]


def test_subscribing_twice_hears_once(alice):
    reached = []
    events.subscribe(events.TwinCreated, reached.append)
    events.subscribe(events.TwinCreated, reached.append)
    try:
        services.twin_create(owner=alice, name="Kettle")
    finally:
        events.unsubscribe(events.TwinCreated, reached.append)
    assert len(reached) == 1
