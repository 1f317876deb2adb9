"""The device client against the real server: the ingest gateway over HTTP (uvicorn in a thread, as in production)
and the MQTT bridge with a real Mosquitto. 10,000 device-signed readings go through a closed port, a proxy that
loses answers, a SIGKILL of the client process mid-send and a stopped and restarted server, and each is stored
exactly once, in order, with its own time, and verifies with ssi alone."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from device.client import Client
from device.config import load_config
from device.outbox import Outbox
from ingest.gateway import Gateway
from ingest.models import Delivery
from ssi import jcs, keys
from tests.asgi_thread import asgi_in_thread
from tests.device.conftest import make_home
from tests.ingest.test_mqtt_bridge import MOSQUITTO, Mosquitto, RunningBridge
from twins.models import Reading

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 1, tzinfo=UTC)


def post(url: str, source_id: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.request("POST", f"/hooks/{source_id}", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proxy:
    """A TCP proxy on a fixed loopback port in front of the server. `upstream` None: the server is down (each
    connection is closed at once). `lose_answers` > 0: that many requests reach the server, but their answers are
    thrown away and the connection closed (the device cannot know whether they were stored)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.upstream: tuple[str, int] | None = None
        self.lose_answers = 0
        self.lost = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def point_at(self, url: str | None) -> None:
        self.upstream = None if url is None else (urlsplit(url).hostname, urlsplit(url).port)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=30) if self.upstream else None
        except OSError:
            upstream = None
        if upstream is None:
            client.close()
            return

        def pump(source: socket.socket, target: socket.socket, answers: bool) -> None:
            try:
                while data := source.recv(65536):
                    if answers:
                        with self._lock:
                            lose = self.lose_answers > 0
                            if lose:
                                self.lose_answers -= 1
                                self.lost += 1
                        if lose:
                            break
                    target.sendall(data)
            except OSError:
                pass
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
        pump(upstream, client, True)
        client.close()
        upstream.close()

    def close(self) -> None:
        self.listener.close()


