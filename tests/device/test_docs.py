"""docs/devices.md's examples, byte for byte, against the code: the client makes exactly these bytes, every
signature verifies with the example secret and key, the server's own code accepts each message with the answer
shown, and the table of answers is the client's policy."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from core import vault
from device import wire
from ingest import devices
from ingest.models import Source
from ingest.mqtt import handle
from ingest.receive import receive_message
from ssi import jcs, keys, webhooks
from ssi.keys import SigningKey
from tests.device.test_end_to_end import post
from twins.models import Reading

DOC = (Path(__file__).resolve().parents[2] / "docs" / "devices.md").read_text()
BLOCKS = {name: text for _, name, text in re.findall(r"```(\w+) ([\w-]+)\n(.*?)\n```", DOC, re.DOTALL)}
SECRET = BLOCKS["example-secret"]
KEY = SigningKey.from_multibase(BLOCKS["example-device-key"])
WEBHOOK_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
TIMESTAMP = 1763719200


def http_request() -> tuple[str, dict[str, str], bytes]:
    head, body = BLOCKS["http-request"].split("\n\n", 1)
    request_line, *lines = head.split("\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return request_line, headers, body.encode()


@pytest.fixture
def example_source(source_and_secret, grinder) -> Source:
    """Alice's source, but with the example secret, and the example key registered on the grinder ("bedroom")."""
    source, _ = source_and_secret
    source.secret_sealed = vault.seal(SECRET.encode())
    source.save(update_fields=["secret_sealed"])
    devices.device_key_add(twin=grinder, public_key=KEY.multibase, label="example")
    return source


def test_the_example_key_and_reading_are_what_the_client_makes():
    assert BLOCKS["example-public-key"] == KEY.multibase
    made = wire.reading(21.5, time="2025-11-21T10:00:00Z", thing="bedroom", kind="temp", unit="°C", key=KEY)
    assert wire.reading_json(made).decode() == BLOCKS["reading"]
    assert jcs.canonicalize(wire.signed_object(made)).decode() == BLOCKS["signed-object"]


def test_the_device_signature_verifies_with_ssi_and_as_ingest_decodes_it():
    reading = json.loads(BLOCKS["reading"])
    signed = BLOCKS["signed-object"].encode()
    assert signed == jcs.canonicalize({k: v for k, v in reading.items() if k not in ("signature", "key")})
    keys.verify_signature(reading["key"], signed, keys.decode_signature(reading["signature"]))
    keys.verify_signature(reading["key"], signed, devices.decode_signature(reading["signature"]))


def test_the_http_example_is_signed_with_the_example_secret():
    request_line, headers, body = http_request()
    assert request_line == "POST /hooks/<source-id> HTTP/1.1"
    assert body == wire.body_of([BLOCKS["reading"].encode()])
    assert headers == wire.http_headers(SECRET, WEBHOOK_ID, TIMESTAMP, body)
    assert webhooks.verify([SECRET], headers, body, now=TIMESTAMP) == WEBHOOK_ID


def test_the_server_accepts_the_http_example_byte_for_byte_with_the_answer_shown(example_source, grinder):
    _, headers, body = http_request()
    answer = receive_message(source=example_source, headers=headers, body=body, now=TIMESTAMP)
    assert (answer.status, answer.body) == (200, json.loads(BLOCKS["http-answer"]))
    reading = Reading.objects.get(twin=grinder)
    assert reading.device_signed and reading.device_key == KEY.multibase
    keys.verify_signature(
        reading.device_key, jcs.canonicalize(reading.signed_content), keys.decode_signature(reading.signature)
    )


def test_the_gateway_accepts_the_example_body_signed_now(gateway, example_source):
    _, _, body = http_request()
    headers = wire.http_headers(SECRET, WEBHOOK_ID, int(time.time()), body)
    status, answer = post(gateway, example_source.public_id, body, headers)
    assert (status, answer) == (200, json.loads(BLOCKS["http-answer"]))


def test_the_bridge_accepts_the_mqtt5_example(example_source):
    lines = dict(line.split(": ", 1) for line in BLOCKS["mqtt5"].split("\n"))
    properties = [(name.removeprefix("user property "), v) for name, v in lines.items() if name.startswith("user")]
    payload = lines["payload"].encode()
    assert properties == wire.mqtt5_user_properties(SECRET, WEBHOOK_ID, TIMESTAMP, payload)
    assert (lines["topic"], lines["qos"]) == (wire.topic("<source-id>"), "1")
    topic = wire.topic(example_source.public_id)
    _, answer = handle(topic=topic, payload=payload, user_properties=properties, now=TIMESTAMP)
    assert (answer.status, answer.body) == (200, json.loads(BLOCKS["http-answer"]))


def test_the_bridge_accepts_the_mqtt311_envelope(example_source):
    envelope = BLOCKS["mqtt311"].encode()
    _, _, body = http_request()
    assert envelope == wire.mqtt311_envelope(SECRET, WEBHOOK_ID, TIMESTAMP, body)
    topic = wire.topic(example_source.public_id)
    _, answer = handle(topic=topic, payload=envelope, user_properties=None, now=TIMESTAMP)
    assert (answer.status, answer.body) == (200, json.loads(BLOCKS["http-answer"]))


def test_the_table_of_answers_is_the_clients_policy():
    table = DOC.split("<!-- answers:", 1)[1].split("\n\n", 1)[0]
    documented = {}
    for status, action in re.findall(r"^\| `(\d{3})` \|.*?\| \*\*([a-z ]+)\*\*", table, re.MULTILINE):
        documented[int(status)] = action
    assert documented == wire.ACTIONS
    assert {wire.action_for(code) for code in (500, 502, 504)} == {wire.RETRY}
    assert wire.action_for(418) == wire.STOP
