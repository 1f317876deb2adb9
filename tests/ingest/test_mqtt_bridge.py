"""python manage.py mqtt_bridge: signed readings over MQTT against a real Mosquitto started for each test.

The bridge runs in a thread of the test process (pytest-django's SQLite test database is in memory, shared only
within this process); each test starts its own broker on a free port so it can stop and restart it.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.models import Delivery
from ingest.mqtt import Bridge, Broker, broker_from_url, source_id_of, unpack
from ingest.receive import Answer
from ssi import webhooks
from twins.models import Reading

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
WAIT = 10.0

pytestmark = pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="Mosquitto is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mosquitto:
    """One broker on a fixed port with on-disk persistence, so a restart keeps sessions and queued messages."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            "log_dest stderr\n"
            # Run as root, Mosquitto switches to the `mosquitto` user, which may not write here: stay who we are.
            f"user {getpass.getuser()}\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        # SIGTERM: Mosquitto writes its persistence file on the way out.
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=WAIT)
        self.process = None


@pytest.fixture
def broker(tmp_path):
    mosquitto = Mosquitto(tmp_path)
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@dataclass
class RunningBridge:
    """A bridge in a thread; `answers` gets (webhook_id, answer, acked) per message; `db_down` makes every query of
    the bridge's connection raise OperationalError."""

    port: int
    client_id: str
    answers: queue.Queue = field(default_factory=queue.Queue)
    db_down: threading.Event = field(default_factory=threading.Event)
    bridge: Bridge | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        stop = threading.Event()
        self.bridge = Bridge(
            broker=Broker("127.0.0.1", self.port),
            stop=stop,
            client_id=self.client_id,
            min_backoff=0.05,
            max_backoff=0.5,
            on_answer=lambda topic, webhook_id, answer, acked: self.answers.put((webhook_id, answer, acked)),
        )

        def fail_while_down(execute, sql, params, many, context):
            if self.db_down.is_set():
                raise OperationalError("the database is down (test)")
            return execute(sql, params, many, context)

        def run() -> None:
            # The wrapper is on this thread's connection: the one the bridge uses.
            with connection.execute_wrapper(fail_while_down):
                self.bridge.run()

        self.thread = threading.Thread(target=run, name="mqtt-bridge", daemon=True)
        self.thread.start()
        assert self.bridge.connected.wait(WAIT), "the bridge connects"

    def stop(self) -> None:
        if self.thread is not None:
            self.bridge.stop.set()
            self.thread.join(WAIT)
            assert not self.thread.is_alive()
            self.thread = None

    def next_answer(self, timeout: float = WAIT) -> tuple[str, Answer, bool]:
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no message reached the bridge") from None

    def answer_for(self, webhook_id: str, status: int = 200) -> tuple[Answer, bool]:
        deadline = time.monotonic() + WAIT
        while True:
            got_id, answer, acked = self.next_answer(max(0.01, deadline - time.monotonic()))
            if got_id == webhook_id and answer.status == status:
                return answer, acked


@pytest.fixture
def bridge(broker, source_and_secret):
    running = RunningBridge(port=broker.port, client_id=f"test-bridge-{uuid.uuid4().hex[:8]}")
    running.start()
    yield running
    running.stop()


def topic(source) -> str:
    return f"thingstead/{source.public_id}/readings"


