"""Readings for a thing that does not live here (issue 18: moved to another host, or still arriving) are refused
by ingest.receive, whatever carried them: the HTTP hook of a source that also feeds a live thing (the hook's 308
only covers a source whose every thing moved), the MQTT bridge and the ingest gateway, which never reach the
hook's view. Each refused reading is named with its reason; the message's other readings are stored. A source whose
every thing moved is answered 308 by the gateway too."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from ingest import services as ingest_services
from ingest.gateway import Gateway
from ingest.receive import Incoming, receive_many
from ssi import webhooks
from tests.asgi_thread import asgi_in_thread
from tests.ingest.conftest import Sender
from tests.ingest.test_mqtt_bridge import bridge, broker, publish_v5  # noqa: F401 (fixtures)
from twins import services as twin_services
from twins.models import Reading, Twin

NEW_HOST = "https://new.example.org"


@pytest.fixture
def kettle(alice, source_and_secret) -> Twin:
    """A live thing the same source feeds as well as the grinder."""
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp", reading_unit="C")
    ingest_services.source_link_thing(source=source_and_secret[0], twin=kettle, external_id="kettle")
    return kettle


def moved(twin: Twin) -> None:
    Twin.objects.filter(pk=twin.pk).update(moved_to=NEW_HOST, moved_at=timezone.now())


def arriving(twin: Twin) -> None:
    Twin.objects.filter(pk=twin.pk).update(arriving=True)


MIXED = {"readings": [{"thing": "kettle", "value": 90}, {"thing": "acme-grinder-7", "value": 3}]}


def test_the_hook_of_a_source_feeding_a_live_thing_stores_its_readings_and_refuses_the_moved_things(
    source_and_secret, grinder, kettle
):
    source, secret = source_and_secret
    moved(grinder)
    sender = Sender(client=Client(), source=source, secret=secret)

    response = sender.post(MIXED, msg_id="mixed")

    assert response.status_code == 200
    body = response.json()
    assert body["stored"] == 1
    assert body["refused"] == [
        {
            "pointer": "/readings/1/thing",
            "thing": grinder.slug,
            "reason": f"Thing {grinder.slug} has moved to {NEW_HOST}: send its readings there.",
        }
    ]
    assert list(Reading.objects.filter(twin=kettle).values_list("value", flat=True)) == [90.0]
    assert not Reading.objects.filter(twin=grinder).exists()
    # A retry gets the first answer, refusals included, and stores nothing more.
    again = sender.post(MIXED, msg_id="mixed")
    assert (again.status_code, again.json()) == (200, body)
    assert Reading.objects.count() == 1


def test_a_message_naming_only_moved_things_is_a_409_that_stores_nothing(source_and_secret, grinder, kettle):
    source, secret = source_and_secret
    moved(grinder)
    sender = Sender(client=Client(), source=source, secret=secret)

    response = sender.post({"thing": "acme-grinder-7", "value": 3})

    assert response.status_code == 409
    assert NEW_HOST in response.json()["message"]
    assert response.json()["extra"]["refused"][0]["pointer"] == "/thing"
    assert not Reading.objects.exists()


def test_readings_for_a_thing_still_arriving_here_are_refused(source_and_secret, grinder, kettle):
    source, secret = source_and_secret
    arriving(grinder)
    sender = Sender(client=Client(), source=source, secret=secret)

    body = sender.post(MIXED).json()

    assert body["stored"] == 1 and "still arriving" in body["refused"][0]["reason"]
    assert not Reading.objects.filter(twin=grinder).exists()


def incoming(source, secret: str, payload, msg_id: str) -> Incoming:
    body = json.dumps(payload).encode()
    return Incoming(source.public_id, webhooks.headers_for(secret, msg_id, int(time.time()), body), body, time.time())


def test_a_group_of_messages_refuses_the_moved_things_readings_message_by_message(source_and_secret, grinder, kettle):
    source, secret = source_and_secret
    moved(grinder)
    group = [
        incoming(source, secret, MIXED, "mixed"),
        incoming(source, secret, {"thing": "acme-grinder-7", "value": 4}, "only-moved"),
        incoming(source, secret, {"thing": "kettle", "value": 95}, "only-live"),
    ]
    with TestCase.captureOnCommitCallbacks(execute=True):
        answers = receive_many(group)

    assert [answer.status for answer in answers] == [200, 409, 200]
    assert answers[0].body["stored"] == 1 and answers[0].body["refused"][0]["thing"] == grinder.slug
    assert answers[2].body == {"stored": 1, "webhook_id": "only-live"}
    assert sorted(Reading.objects.filter(twin=kettle).values_list("value", flat=True)) == [90.0, 95.0]
    assert not Reading.objects.filter(twin=grinder).exists()


@pytest.mark.django_db(transaction=True)
def test_the_ingest_gateway_answers_308_to_the_new_host_when_every_thing_of_the_source_moved(
    source_and_secret, grinder
):
    # As the web app's hook does (ingest.receive.elsewhere), before verifying: the old host forgets the secret of
    # such a source at the release (ingest.portability.on_moved_away).
    import http.client
    from urllib.parse import urlsplit

    source, secret = source_and_secret
    moved(grinder)
    body = json.dumps({"value": 5}).encode()
    headers = webhooks.headers_for(secret, "gw-moved", int(time.time()), body)
    with asgi_in_thread(Gateway(), lifespan="on", http="httptools") as url:
        where = urlsplit(url)
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        try:
            conn.request(
                "POST",
                f"/hooks/{source.public_id}?batch=1",
                body=body,
                headers={"Content-Type": "application/json", **headers},
            )
            response = conn.getresponse()
            status, location, answer = response.status, response.getheader("Location"), json.loads(response.read())
        finally:
            conn.close()

    assert (status, location) == (308, f"{NEW_HOST}/hooks/{source.public_id}?batch=1")
    assert NEW_HOST in answer["message"]
    assert not Reading.objects.filter(twin=grinder).exists()


@pytest.mark.django_db(transaction=True)
def test_the_mqtt_bridge_acknowledges_and_drops_readings_for_a_moved_thing_and_stores_the_live_ones(
    broker,  # noqa: F811
    bridge,  # noqa: F811
    source_and_secret,
    grinder,
    kettle,
):
    source, secret = source_and_secret
    moved(grinder)

    only_moved = publish_v5(broker.port, source, secret, {"thing": "acme-grinder-7", "value": 1})
    answer, acked = bridge.answer_for(only_moved, status=409)
    assert acked and NEW_HOST in answer.body["message"]

    mixed = publish_v5(broker.port, source, secret, MIXED)
    answer, acked = bridge.answer_for(mixed)
    assert acked and answer.body["stored"] == 1 and answer.body["refused"][0]["thing"] == grinder.slug

    assert list(Reading.objects.filter(twin=kettle).values_list("value", flat=True)) == [90.0]
    assert not Reading.objects.filter(twin=grinder).exists()
