"""PostgreSQL restarts while webhooks, MQTT readings and DIDComm messages arrive at the production processes
(gunicorn for ``/didcomm/``, the ingest gateway for ``/hooks/``, the MQTT bridge): during the outage the HTTP routes
answer 503 with Retry-After (never a 2xx for what was not committed) and the bridge acknowledges nothing, so the
broker keeps it; afterwards every acknowledged reading and message is in the database, and every reading published
over MQTT too.

The database is a throwaway cluster of this module's own (tests.faults.pg_cluster), never the machine's shared
server, so the test runs the same whichever database the rest of the suite uses.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ssi import envelope, webhooks
from ssi.keys import SigningKey
from tests.faults.pg_cluster import Cluster, free_port, postgres_bin
from tests.faults.pg_stack import Servers, production_env, seed, wait_listening, web_and_gateway
from tests.ingest.test_mqtt_bridge import MOSQUITTO, Mosquitto

pytestmark = [
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL's server programs are not installed"),
    pytest.mark.skipif(
        os.geteuid() == 0 and shutil.which("runuser") is None, reason="runuser is needed to run PostgreSQL as root"
    ),
    pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="Mosquitto is not installed"),
]

OUTAGE_SECONDS = 3.0
PING = "https://didcomm.org/trust_ping/1.0/ping"


@dataclass
class Stack:
    cluster: Cluster
    servers: Servers
    seed: dict
    web: int
    gateway: int
    broker: Mosquitto
    database: str = "faults"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pg-restart")
    cluster = Cluster()
    cluster.init()
    cluster.start()
    broker = Mosquitto(directory)
    servers = None
    try:
        cluster.create_database("faults")
        broker.start()
        env = production_env(database_url=cluster.url("faults"), mqtt_port=broker.port, site_port=free_port())
        data = seed(env)
        servers = Servers(env, directory)
        web, gateway = web_and_gateway(servers)
        servers.start("bridge", [sys.executable, "manage.py", "mqtt_bridge", "--client-id", "faults-bridge"])
        wait_listening(web, servers.procs["gunicorn"])
        wait_listening(gateway, servers.procs["gateway"])
        stack = Stack(cluster, servers, data, web, gateway, broker)
        # The bridge's first session is new: until it has subscribed, the broker drops what is published. A reading
        # it has stored says it listens.
        assert wait_until(lambda: bridge_listens(stack), timeout=60), servers.log("bridge")[-3000:]
        yield stack
    finally:
        if servers is not None:
            servers.stop_all()
        broker.stop()
        if cluster.running():
            cluster.stop()
        cluster.remove()


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int | str, dict[str, str]]:
    """Status and headers of one request on a fresh connection; a connection failure is its exception's name."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("POST", path, body=body, headers={"Host": "127.0.0.1", **headers})
        response = conn.getresponse()
        response.read()
        return response.status, {name.lower(): value for name, value in response.getheaders()}
    except OSError as exc:
        return type(exc).__name__, {}
    finally:
        conn.close()


@dataclass
class Traffic:
    """What each sender sent and what it was told: (id, status, retry-after) per HTTP message; the MQTT message ids
    the broker took (PUBACK)."""

    hooks: list[tuple[str, int | str, str | None]] = field(default_factory=list)
    didcomm: list[tuple[str, int | str, str | None]] = field(default_factory=list)
    mqtt: list[tuple[str, float]] = field(default_factory=list)  # (id, when the broker took it: monotonic)
    stop: threading.Event = field(default_factory=threading.Event)


def send_webhooks(stack: Stack, traffic: Traffic) -> None:
    secret, path = stack.seed["secret"], f"/hooks/{stack.seed['source']}"
    n = 0
    while not traffic.stop.is_set():
        n += 1
        msg_id = f"hook_{n}"
        body = json.dumps({"thing": "boiler", "value": n}).encode()
        headers = webhooks.headers_for(secret, msg_id, int(time.time()), body)
        status, names = post(stack.gateway, path, body, {"Content-Type": "application/json", **headers})
        traffic.hooks.append((msg_id, status, names.get("retry-after")))
        time.sleep(0.02)


def send_didcomm(stack: Stack, traffic: Traffic) -> None:
    peer = SigningKey.from_seed(bytes.fromhex(stack.seed["peer_seed"]))
    to = [stack.seed["our_verkey"]]
    while not traffic.stop.is_set():
        message_id = str(uuid.uuid4())
        plaintext = json.dumps({"@type": PING, "@id": message_id, "response_requested": False}).encode()
        raw = envelope.pack(plaintext, to_verkeys=to, from_key=peer)
        status, names = post(stack.web, "/didcomm/", raw, {"Content-Type": envelope.MEDIA_TYPE})
        traffic.didcomm.append((message_id, status, names.get("retry-after")))
        time.sleep(0.02)


def publish_mqtt(stack: Stack, traffic: Traffic) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="faults-device", protocol=paho.MQTTv5)
    client.connect("127.0.0.1", stack.broker.port)
    client.loop_start()
    n = 0
    try:
        while not traffic.stop.is_set():
            n += 1
            msg_id = f"mqtt_{n}"
            info = signed_publish(client, stack, msg_id, 1_000_000 + n)
            info.wait_for_publish(timeout=10)
            if info.is_published():
                traffic.mqtt.append((msg_id, time.monotonic()))
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()


