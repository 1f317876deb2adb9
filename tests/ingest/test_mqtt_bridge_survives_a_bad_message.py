"""One MQTT message never ends the bridge (review finding 5): an envelope nested 100,000 deep is refused before any
signature check (a 400, acknowledged), and any unexpected error handling a message is logged without the payload,
answered as a 500 and acknowledged, so the broker does not deliver it first again after each restart; the next
message is stored. Against a real Mosquitto, as tests/ingest/test_mqtt_bridge.py does."""

from __future__ import annotations

import logging

import pytest

from ingest import mqtt
from ingest.mqtt import EnvelopeError, unpack
from tests.ingest import test_mqtt_bridge as suite
from tests.ingest.test_mqtt_bridge import envelope, publish, topic, values

pytestmark = suite.pytestmark  # skipped where Mosquitto is not installed
broker, bridge = suite.broker, suite.bridge  # its fixtures: a broker of this test's own, the bridge in a thread

DEEP = b"[" * 100_000 + b"]" * 100_000  # 200 KB, under MAX_ENVELOPE


def test_a_deep_envelope_is_an_envelope_error_in_words():
    assert len(DEEP) < mqtt.MAX_ENVELOPE
    with pytest.raises(EnvelopeError, match="nested too deeply"):
        unpack(DEEP, None)


@pytest.mark.django_db(transaction=True)
def test_a_deep_envelope_is_refused_acknowledged_and_the_next_reading_is_stored(
    broker, bridge, source_and_secret, grinder
):
    source, secret = source_and_secret
    publish(broker.port, topic(source), DEEP)
    _, answer, acked = bridge.next_answer()
    assert (answer.status, acked) == (400, True)
    assert "nested too deeply" in answer.body["message"]

    publish(broker.port, topic(source), envelope(secret, {"value": 7}, msg_id="after-deep"))
    answer, acked = bridge.answer_for("after-deep")
    assert acked and answer.body["stored"] == 1
    assert values(grinder) == [7.0]
    assert bridge.thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_is_logged_without_the_payload_acknowledged_and_not_delivered_again(
    broker, bridge, source_and_secret, grinder, caplog, monkeypatch
):
    source, secret = source_and_secret
    caplog.set_level(logging.INFO, logger="ingest.mqtt")
    real = mqtt.handle

    def handle(*, topic, payload, user_properties, now):
        if b"POISON" in payload:
            raise RuntimeError(f"a bug quoting the payload {payload!r}")
        return real(topic=topic, payload=payload, user_properties=user_properties, now=now)

    monkeypatch.setattr(mqtt, "handle", handle)
    poison = envelope(secret, {"value": 1, "note": "POISON"}, msg_id="bad-1")
    publish(broker.port, topic(source), poison)
    _, answer, acked = bridge.next_answer()
    assert (answer.status, acked) == (500, True)
    assert "RuntimeError" in caplog.text and source.public_id in caplog.text
    assert "POISON" not in caplog.text and secret not in caplog.text

    publish(broker.port, topic(source), envelope(secret, {"value": 2}, msg_id="next-one"))
    answer, acked = bridge.answer_for("next-one")
    assert acked and values(grinder) == [2.0]

    # Acknowledged: the same session after a restart gets only what comes next, not the poison again.
    bridge.stop()
    bridge.start()
    publish(broker.port, topic(source), envelope(secret, {"value": 3}, msg_id="after-restart"))
    got_id, answer, _ = bridge.next_answer()
    assert (got_id, answer.status) == ("after-restart", 200)
    assert values(grinder) == [2.0, 3.0]
