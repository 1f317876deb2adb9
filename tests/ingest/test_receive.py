"""ingest.receive.receive_message: the webhook's checks and storage without HTTP (the MQTT bridge's entry point)."""

from __future__ import annotations

import json
import time

from django.db import OperationalError, connection

from ingest.models import Delivery
from ingest.receive import find_source, receive_message
from ssi import webhooks
from twins.models import Reading


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
