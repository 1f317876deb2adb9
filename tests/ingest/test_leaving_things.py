"""Readings for a thing on its way to another host (issue 18, twins.leaving: the owner confirmed a move, the old host
has not let go yet) are not stored here.

The HTTP hooks (the web app's and the ingest gateway's) refuse the whole message with 503 and Retry-After, stores
nothing and keeps no record of it, so the sender's retry (same webhook-id) is taken afresh: after the release it is
stored the way a moved thing's message is (the live things' readings stored, the moved one's named). The MQTT
bridge, where a 503 would hold every source's messages, leaves them out and names them like a moved thing's.
"""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from ingest import services as ingest_services
from ingest.gateway import Gateway
from ingest.models import Delivery
from ingest.receive import Incoming, receive_many
from ssi import webhooks
from tests.asgi_thread import asgi_in_thread
from tests.ingest.conftest import Sender
from tests.ingest.test_mqtt_bridge import bridge, broker, publish_v5  # noqa: F401 (fixtures)
from twins import services as twin_services
from twins.leaving import RETRY_AFTER
from twins.models import Reading, Twin

NEW_HOST = "https://new.example.org"
MIXED = {"readings": [{"thing": "kettle", "value": 90}, {"thing": "acme-grinder-7", "value": 3}]}


@pytest.fixture
def kettle(alice, source_and_secret) -> Twin:
    """A live thing the same source feeds as well as the grinder."""
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp", reading_unit="C")
    ingest_services.source_link_thing(source=source_and_secret[0], twin=kettle, external_id="kettle")
    return kettle


def leaving(twin: Twin) -> None:
    """As twins.leaving.freeze marks it at the move's confirmation."""
    Twin.objects.filter(pk=twin.pk).update(leaving_to=NEW_HOST)


def released(twin: Twin) -> None:
    """As the release leaves it: moved, still marked leaving."""
    Twin.objects.filter(pk=twin.pk).update(moved_to=NEW_HOST, moved_at=timezone.now(), leaving_to=NEW_HOST)


def test_a_reading_for_a_leaving_thing_is_refused_with_retry_after_and_stored_when_retried_after_a_cancel(
    source_and_secret, grinder
):
    source, secret = source_and_secret
    leaving(grinder)
    sender = Sender(client=Client(), source=source, secret=secret)

    response = sender.post({"value": 3}, msg_id="while-leaving")

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER)
    body = response.json()
    assert "new.example.org" in body["message"] and "Nothing of this message was stored" in body["message"]
    assert body["extra"]["leaving"] == [grinder.slug] and body["extra"]["moving_to"] == NEW_HOST
    assert not Reading.objects.exists()
    assert not Delivery.objects.exists()  # no first answer kept: the retry is taken afresh
    # The move is called off (twins.leaving.thaw): the same message again is stored.
    Twin.objects.filter(pk=grinder.pk).update(leaving_to="")
    again = sender.post({"value": 3}, msg_id="while-leaving")
    assert (again.status_code, again.json()["stored"]) == (200, 1)
    assert list(Reading.objects.filter(twin=grinder).values_list("value", flat=True)) == [3.0]


def test_a_message_naming_a_leaving_and_a_live_thing_stores_nothing_until_its_retry_after_the_release(
    source_and_secret, grinder, kettle
):
    source, secret = source_and_secret
    leaving(grinder)
    sender = Sender(client=Client(), source=source, secret=secret)

    response = sender.post(MIXED, msg_id="mixed")

    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER)
    body = response.json()
    assert grinder.name in body["message"]
    assert body["extra"]["refused"] == [
        {"pointer": "/readings/1/thing", "thing": grinder.slug, "reason": body["extra"]["refused"][0]["reason"]}
    ]
    assert not Reading.objects.exists() and not Delivery.objects.exists()
    # Released: the retry gets what any message naming a moved thing gets.
    released(grinder)
    again = sender.post(MIXED, msg_id="mixed")
    assert again.status_code == 200
    assert again.json()["stored"] == 1 and NEW_HOST in again.json()["refused"][0]["reason"]
    assert list(Reading.objects.values_list("twin_id", "value")) == [(kettle.pk, 90.0)]


def test_a_moved_thing_still_marked_leaving_gets_the_moved_answer_not_a_retry(source_and_secret, grinder, kettle):
    source, secret = source_and_secret
    released(grinder)
    sender = Sender(client=Client(), source=source, secret=secret)

    response = sender.post({"thing": "acme-grinder-7", "value": 3})

    assert response.status_code == 409 and "Retry-After" not in response
    assert NEW_HOST in response.json()["message"]


