"""POST /hooks/<source_id>: verification, idempotency, batches, limits and every rejection (SECURITY 29-33)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from core.live import owner_group
from ingest import services as ingest_services
from ingest.history import DEFER_AT_MOST
from ingest.models import Delivery, Source
from ssi import history as chain
from ssi import webhooks
from twins import services as twin_services
from twins.models import HistoryEntry, Reading, Twin
from twins.verification import verify_twin


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stored(twin: Twin) -> int:
    return Reading.objects.filter(twin=twin).count()


# --- Accepting ------------------------------------------------------------------------------------------------


def test_a_signed_single_reading_is_stored_with_the_things_kind_and_unit(sender, grinder):
    response = sender.post({"thing": grinder.slug, "value": 14})
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 1
    reading = Reading.objects.get(twin=grinder)
    assert (reading.kind, reading.value, reading.unit, reading.source) == ("grind", 14.0, "setting", "api")
    grinder.refresh_from_db()
    assert grinder.latest_value == 14.0


def test_a_reading_may_name_its_thing_by_external_id_or_leave_it_out_when_the_source_feeds_one(sender, grinder):
    assert sender.post({"thing": "acme-grinder-7", "value": 1}).status_code == 200
    assert sender.post({"value": 2}).status_code == 200
    assert sorted(Reading.objects.filter(twin=grinder).values_list("value", flat=True)) == [1.0, 2.0]


def test_a_batch_is_stored_with_one_signed_history_entry_per_thing(sender, grinder, alice):
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp", reading_unit="°C")
    ingest_services.source_link_thing(source=sender.source, twin=kettle)
    base = timezone.now() - timedelta(hours=1)
    readings = [{"thing": grinder.slug, "value": n, "time": iso(base + timedelta(minutes=n))} for n in range(10)]
    readings += [{"thing": kettle.slug, "kind": "temp", "value": 90 + n, "unit": "°C"} for n in range(5)]
    before = HistoryEntry.objects.filter(kind="reading").count()

    response = sender.post({"readings": readings})

    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 15
    assert (stored(grinder), stored(kettle)) == (10, 5)
    entries = HistoryEntry.objects.filter(kind="reading").order_by("pk")[before:]
    assert [entry.twin_id for entry in entries] == sorted([grinder.pk, kettle.pk])
    grinder_entry = HistoryEntry.objects.get(twin=grinder, kind="reading")
    content = grinder_entry.entry["content"]["readings"]
    ids = set(Reading.objects.filter(twin=grinder).values_list("pk", flat=True))
    assert {item["reading"] for item in content} == ids
    assert {item["value"] for item in content} == {float(n) for n in range(10)}
    # The history still verifies end to end (signatures, chain, keys).
    assert verify_twin(grinder).ok
    grinder.refresh_from_db()
    assert grinder.latest_value == 9.0


def test_the_history_entry_of_a_single_webhook_reading_is_the_same_as_a_manual_one(sender, grinder):
    sender.post({"value": 3})
    reading = Reading.objects.get(twin=grinder)
    entry = HistoryEntry.objects.get(twin=grinder, kind="reading")
    assert entry.ref_id == reading.pk
    assert entry.entry["content"]["reading"] == reading.pk
    assert chain.content_hash(entry.entry["content"], entry.entry["salt"]) == entry.entry["content_hash"]


def test_a_stored_reading_is_pushed_to_the_owners_live_group_after_commit(
    sender, grinder, django_capture_on_commit_callbacks
):
    # Readings travel through the owner's group; the thing's private page picks its own (core/live.py).
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(owner_group(grinder.owner_id), channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = sender.post({"value": 7}, commit=False)
    assert response.status_code == 200
    assert callbacks, "the push waits for the commit"
    for callback in callbacks:
        callback()
    message = async_to_sync(layer.receive)(channel)
    event = message["event"]
    assert message["twin"] == grinder.pk
    assert event["kind"] == "reading" and event["thing"] == grinder.slug
    assert event["reading"]["value"] == 7.0 and event["count"] == 1 and event["latest"] is True


def test_a_rejected_delivery_pushes_nothing(sender, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert sender.post({"value": "warm"}, commit=False).status_code == 400
    assert callbacks == []


# --- SECURITY 29: bad signature, missing header, malformed header ------------------------------------------


def test_a_bad_signature_is_401_and_stores_nothing(sender, grinder):
    response = sender.post({"value": 1}, secret=webhooks.new_secret())
    assert response.status_code == 401
    assert response.json()["message"]
    assert stored(grinder) == 0 and not Delivery.objects.exists()


def test_a_missing_signature_header_is_401_and_stores_nothing(sender, grinder):
    body = b'{"value": 1}'
    hdrs = webhooks.headers_for(sender.secret, "msg_1", int(time.time()), body)
    del hdrs["webhook-signature"]
    response = sender.post(body=body, headers=hdrs)
    assert response.status_code == 401
    assert stored(grinder) == 0


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp"])
def test_a_missing_id_or_timestamp_header_is_400_and_stores_nothing(sender, grinder, missing):
    body = b'{"value": 1}'
    hdrs = webhooks.headers_for(sender.secret, "msg_1", int(time.time()), body)
    del hdrs[missing]
    response = sender.post(body=body, headers=hdrs)
    assert response.status_code == 400
    assert missing in response.json()["message"]
    assert stored(grinder) == 0


@pytest.mark.parametrize("signature", ["v1", "garbage", "v1,@@@", "v1,c2hvcnQ="])
def test_a_malformed_signature_header_is_400_and_stores_nothing(sender, grinder, signature):
    body = b'{"value": 1}'
    hdrs = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time())), "webhook-signature": signature}
    response = sender.post(body=body, headers=hdrs)
    assert response.status_code == 400
    assert response.json()["message"]
    assert stored(grinder) == 0


def test_no_rejection_is_ever_a_500(sender):
    body = b'{"value": 1}'
    cases = [
        {},
        {"webhook-id": "", "webhook-timestamp": "", "webhook-signature": ""},
        {"webhook-id": "x", "webhook-timestamp": "99999999999999999999", "webhook-signature": "v1,x"},
        {"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1," + "A" * 10_000},
    ]
    for hdrs in cases:
        assert sender.post(body=body, headers=hdrs).status_code in (400, 401), hdrs


# --- SECURITY 30: timestamps ----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, -3600, 301, 86400])
def test_a_timestamp_more_than_five_minutes_off_is_401_even_with_a_valid_hmac(sender, grinder, offset):
    response = sender.post({"value": 1}, timestamp=int(time.time()) + offset)
    assert response.status_code == 401
    assert "timestamp" in response.json()["message"]
    assert stored(grinder) == 0


# --- SECURITY 31: rotation overlap ----------------------------------------------------------------------------


def test_the_previous_secret_is_accepted_during_the_overlap_and_rejected_after(sender, grinder):
    old = sender.secret
    source, new = ingest_services.source_rotate_secret(source=sender.source, overlap=timedelta(hours=2))
    assert sender.post({"value": 1}, secret=old).status_code == 200
    assert sender.post({"value": 2}, secret=new).status_code == 200

    Source.objects.filter(pk=source.pk).update(previous_valid_until=timezone.now() - timedelta(seconds=1))
    assert sender.post({"value": 3}, secret=old).status_code == 401
    assert sender.post({"value": 4}, secret=new).status_code == 200
    assert sorted(Reading.objects.filter(twin=grinder).values_list("value", flat=True)) == [1.0, 2.0, 4.0]


def test_a_rotation_without_overlap_ends_the_old_secret_at_once(sender):
    old = sender.secret
    ingest_services.source_rotate_secret(source=sender.source, overlap=timedelta(0))
    assert sender.post({"value": 1}, secret=old).status_code == 401


def test_a_second_rotation_ends_the_first_secret_even_inside_its_overlap(sender):
    first = sender.secret
    _, second = ingest_services.source_rotate_secret(source=sender.source, overlap=timedelta(hours=2))
    _, third = ingest_services.source_rotate_secret(source=sender.source, overlap=timedelta(hours=2))
    assert sender.post({"value": 1}, secret=first).status_code == 401
    assert sender.post({"value": 2}, secret=second).status_code == 200
    assert sender.post({"value": 3}, secret=third).status_code == 200


# --- SECURITY 32: idempotency -------------------------------------------------------------------------------


def test_the_same_webhook_id_days_apart_with_fresh_timestamps_stores_one_reading_and_both_are_2xx(sender, grinder):
    first = sender.post({"value": 5}, msg_id="msg_retry")
    assert first.status_code == 200
    # Three days later (the sender's retry schedule): same id, fresh timestamp and signature.
    Delivery.objects.filter(webhook_id="msg_retry").update(created_at=timezone.now() - timedelta(days=3))
    second = sender.post({"value": 5}, msg_id="msg_retry", timestamp=int(time.time()))
    assert second.status_code == 200
    assert second.json() == first.json()
    assert stored(grinder) == 1
    assert HistoryEntry.objects.filter(twin=grinder, kind="reading").count() == 1


def test_a_retry_stores_nothing_new_even_if_its_body_differs(sender, grinder):
    sender.post({"value": 5}, msg_id="msg_same")
    again = sender.post({"readings": [{"value": 6}, {"value": 7}]}, msg_id="msg_same")
    assert again.status_code == 200 and again.json()["stored"] == 1
    assert stored(grinder) == 1


def test_webhook_ids_are_per_source(sender, alice, grinder):
    other, other_secret = ingest_services.source_create(owner=alice, name="Other")
    ingest_services.source_link_thing(source=other, twin=grinder)
    assert sender.post({"value": 1}, msg_id="msg_x").status_code == 200
    assert sender.post({"value": 2}, msg_id="msg_x", secret=other_secret, source_id=other.public_id).status_code == 200
    assert stored(grinder) == 2


def test_a_rejected_delivery_is_not_remembered_so_a_fixed_retry_is_stored(sender, grinder):
    assert sender.post({"thing": "not-yet-mapped", "value": 1}, msg_id="msg_fix").status_code == 400
    ingest_services.source_link_thing(
        source=sender.source,
        twin=twin_services.twin_create(owner=grinder.owner, name="Scale", reading_kind="kg"),
        external_id="not-yet-mapped",
    )
    assert sender.post({"thing": "not-yet-mapped", "value": 1}, msg_id="msg_fix").status_code == 200


# --- SECURITY 33: late readings ------------------------------------------------------------------------------


def test_an_older_reading_arriving_late_does_not_overwrite_the_latest(sender, grinder):
    now = timezone.now()
    assert sender.post({"value": 20, "time": iso(now - timedelta(minutes=1))}).status_code == 200
    assert sender.post({"value": 10, "time": iso(now - timedelta(hours=5))}).status_code == 200
    assert sender.post({"readings": [{"value": 11, "time": iso(now - timedelta(hours=4))}]}).status_code == 200
    grinder.refresh_from_db()
    assert grinder.latest_value == 20.0
    assert stored(grinder) == 3


# --- Payload errors, limits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({"readings": [{"value": 1}, {"value": "warm"}]}, "/readings/1/value"),
        ({"readings": [{"value": 1}, {"thing": "nobody", "value": 2}]}, "/readings/1/thing"),
        ({"readings": [{"value": 1, "time": "yesterday"}]}, "/readings/0/time"),
        ({"readings": [{"value": 1, "time": "2026-01-01T00:00:00"}]}, "/readings/0/time"),
        ({"readings": [{"value": 1, "time": "2999-01-01T00:00:00Z"}]}, "/readings/0/time"),
        ({"readings": [{"value": 1, "kind": "k" * 41}]}, "/readings/0/kind"),
        ({"readings": [{"value": 1, "unit": 5}]}, "/readings/0/unit"),
        ({"readings": [7]}, "/readings/0"),
        ({"readings": []}, "/readings"),
        ({"temperature": 3}, "/value"),
        ({"value": True}, "/value"),
    ],
)
def test_a_bad_field_is_400_with_its_json_pointer_and_nothing_of_the_batch_is_stored(sender, grinder, payload, pointer):
    response = sender.post(payload)
    assert response.status_code == 400, response.content
    assert response.json()["extra"]["pointer"] == pointer
    assert stored(grinder) == 0 and not Delivery.objects.exists()


def test_a_body_that_is_not_json_is_400(sender, grinder):
    response = sender.post(body=b"{not json")
    assert response.status_code == 400
    assert response.json()["extra"] == {"pointer": ""}


def test_a_failure_while_storing_rolls_back_the_whole_batch(sender, grinder, alice):
    kettle = twin_services.twin_create(owner=alice, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=sender.source, twin=kettle)
    # One of the two things is deactivated: the whole message is refused, the other thing's readings too.
    Twin.objects.filter(pk=kettle.pk).update(deactivated_at=timezone.now())
    payload = {"readings": [{"thing": grinder.slug, "value": 1}, {"thing": kettle.slug, "value": 2}]}
    response = sender.post(payload)
    assert response.status_code == 409
    assert Reading.objects.filter(twin__in=[grinder, kettle]).count() == 0
    assert not Delivery.objects.exists()
    assert not HistoryEntry.objects.filter(kind="reading").exists()


def test_more_than_1000_readings_is_413_and_1000_are_fine(sender, grinder):
    response = sender.post({"readings": [{"value": n} for n in range(1001)]})
    assert response.status_code == 413
    assert stored(grinder) == 0
    response = sender.post({"readings": [{"value": n} for n in range(1000)]})
    assert response.status_code == 200
    assert stored(grinder) == 1000


def test_a_body_over_one_mib_is_413(sender, grinder):
    body = json.dumps({"value": 1, "padding": "x" * (1024 * 1024)}).encode()
    response = sender.post(body=body)
    assert response.status_code == 413
    assert response.json()["message"]
    assert stored(grinder) == 0


def test_an_unknown_source_is_the_same_404_as_any_unknown(sender):
    unknown = sender.post({"value": 1}, source_id="A" * 22)
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Not found.", "extra": {}}
    assert unknown.json() == Client().get("/api/no-such-route/").json()


def test_a_deleted_source_is_404(sender):
    ingest_services.source_delete(source=sender.source)
    assert sender.post({"value": 1}).status_code == 404


def test_over_the_source_rate_limit_is_429_with_retry_after(sender, grinder):
    Source.objects.filter(pk=sender.source.pk).update(rate_limit="3/60")
    statuses = [sender.post({"value": n}).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = sender.post({"value": 9})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert stored(grinder) == 3


def test_the_rate_limit_counts_in_redis_when_configured(sender, grinder, redis_client):
    client = redis_client
    for key in client.scan_iter(f"rl:hook:{sender.source.public_id}:*"):
        client.delete(key)
    try:
        Source.objects.filter(pk=sender.source.pk).update(rate_limit="2/60")
        statuses = [sender.post({"value": n}).status_code for n in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        for key in client.scan_iter(f"rl:hook:{sender.source.public_id}:*"):
            client.delete(key)


def test_the_database_being_unavailable_is_503_with_retry_after(sender, grinder):
    def down(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with connection.execute_wrapper(down):
        response = sender.post({"value": 1})
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["message"]
    assert stored(grinder) == 0


def test_the_database_failing_mid_batch_is_503_and_stores_nothing(sender, grinder):
    def fail_on_history(execute, sql, params, many, context):
        if "twins_historyentry" in sql and sql.lstrip().upper().startswith("INSERT"):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    # A batch: its history entry is written in the request (a small message's follows after commit).
    with connection.execute_wrapper(fail_on_history):
        response = sender.post({"readings": [{"value": n} for n in range(DEFER_AT_MOST + 1)]})
    assert response.status_code == 503
    assert stored(grinder) == 0 and not Delivery.objects.exists()


def test_the_secret_never_appears_in_the_logs_of_a_delivery(sender, caplog):
    with caplog.at_level(logging.DEBUG):
        sender.post({"value": 1})
        sender.post({"value": 1}, secret=webhooks.new_secret())
    assert sender.secret not in caplog.text
    assert sender.secret.removeprefix("whsec_") not in caplog.text


def test_a_source_mapping_reads_a_manufacturers_own_json(sender, grinder):
    ingest_services.source_update(
        source=sender.source,
        name="Acme cloud",
        mapping={"readings": "/data/samples", "thing": "/device/serial", "value": "/m~1s", "time": "/ts"},
        rate_limit="600/60",
    )
    now = int(time.time())
    payload = {"data": {"samples": [{"device": {"serial": "acme-grinder-7"}, "m/s": 3.5, "ts": now - 60}]}}
    response = sender.post(payload)
    assert response.status_code == 200, response.content
    reading = Reading.objects.get(twin=grinder)
    assert reading.value == 3.5
    assert reading.time == datetime.fromtimestamp(now - 60, UTC)


def test_a_thing_of_another_owner_cannot_be_fed_even_by_its_slug(sender, carol):
    carols = twin_services.twin_create(owner=carol, name="Carol's scale")
    response = sender.post({"thing": carols.slug, "value": 1})
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/thing"
    assert stored(carols) == 0


def test_a_batchs_entry_commits_to_awkward_values_exactly_as_rfc_8785_prints_them(sender, grinder):
    # Values and units off JCS's fast path (tiny numbers, text above U+FFFF) next to plain ones.
    values = [1e-05, -2.5e-07, 2.0**53 - 1, 21.5, 3.0, -0.25]
    readings = [{"value": value, "unit": "🌡" if n % 2 else "°C"} for n, value in enumerate(values)]
    readings += [{"value": n / 8} for n in range(DEFER_AT_MOST)]
    assert sender.post({"readings": readings}).status_code == 200
    entry = HistoryEntry.objects.get(twin=grinder, kind="reading")
    assert chain.content_hash(entry.entry["content"], entry.entry["salt"]) == entry.entry["content_hash"]
    assert verify_twin(grinder).ok


def test_a_plain_batchs_entry_hashes_the_same_as_the_full_canonical_form(sender, grinder):
    readings = [{"value": 20 + n / 10, "time": iso(timezone.now() - timedelta(seconds=n))} for n in range(100)]
    assert sender.post({"readings": readings}).status_code == 200
    entry = HistoryEntry.objects.get(twin=grinder, kind="reading")
    assert chain.content_hash(entry.entry["content"], entry.entry["salt"]) == entry.entry["content_hash"]
    assert verify_twin(grinder).ok


@pytest.mark.parametrize("value", [2.0**53, -1e20, 1e300])
def test_a_value_beyond_2_to_the_53_is_400_because_its_history_could_not_be_verified(sender, grinder, value):
    response = sender.post({"readings": [{"value": 1}, {"value": value}]})
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/readings/1/value"
    assert stored(grinder) == 0


@pytest.mark.parametrize(("field", "pointer"), [("kind", "/kind"), ("unit", "/unit"), ("thing", "/thing")])
def test_a_nul_character_in_a_text_field_is_400_not_a_database_error(sender, grinder, field, pointer):
    response = sender.post({"value": 1, field: "a\u0000b"})
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == pointer and "NUL" in response.json()["message"]
    assert stored(grinder) == 0


@pytest.mark.parametrize(
    ("field", "pointer"), [("kind", "/readings/1/kind"), ("unit", "/readings/1/unit"), ("thing", "/readings/1/thing")]
)
def test_a_lone_surrogate_escape_in_a_text_field_is_400_not_a_database_error(sender, grinder, field, pointer):
    # Valid JSON (RFC 8259 allows the escape) that no UTF-8 text column can hold.
    body = b'{"readings": [{"value": 1}, {"value": 2, "%s": "a\\ud800b"}]}' % field.encode()
    response = sender.post(body=body)
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == pointer and "Unicode" in response.json()["message"]
    assert stored(grinder) == 0


def test_a_signed_body_nested_too_deeply_for_the_json_parser_is_400(sender, grinder):
    response = sender.post(body=b"[" * 200_000 + b"]" * 200_000)
    assert response.status_code == 400 and response.json()["extra"]["pointer"] == ""
    assert stored(grinder) == 0