def signed_publish(client: paho.Client, stack: Stack, msg_id: str, value: float):
    body = json.dumps({"thing": "boiler", "value": value}).encode()
    properties = Properties(PacketTypes.PUBLISH)
    properties.UserProperty = list(webhooks.headers_for(stack.seed["secret"], msg_id, int(time.time()), body).items())
    return client.publish(f"thingstead/{stack.seed['source']}/readings", body, qos=1, properties=properties)


def bridge_listens(stack: Stack) -> bool:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="faults-probe", protocol=paho.MQTTv5)
    client.connect("127.0.0.1", stack.broker.port)
    client.loop_start()
    try:
        signed_publish(client, stack, f"probe_{uuid.uuid4().hex}", -1.0).wait_for_publish(timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()
    return wait_until(lambda: -1.0 in stored(stack)[1], timeout=2)


def stored(stack: Stack) -> tuple[set[str], set[float], set[str]]:
    """Webhook ids with a delivery, reading values of the thing, DIDComm message ids received."""
    with stack.cluster.connect(stack.database) as conn:
        deliveries = {row[0] for row in conn.execute("SELECT webhook_id FROM ingest_delivery WHERE status = 200")}
        values = {
            row[0] for row in conn.execute("SELECT value FROM twins_reading WHERE twin_id = %s", [stack.seed["twin"]])
        }
        messages = {row[0] for row in conn.execute("SELECT message_id FROM didcomm_inboundmessage")}
    return deliveries, values, messages


def wait_until(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_a_postgres_restart_mid_traffic_loses_nothing_acknowledged_and_acknowledges_nothing_uncommitted(stack):
    traffic = Traffic()
    senders = [
        threading.Thread(target=target, args=(stack, traffic), daemon=True)
        for target in (send_webhooks, send_didcomm, publish_mqtt)
    ]
    for sender in senders:
        sender.start()

    # Every route has answered (the servers warmed up) before the database goes.
    def answered(answers) -> int:
        return sum(1 for _, status, _ in answers if status == 200)

    assert wait_until(
        lambda: min(answered(traffic.hooks), answered(traffic.didcomm), len(traffic.mqtt)) >= 3, timeout=30
    )
    before = {"/hooks/": len(traffic.hooks), "/didcomm/": len(traffic.didcomm)}
    stack.cluster.stop()  # fast shutdown: every session cut, the port closed
    down_at = time.monotonic()
    time.sleep(OUTAGE_SECONDS)
    up_at = time.monotonic()
    stack.cluster.start()
    # Traffic goes on until each route has answered 200 a few times since the restart.
    recovered_at = (len(traffic.hooks), len(traffic.didcomm))

    def recovered() -> bool:
        hooks = [status for _, status, _ in traffic.hooks[recovered_at[0] :]]
        didcomm = [status for _, status, _ in traffic.didcomm[recovered_at[1] :]]
        return hooks[-5:] == [200] * 5 and didcomm[-5:] == [200] * 5

    came_back = wait_until(recovered, timeout=30)
    traffic.stop.set()
    for sender in senders:
        sender.join(15)
    assert came_back, f"the routes did not recover: {traffic.hooks[-3:]} {traffic.didcomm[-3:]}"

    for name, answers in (("/hooks/", traffic.hooks), ("/didcomm/", traffic.didcomm)):
        statuses = {status for _, status, _ in answers}
        assert statuses <= {200, 503}, f"{name} answered {statuses - {200, 503}}"
        assert 503 in statuses, f"{name} never met the outage"
        assert all(int(retry) >= 1 for _, status, retry in answers if status == 503), f"{name}: 503 without Retry-After"
        assert before[name] > 0 and {status for _, status, _ in answers[: before[name]]} == {200}, "200 before it"

    # Every reading the MQTT bridge was given reaches the database: it acknowledged none it had not committed, so
    # the broker delivered those again after the restart.
    mqtt_values = {1_000_000 + int(msg_id.split("_")[1]) for msg_id, _ in traffic.mqtt}
    if not wait_until(lambda: mqtt_values <= stored(stack)[1], timeout=45):
        missing = sorted(int(value) - 1_000_000 for value in mqtt_values - stored(stack)[1])
        alive = stack.servers.procs["bridge"].poll() is None
        raise AssertionError(
            f"MQTT readings lost: {missing} (bridge alive: {alive})\n{stack.servers.log('bridge')[-6000:]}"
        )

    deliveries, values, messages = stored(stack)
    acknowledged_hooks = [msg_id for msg_id, status, _ in traffic.hooks if status == 200]
    assert set(acknowledged_hooks) <= deliveries
    assert {float(msg_id.split("_")[1]) for msg_id in acknowledged_hooks} <= values
    assert {message_id for message_id, status, _ in traffic.didcomm if status == 200} <= messages
    # Some of them were published while the database was down: the bridge could not have stored those then.
    assert any(down_at < when < up_at for _, when in traffic.mqtt)
    for name in ("gunicorn", "gateway", "bridge"):
        assert stack.servers.procs[name].poll() is None, f"{name} exited:\n{stack.servers.log(name)[-2000:]}"