def incoming(source, secret: str, payload, msg_id: str) -> Incoming:
    body = json.dumps(payload).encode()
    return Incoming(source.public_id, webhooks.headers_for(secret, msg_id, int(time.time()), body), body, time.time())


def test_a_group_refuses_only_the_messages_naming_a_leaving_thing(source_and_secret, grinder, kettle):
    source, secret = source_and_secret
    leaving(grinder)
    group = [
        incoming(source, secret, MIXED, "mixed"),
        incoming(source, secret, {"thing": "kettle", "value": 95}, "only-live"),
        incoming(source, secret, {"thing": "acme-grinder-7", "value": 4}, "only-leaving"),
    ]
    with TestCase.captureOnCommitCallbacks(execute=True):
        answers = receive_many(group)

    assert [(answer.status, answer.retry_after) for answer in answers] == [
        (503, RETRY_AFTER),
        (200, None),
        (503, RETRY_AFTER),
    ]
    assert list(Reading.objects.values_list("twin_id", "value")) == [(kettle.pk, 95.0)]
    assert list(Delivery.objects.values_list("webhook_id", flat=True)) == ["only-live"]


@pytest.mark.django_db(transaction=True)
def test_the_ingest_gateway_answers_a_leaving_things_reading_with_503_and_retry_after(source_and_secret, grinder):
    import http.client
    from urllib.parse import urlsplit

    source, secret = source_and_secret
    leaving(grinder)
    body = json.dumps({"value": 5}).encode()
    headers = webhooks.headers_for(secret, "gw-leaving", int(time.time()), body)
    with asgi_in_thread(Gateway(), lifespan="on", http="httptools") as url:
        where = urlsplit(url)
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        try:
            conn.request(
                "POST", f"/hooks/{source.public_id}", body=body, headers={"Content-Type": "application/json", **headers}
            )
            response = conn.getresponse()
            status, retry_after, answer = (
                response.status,
                response.getheader("Retry-After"),
                json.loads(response.read()),
            )
        finally:
            conn.close()

    assert (status, retry_after) == (503, str(RETRY_AFTER))
    assert "new.example.org" in answer["message"]
    assert not Reading.objects.exists() and not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_mqtt_bridge_acknowledges_and_drops_a_leaving_things_readings_like_a_moved_things(
    broker,  # noqa: F811
    bridge,  # noqa: F811
    source_and_secret,
    grinder,
    kettle,
):
    source, secret = source_and_secret
    leaving(grinder)

    only_leaving = publish_v5(broker.port, source, secret, {"thing": "acme-grinder-7", "value": 1})
    answer, acked = bridge.answer_for(only_leaving, status=409)
    assert acked and "new.example.org" in answer.body["message"]

    mixed = publish_v5(broker.port, source, secret, MIXED)
    answer, acked = bridge.answer_for(mixed)
    assert acked and answer.body["stored"] == 1 and answer.body["refused"][0]["thing"] == grinder.slug

    assert list(Reading.objects.values_list("twin_id", "value")) == [(kettle.pk, 90.0)]


KEY = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@pytest.mark.parametrize("state", ["leaving", "moved"])
def test_device_keys_links_and_the_signature_rule_of_a_leaving_or_moved_thing_are_refused(
    source_and_secret, grinder, alice, state
):
    # They travel in the move's package, built at the confirmation: a change here after it would not reach the new
    # host (a revoked key would still verify there). 503 with Retry-After while leaving, 409 once moved.
    from core.errors import Conflict
    from ingest import devices
    from ingest.models import DeviceKey, SourceThing

    key = devices.device_key_add(twin=grinder, public_key=KEY, label="board")
    other = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    (leaving if state == "leaving" else released)(grinder)
    grinder.refresh_from_db()
    source = source_and_secret[0]
    SourceThing.objects.filter(twin=grinder).delete()

    for write in (
        lambda: devices.device_key_add(twin=grinder, public_key="z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"),
        lambda: devices.device_key_revoke(key=key),
        lambda: devices.twin_set_require_device_signature(twin=grinder, required=True),
        lambda: ingest_services.source_link_thing(source=source, twin=grinder),
    ):
        with pytest.raises(Conflict) as refused:
            write()
        assert refused.value.status == (503 if state == "leaving" else 409)
        assert "new.example.org" in refused.value.message

    assert list(DeviceKey.objects.filter(twin=grinder).values_list("revoked_at", flat=True)) == [None]
    assert not Twin.objects.get(pk=grinder.pk).require_device_signature
    assert not SourceThing.objects.filter(twin=grinder).exists()
    ingest_services.source_link_thing(source=source, twin=other)  # a thing that lives here: as before