def run_client(home: Path, *args: str) -> subprocess.Popen:
    """`python -m device --home HOME …` in a process of its own, as on a device (no Django in it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "device", "--home", str(home), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def assert_stored_once_in_order_and_verifiable(twin, count: int, key_multibase: str) -> None:
    rows = list(
        Reading.objects.filter(twin=twin)
        .order_by("pk")
        .values_list("value", "time", "device_key", "signature", "signed_content")
    )
    assert len(rows) == count
    assert [value for value, *_ in rows] == list(range(count))  # each once, in the order they were taken
    assert [moment for _, moment, *_ in rows] == [START + timedelta(milliseconds=n) for n in range(count)]
    for _, _, device_key, signature, signed in rows:
        assert device_key == key_multibase
        keys.verify_signature(device_key, jcs.canonicalize(signed), keys.decode_signature(signature))


@pytest.mark.django_db(transaction=True)
def test_ten_thousand_readings_through_outages_and_a_sigkill_are_each_stored_once(
    tmp_path, source_and_secret, device_key, grinder
):
    source, secret = source_and_secret
    proxy = Proxy()
    home = make_home(
        tmp_path / "device",
        server=proxy.url,
        source=source,
        secret=secret,
        key=device_key,
        batch=250,
        max_backoff=0.3,
        timeout=10,
    )
    recorder = Client.open(home)
    readings = (recorder.reading(n, time=START + timedelta(milliseconds=n)) for n in range(10_000))
    assert recorder.record_many(readings) == 10_000
    queue = Outbox(home / "queue.sqlite3")
    try:
        # The network is down: a closed port. Nothing is lost; the first message is sealed with its webhook-id.
        offline = Client(
            config=replace(load_config(home), server=f"http://127.0.0.1:{free_port()}"),
            outbox=recorder.outbox,
            key=device_key,
        )
        result = offline.flush()
        assert result.last is not None and result.last.status is None and result.sent == 0
        first = queue.messages()
        assert queue.status().queued == 10_000 and len(first) == 1

        with asgi_in_thread(Gateway(), lifespan="on", http="httptools") as server:
            proxy.point_at(server)
            # The first two answers are lost on the way back (stored, but the device cannot know): it sends them
            # again under the same webhook-ids. Then the client is killed mid-send.
            proxy.lose_answers = 2
            sender = run_client(home, "flush", "--wait")
            wait_until(lambda: queue.status().queued <= 6_000, what="4,000 readings sent")
            sender.send_signal(signal.SIGKILL)
            sender.wait(10)
            assert proxy.lost == 2
            assert queue.status().queued > 0
        # The server is down (the proxy has nowhere to go); the client is started again meanwhile.
        proxy.point_at(None)
        sender = run_client(home, "flush", "--wait", "--timeout", "60")
        time.sleep(1.0)
        assert sender.poll() is None, "the client waits for the server"
        with asgi_in_thread(Gateway(), lifespan="on", http="httptools") as server:
            proxy.point_at(server)
            _, err = sender.communicate(timeout=60)
            assert sender.returncode == 0, err.decode()[-2000:]
        assert b"connection" in err.lower() or b"not sent" in err.lower()
        status = queue.status()
        assert (status.queued, status.rejected) == (0, 0) and status.last_success["readings"] == 250
        assert Delivery.objects.filter(source=source).count() == 40  # 10,000 / 250: no message stored twice
        assert Delivery.objects.filter(source=source, webhook_id=first[0].webhook_id).exists()
        assert_stored_once_in_order_and_verifiable(grinder, 10_000, device_key.multibase)
    finally:
        queue.close()
        recorder.close()
        proxy.close()


@pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="Mosquitto is not installed")
@pytest.mark.parametrize("transport", ["mqtt5", "mqtt311"])
@pytest.mark.django_db(transaction=True)
def test_readings_queued_while_the_broker_is_down_reach_the_bridge_once(
    tmp_path, source_and_secret, device_key, grinder, transport
):
    source, secret = source_and_secret
    broker = Mosquitto(tmp_path)
    home = make_home(
        tmp_path / "device",
        server="http://unused.invalid",
        source=source,
        secret=secret,
        key=device_key,
        transport=transport,
        mqtt=f"mqtt://127.0.0.1:{broker.port}",
        batch=100,
        timeout=3,
    )
    client = Client.open(home)
    bridge = RunningBridge(port=broker.port, client_id=f"test-bridge-{uuid.uuid4().hex[:8]}")
    try:
        client.record_many(client.reading(n, time=START + timedelta(milliseconds=n)) for n in range(300))
        result = client.flush()  # no broker yet
        assert result.last is not None and result.last.status is None and client.status().queued == 300
        broker.start()
        bridge.start()
        result = client.flush()
        assert result.done and (result.sent, result.messages) == (300, 3)
        wait_until(lambda: Reading.objects.filter(twin=grinder).count() >= 300, timeout=20, what="the bridge")
        assert_stored_once_in_order_and_verifiable(grinder, 300, device_key.multibase)
        assert Delivery.objects.filter(source=source).count() == 3
    finally:
        client.close()
        bridge.stop()
        broker.stop()


@pytest.mark.django_db(transaction=True)
def test_the_cli_sends_one_reading_and_reports_the_queue(tmp_path, gateway, source_and_secret, device_key, grinder):
    source, secret = source_and_secret
    home = make_home(
        tmp_path / "device", server=gateway, source=source, secret=secret, key=device_key, kind="temp", unit="°C"
    )
    sent = run_client(home, "send", "21.5")
    out, err = sent.communicate(timeout=30)
    assert sent.returncode == 0, err.decode()
    reading = Reading.objects.get(twin=grinder)
    assert (reading.value, reading.kind, reading.unit, reading.device_signed) == (21.5, "temp", "°C", True)
    watched = run_client(home, "watch")
    out, err = watched.communicate(b'22\n{"value": 23.5, "kind": "humidity", "unit": "%"}\nnonsense\n', timeout=30)
    assert watched.returncode == 0, err.decode()
    assert b"not a number" in err
    assert sorted(Reading.objects.filter(twin=grinder).values_list("kind", "value")) == [
        ("humidity", 23.5),
        ("temp", 21.5),
        ("temp", 22.0),
    ]
    status = run_client(home, "status")
    out, _ = status.communicate(timeout=30)
    report = json.loads(out)
    assert report["queued"] == 0 and report["last_success"]["readings"] >= 1 and report["last_error"] is None
