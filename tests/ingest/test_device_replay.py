"""A device-signed reading is stored at most once per thing, at the time its device signed (review finding 3): a
relay holding the source's secret cannot store a captured reading again, nor make an old value the latest."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, transaction
from django.test import TestCase

from ingest import devices
from ingest import services as ingest_services
from ingest.receive import Incoming, receive_many
from ingest.store import NewReading
from ssi import jcs, webhooks
from ssi.keys import SigningKey
from ssi.multibase import multibase_encode
from tests.ingest.test_devices import device, registered, signed  # noqa: F401 - fixtures
from twins.models import Reading


def test_a_device_signed_reading_without_its_time_is_a_400_naming_the_time(sender, grinder, device, registered):  # noqa: F811
    untimed = {"value": 14, "signature": _sign_as_is({"value": 14}, device)}  # what the format allowed before
    response = sender.post({"readings": [signed({"value": 1}, device), untimed]})
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/readings/1/time"
    assert "time" in response.json()["message"]
    assert not Reading.objects.filter(twin=grinder).exists()


def test_the_same_signed_reading_sent_again_under_a_new_webhook_id_is_stored_once(sender, grinder, device, registered):  # noqa: F811
    devices.twin_set_require_device_signature(twin=grinder, required=True)
    captured = signed({"value": 14}, device)
    assert sender.post(captured).json()["stored"] == 1
    again = sender.post(captured)  # the relay sends what it saw, under a webhook-id of its own
    assert again.status_code == 200
    assert again.json()["stored"] == 0
    named = {"pointer": "/signature", "thing": grinder.slug, "reason": devices.ALREADY_STORED}
    assert again.json()["refused"] == [named]
    assert Reading.objects.filter(twin=grinder).count() == 1


def test_a_replayed_old_reading_does_not_become_the_latest(sender, grinder, device, registered):  # noqa: F811
    old = signed({"value": 180}, device)
    assert sender.post(old).status_code == 200
    assert sender.post(signed({"value": 95}, device)).status_code == 200
    assert sender.post(old).status_code == 200
    grinder.refresh_from_db()
    assert grinder.latest_value == 95
    assert sorted(Reading.objects.filter(twin=grinder).values_list("value", flat=True)) == [95, 180]


def test_the_same_signature_in_another_encoding_is_the_same_reading(sender, grinder, device, registered):  # noqa: F811
    base58 = signed({"value": 3, "time": "2026-02-03T04:05:06Z"}, device)
    base64url = signed({"value": 3, "time": "2026-02-03T04:05:06Z"}, device, form="b64url")
    assert base58["signature"] != base64url["signature"]
    assert sender.post(base58).json()["stored"] == 1
    assert sender.post(base64url).json()["stored"] == 0
    assert Reading.objects.filter(twin=grinder).count() == 1


def test_a_signed_reading_given_twice_in_one_message_is_stored_once_and_the_repeat_named(
    sender,
    grinder,
    device,  # noqa: F811
    registered,  # noqa: F811
):
    one, other = signed({"value": 1}, device), signed({"value": 2}, device)
    response = sender.post({"readings": [one, other, one]})
    assert response.status_code == 200
    assert response.json()["stored"] == 2
    assert [r["pointer"] for r in response.json()["refused"]] == ["/readings/2/signature"]
    assert sorted(Reading.objects.filter(twin=grinder).values_list("value", flat=True)) == [1, 2]


def test_a_batch_replaying_some_readings_stores_the_others(sender, grinder, device, registered):  # noqa: F811
    # 60 readings: more than a small message (ingest.history.DEFER_AT_MOST), so PostgreSQL takes the batch path.
    seen = [signed({"value": n}, device) for n in range(2)]
    assert sender.post({"readings": seen}).json()["stored"] == 2
    batch = [signed({"value": 100 + n}, device) for n in range(58)]
    batch[10:10] = [seen[1]]
    batch.append(seen[0])
    response = sender.post({"readings": batch})
    assert response.status_code == 200
    assert response.json()["stored"] == 58
    pointers = sorted(r["pointer"] for r in response.json()["refused"])
    assert pointers == ["/readings/10/signature", "/readings/59/signature"]
    assert Reading.objects.filter(twin=grinder).count() == 60


@pytest.mark.parametrize("size", [1, 60], ids=["small message", "batch"])
def test_the_store_itself_refuses_a_signature_stored_already_for_the_thing(
    sender,
    source,
    grinder,
    device,  # noqa: F811
    registered,  # noqa: F811
    size,
):
    # What two deliveries racing each other would reach: both passed the check before the write.
    assert sender.post(signed({"value": 7, "time": "2026-03-04T05:06:07Z"}, device)).status_code == 200
    first = Reading.objects.get(twin=grinder)
    readings = [_new_reading(grinder, value=n, seconds=n) for n in range(size - 1)]
    readings.append(_copy(first))
    with pytest.raises(DatabaseError), transaction.atomic():
        ingest_services.delivery_store(source=source, webhook_id="replayed", readings={grinder: readings})
    assert list(Reading.objects.filter(twin=grinder)) == [first]


@pytest.mark.django_db(transaction=True)
def test_two_messages_of_one_group_with_the_same_signed_reading_store_it_once(source_and_secret, grinder, device):  # noqa: F811
    # The gateway stores concurrent messages together: neither is stored when the other is checked.
    source, secret = source_and_secret
    devices.device_key_add(twin=grinder, public_key=device.multibase)
    captured = signed({"value": 42}, device)
    group = [_incoming(source, secret, captured, "device-1"), _incoming(source, secret, captured, "relay-1")]
    with TestCase.captureOnCommitCallbacks(execute=True):
        answers = receive_many(group)
    assert [a.status for a in answers] == [200, 503]
    assert Reading.objects.filter(twin=grinder).count() == 1
    # The refused one's retry (same webhook-id) is answered by the check before the write.
    with TestCase.captureOnCommitCallbacks(execute=True):
        retry = receive_many([_incoming(source, secret, captured, "relay-1")])[0]
    assert retry.status == 200 and retry.body["stored"] == 0 and retry.body["refused"]
    assert Reading.objects.filter(twin=grinder).count() == 1


def _sign_as_is(reading: dict, key: SigningKey) -> str:
    return multibase_encode(key.sign(jcs.canonicalize(reading)), "z")


def _new_reading(twin, *, value: float, seconds: int) -> NewReading:
    moment = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return NewReading(twin.pk, twin.reading_kind, value, twin.reading_unit, moment, Reading.Source.API)


def _copy(reading: Reading) -> NewReading:
    copy = NewReading(reading.twin_id, reading.kind, reading.value, reading.unit, reading.time, reading.source)
    copy.device_signed, copy.device_key = True, reading.device_key
    copy.signature, copy.signed_content = reading.signature, reading.signed_content
    return copy


def _incoming(source, secret: str, payload: dict, msg_id: str) -> Incoming:
    body = json.dumps(payload).encode()
    headers = webhooks.headers_for(secret, msg_id, int(time.time()), body)
    return Incoming(public_id=source.public_id, headers=headers, body=body, now=time.time())
