"""The client without a server: the queue's order and crash safety, the signature and message formats as ingest
verifies them, and what the client does with each answer (a scripted transport, a fake clock: no waiting)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device import wire
from device.client import Client, SetupError
from device.config import Config, load_or_create_key
from device.outbox import Busy, Outbox
from ingest import devices
from ingest.mapping import DEFAULT_MAPPING, extract
from ingest.mqtt import unpack
from ssi import webhooks
from ssi.keys import SigningKey

SECRET = webhooks.new_secret()
ROOT = Path(__file__).resolve().parents[2]


class Scripted:
    """A transport answering from a script; records what it was sent."""

    def __init__(self, *answers: wire.Answer) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, bytes]] = []

    def send(self, webhook_id: str, body: bytes) -> wire.Answer:
        self.sent.append((webhook_id, body))
        return self.answers.pop(0) if self.answers else wire.Answer(200, {"stored": 1})

    def close(self) -> None:
        pass


def ok() -> wire.Answer:
    return wire.Answer(200, {"stored": 1})


def refused(status: int, pointer: str | None = None, retry_after: float | None = None) -> wire.Answer:
    return wire.Answer(status, {"message": "no", "extra": {} if pointer is None else {"pointer": pointer}}, retry_after)


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def client_with(tmp_path, transport, key, **options) -> tuple[Client, list[float]]:
    slept: list[float] = []
    config = Config(server="http://x", source="s", secret=SECRET, thing="bedroom", batch=3, max_backoff=8, **options)
    client = Client(
        config=config,
        outbox=Outbox(tmp_path / "q.sqlite3"),
        key=key,
        transport=transport,
        sleep=slept.append,
        clock=lambda: 0.0,
    )
    return client, slept


def values(body: bytes) -> list[float]:
    return [item["value"] for item in json.loads(body)["readings"]]


# --- Formats ----------------------------------------------------------------------------------------------------


def test_a_signed_reading_verifies_as_ingest_extracts_and_checks_it(key):
    reading = wire.reading(21.5, time=datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), thing="t", kind="temp", key=key)
    assert reading["time"] == "2026-01-02T03:04:05.006000Z" and reading["signature"].startswith("u")
    body = wire.body_of([wire.reading_json(reading)])
    (item,) = extract(json.loads(body), DEFAULT_MAPPING, now=datetime.now(UTC))
    assert item.key == key.multibase and item.signed == wire.signed_object(reading)
    key.verify_key.verify(devices.signed_message(item.signed), devices.decode_signature(item.signature))


def test_a_reading_is_never_signed_without_its_time(key):
    for untimed in ({"value": 1}, {"value": 1, "time": None}):
        with pytest.raises(ValueError, match="time"):
            wire.device_sign(untimed, key)


def test_the_three_carriers_sign_the_same_body(key):
    body = wire.body_of([wire.reading_json(wire.reading(1, time="2026-01-01T00:00:00Z", key=key))])
    now = int(time.time())
    assert webhooks.verify([SECRET], wire.http_headers(SECRET, "msg_1", now, body), body, now) == "msg_1"
    headers, payload = unpack(body, wire.mqtt5_user_properties(SECRET, "msg_1", now, body))
    assert payload == body and webhooks.verify([SECRET], headers, payload, now) == "msg_1"
    headers, payload = unpack(wire.mqtt311_envelope(SECRET, "msg_1", now, body), None)
    assert payload == body and webhooks.verify([SECRET], headers, payload, now) == "msg_1"


def test_the_key_file_is_private_and_kept(tmp_path):
    key, new = load_or_create_key(tmp_path / "home")
    assert new and (tmp_path / "home" / "device.key").stat().st_mode & 0o777 == 0o600
    again, new = load_or_create_key(tmp_path / "home")
    assert not new and again.multibase == key.multibase


# --- Queue ------------------------------------------------------------------------------------------------------


def test_readings_are_sent_in_order_in_sealed_batches(tmp_path, key):
    transport = Scripted()
    client, _ = client_with(tmp_path, transport, key)
    for n in range(7):
        client.record(n)
    result = client.flush()
    assert (result.done, result.sent, result.messages) == (True, 7, 3)
    assert [values(body) for _, body in transport.sent] == [[0, 1, 2], [3, 4, 5], [6]]
    assert client.status().queued == 0 and client.status().last_success["readings"] == 1


def test_a_retry_is_the_same_body_under_the_same_webhook_id_with_a_fresh_signature(tmp_path, key):
    transport = Scripted(wire.Answer(None, {}, error="refused"), refused(503, retry_after=30), ok())
    client, slept = client_with(tmp_path, transport, key)
    client.record(1)
    assert client.flush().last.status is None  # offline: stops, keeps the message sealed
    assert client.flush(wait=True).done
    (first_id, first_body), *rest = transport.sent
    assert all(sent == (first_id, first_body) for sent in rest) and len(rest) == 2
    assert slept == [pytest.approx(slept[0])] and slept[0] >= 30  # honours Retry-After


def test_a_queue_survives_sigkill_while_recording_and_sealing(tmp_path):
    """A process records and seals as fast as it can and is killed -9: every reading is then in exactly one place
    (waiting or sealed), consecutive from 0, none torn or doubled."""
    script = (
        "import sys; from pathlib import Path; from device.outbox import Outbox\n"
        "box = Outbox(Path(sys.argv[1]))\n"
        "n = 0\n"
        "while True:\n"
        "    box.put_many({'value': n + i} for i in range(7)); n += 7\n"
        "    box.next_message(max_readings=5) if n % 3 else None\n"
        "    if n == 700: print('ready', flush=True)\n"
    )
    path = tmp_path / "q.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout.readline() == b"ready\n"
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    box = Outbox(path)
    sealed = [v for message in box.messages() for v in values(message.body)]
    waiting = [json.loads(row[0])["value"] for row in box._db.execute("SELECT reading FROM readings ORDER BY seq")]
    assert sealed + waiting == list(range(len(sealed) + len(waiting))) and len(waiting) >= 700


def test_only_one_process_sends_from_a_queue(tmp_path):
    first, second = Outbox(tmp_path / "q.sqlite3"), Outbox(tmp_path / "q.sqlite3")
    first.acquire()
    with pytest.raises(Busy):
        second.acquire()
    first.release()
    second.acquire()


# --- Answers ----------------------------------------------------------------------------------------------------


def test_a_400_naming_one_reading_sets_it_aside_and_sends_the_rest_under_a_new_id(tmp_path, key):
    transport = Scripted(refused(400, "/readings/1/value"), ok())
    client, _ = client_with(tmp_path, transport, key)
    for n in range(3):
        client.record(n)
    result = client.flush()
    assert (result.sent, result.dropped) == (2, 1)
    (bad_id, bad_body), (good_id, good_body) = transport.sent
    assert values(bad_body) == [0, 1, 2] and values(good_body) == [0, 2] and good_id != bad_id
    assert [item["readings"][0]["value"] for item in client.outbox.rejected()] == [1]


@pytest.mark.parametrize("status", [400, 409, 413])
def test_a_refused_message_is_set_aside_and_the_next_one_goes(tmp_path, key, status):
    transport = Scripted(refused(status))
    client, _ = client_with(tmp_path, transport, key, kind=None)
    for n in range(4):
        client.record(n)
    result = client.flush()
    assert (result.done, result.sent, result.dropped) == (True, 1, 3)
    assert client.status().rejected == 3 and client.status().last_error["status"] == status


@pytest.mark.parametrize("status", [401, 404])
def test_a_refused_device_stops_and_keeps_its_queue(tmp_path, key, status):
    transport = Scripted(refused(status))
    client, _ = client_with(tmp_path, transport, key)
    client.record(1)
    with pytest.raises(SetupError):
        client.flush(wait=True)
    assert client.status().queued == 1 and client.status().rejected == 0 and len(transport.sent) == 1


@pytest.mark.parametrize("answer", [refused(500), refused(502), refused(408), refused(429, retry_after=2)])
def test_server_errors_and_429_are_retried_with_backoff(tmp_path, key, answer):
    transport = Scripted(answer, answer, answer, ok())
    client, slept = client_with(tmp_path, transport, key)
    client.record(1)
    assert client.flush(wait=True).done
    assert len({webhook_id for webhook_id, _ in transport.sent}) == 1 and len(slept) == 3
    if answer.status == 429:
        assert min(slept) >= 2
    else:
        assert slept[0] <= 1 and slept[2] <= 4 and slept[2] > slept[0] / 2