def publish(port: int, topic: str, payload: bytes, *, user_properties: dict[str, str] | None = None) -> None:
    """Publish one QoS 1 message and wait for the broker's PUBACK: MQTT 5 when there are user properties, MQTT
    3.1.1 otherwise (as a small device would)."""
    v5 = user_properties is not None
    client = paho.Client(
        callback_api_version=paho.CallbackAPIVersion.VERSION2,
        client_id=f"device-{uuid.uuid4().hex[:8]}",
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        properties = None
        if v5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = list(user_properties.items())
        info = client.publish(topic, payload, qos=1, properties=properties)
        info.wait_for_publish(WAIT)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def signed(secret: str, payload: dict, msg_id: str | None = None) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return webhooks.headers_for(secret, msg_id, int(time.time()), body), body


def publish_v5(port: int, source, secret: str, payload: dict, msg_id: str | None = None) -> str:
    headers, body = signed(secret, payload, msg_id)
    publish(port, topic(source), body, user_properties=headers)
    return headers[webhooks.ID_HEADER]


def envelope(secret: str, payload: dict, msg_id: str | None = None) -> bytes:
    headers, body = signed(secret, payload, msg_id)
    return json.dumps({**headers, "payload": body.decode()}).encode()


def values(twin) -> list[float]:
    return sorted(Reading.objects.filter(twin=twin).values_list("value", flat=True))


# --- Format -------------------------------------------------------------------------------------------------


def test_an_envelope_carries_the_headers_and_the_signed_body_as_a_string():
    body = '{"value": 1}'
    packed = json.dumps(
        {"webhook-id": "m1", "webhook-timestamp": 1763700000, "webhook-signature": "v1,x", "payload": body}
    )
    headers, raw = unpack(packed.encode(), None)
    assert headers == {"webhook-id": "m1", "webhook-timestamp": "1763700000", "webhook-signature": "v1,x"}
    assert raw == body.encode()


def test_mqtt5_user_properties_win_over_the_payload():
    headers, raw = unpack(b'{"value": 1}', [("webhook-id", "m1"), ("content-type", "json")])
    assert headers == {"webhook-id": "m1"} and raw == b'{"value": 1}'


def test_topics_name_the_source_and_urls_name_the_broker():
    assert source_id_of("thingstead/abc/readings") == "abc"
    assert source_id_of("thingstead/abc/other") is None
    assert broker_from_url("mqtt://127.0.0.1:1883") == Broker("127.0.0.1", 1883)
    assert broker_from_url("mqtts://u:p%40@mq.example.org") == Broker("mq.example.org", 8883, True, "u", "p@")


# --- Against the broker -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_mqtt5_message_with_the_headers_in_user_properties_is_stored(broker, bridge, source_and_secret, grinder):
    source, secret = source_and_secret
    msg_id = publish_v5(broker.port, source, secret, {"thing": "acme-grinder-7", "value": 12})

    answer, acked = bridge.answer_for(msg_id)

    assert acked and answer.body == {"stored": 1, "webhook_id": msg_id}
    reading = Reading.objects.get(twin=grinder)
    assert (reading.value, reading.kind, reading.unit, reading.source) == (12.0, "grind", "setting", "api")


@pytest.mark.django_db(transaction=True)
def test_an_mqtt311_envelope_is_stored(broker, bridge, source_and_secret, grinder):
    source, secret = source_and_secret
    publish(broker.port, topic(source), envelope(secret, {"value": 5}, msg_id="env-1"))

    answer, acked = bridge.answer_for("env-1")

    assert acked and answer.body["stored"] == 1
    assert values(grinder) == [5.0]


@pytest.mark.django_db(transaction=True)
def test_a_bad_signature_stores_nothing_is_acknowledged_and_logged_without_the_secret(
    broker, bridge, source_and_secret, grinder, caplog
):
    source, secret = source_and_secret
    caplog.set_level(logging.INFO, logger="ingest.mqtt")
    msg_id = publish_v5(broker.port, source, webhooks.new_secret(), {"value": 1})

    answer, acked = bridge.answer_for(msg_id, status=401)

    assert acked
    assert values(grinder) == [] and not Delivery.objects.exists()
    logged = [record.getMessage() for record in caplog.records if msg_id in record.getMessage()]
    assert logged and "401" in logged[0] and "not authentic" in logged[0] and source.public_id in logged[0]
    assert secret not in caplog.text
    # Acknowledged: a new connection of the same session does not get it again, only what comes next.
    bridge.stop()
    bridge.start()
    good = publish_v5(broker.port, source, secret, {"value": 2})
    got_id, answer, _ = bridge.next_answer()
    assert (got_id, answer.status) == (good, 200)


@pytest.mark.django_db(transaction=True)
def test_a_malformed_envelope_and_an_unknown_source_are_dropped(broker, bridge, source_and_secret, grinder):
    source, secret = source_and_secret
    publish(broker.port, topic(source), b"not json")
    _, answer, acked = bridge.next_answer()
    assert (answer.status, acked) == (400, True)
    publish(broker.port, "thingstead/nosuchsource/readings", envelope(secret, {"value": 1}))
    _, answer, acked = bridge.next_answer()
    assert (answer.status, acked) == (404, True)
    assert values(grinder) == []


@pytest.mark.django_db(transaction=True)
def test_the_same_message_twice_is_one_reading(broker, bridge, source_and_secret, grinder):
    source, secret = source_and_secret
    headers, body = signed(secret, {"value": 3}, msg_id="twice")
    publish(broker.port, topic(source), body, user_properties=headers)
    publish(broker.port, topic(source), body, user_properties=headers)

    first, _ = bridge.answer_for("twice")
    second, acked = bridge.answer_for("twice")

    assert first.body == second.body == {"stored": 1, "webhook_id": "twice"} and acked
    assert values(grinder) == [3.0]


@pytest.mark.django_db(transaction=True)
def test_the_bridge_reconnects_after_a_broker_restart_and_gets_what_was_published_while_it_was_away(
    broker, bridge, source_and_secret, grinder
):
    source, secret = source_and_secret
    bridge.answer_for(publish_v5(broker.port, source, secret, {"value": 1}))

    broker.stop()
    deadline = time.monotonic() + WAIT
    while bridge.bridge.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not bridge.bridge.connected.is_set(), "the bridge notices the broker is gone"
    broker.start()
    # Published as soon as the broker is back, whether or not the bridge has reconnected yet.
    bridge.answer_for(publish_v5(broker.port, source, secret, {"value": 2}))
    assert bridge.bridge.connected.wait(WAIT)

    # The bridge is down; its session (subscription and queue) is kept by the broker, across a restart too.
    bridge.stop()
    queued = publish_v5(broker.port, source, secret, {"value": 3})
    broker.stop()
    broker.start()
    bridge.start()
    bridge.answer_for(queued)

    assert values(grinder) == [1.0, 2.0, 3.0]


@pytest.mark.django_db(transaction=True)
def test_a_message_is_not_acknowledged_while_the_database_is_down_and_is_stored_once_it_is_back(
    broker, bridge, source_and_secret, grinder
):
    source, secret = source_and_secret
    bridge.db_down.set()
    msg_id = publish_v5(broker.port, source, secret, {"value": 9})

    answer, acked = bridge.answer_for(msg_id, status=503)
    assert not acked
    bridge.db_down.clear()
    answer, acked = bridge.answer_for(msg_id)  # the broker delivered it again after the bridge reconnected

    assert acked and answer.body == {"stored": 1, "webhook_id": msg_id}
    assert values(grinder) == [9.0]
    assert Delivery.objects.filter(source=source, webhook_id=msg_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_until_sigterm_and_stores_in_between(broker, source_and_secret, grinder, settings, caplog):
    source, secret = source_and_secret
    settings.MQTT_URL = f"mqtt://127.0.0.1:{broker.port}"
    caplog.set_level(logging.INFO, logger="ingest.mqtt")
    # Queued for the command's session before it starts: the first connection subscribes, so send it after.
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    def device_then_sigterm() -> None:
        deadline = time.monotonic() + WAIT
        while "connected to" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        msg_id = publish_v5(broker.port, source, secret, {"value": 4}, msg_id="via-command")
        while msg_id not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    device = threading.Thread(target=device_then_sigterm)
    device.start()
    try:
        call_command("mqtt_bridge", client_id=f"test-command-{uuid.uuid4().hex[:8]}")
    finally:
        device.join(WAIT)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert "bridge stopped" in caplog.text
    assert values(grinder) == [4.0]
