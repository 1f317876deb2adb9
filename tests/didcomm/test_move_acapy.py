"""A real ACA-Py 1.7.0 peer follows the twin's agent to the instance it moved to (issue 18, didcomm.moving).

Two hosts share this test's database: the source A (where ACA-Py connects to the twin's agent) and the destination
B, each a live server ACA-Py reaches over HTTP. The move, for the agent's part: the "didcomm" part of the package
is exported on A and restored on B (the agent deleted in between, as B never had it), and twins.moving.activate
sends TwinArrived. From then on A answers 410 without touching the database and counts what reaches it, so
nothing ACA-Py sends can be taken there. ACA-Py receives the rotate (from the old pairwise key), acks it (on the
rotate's own HTTP connection), and its next basic message is packed to the NEW key and posted to B's endpoint.

The whole move between two instances (three processes, the protocol over HTTP) is tests/interop's
test_move_instances.py; this is the agent's part, against ACA-Py itself.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connections

from didcomm import outbox, portability, services
from didcomm.models import Agent, Connection, InboundMessage
from didcomm.relay import endpoint_of, relay_envelope
from ssi import didexchange, envelope
from ssi.keys import SigningKey
from ssi.multibase import b64url_decode
from tests.didcomm.endpoints import verkey
from tests.interop import conftest as interop
from tests.interop.test_acapy_scenarios import (
    DB_LOCK,
    SerialLiveServerThread,
    admin,
    thingstead_invites,
    wait_until,
    webhook,
)
from twins.moving import activate
from twins.portability import Arrival

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# tests/interop's ACA-Py fixtures (this module is not under tests/interop, where they are visible).
acapy_python, acapy_webhooks, acapy_agent = interop.acapy_python, interop.acapy_webhooks, interop.acapy_agent

ROTATE = "https://didcomm.org/did-rotate/1.0/rotate"
ACK = "https://didcomm.org/did-rotate/1.0/ack"
TRUST_PING = "https://didcomm.org/trust_ping/1.0/ping"
BASIC = "https://didcomm.org/basicmessage/1.0/message"


@dataclass
class Host:
    """A live server, recording the envelopes posted to its DIDComm endpoint; once it stops serving, what reaches
    it is handed to ``stand_in`` (it answers 200 if there is one, else 410), without touching the database."""

    url: str
    serving: bool = True
    bodies: list[bytes] = field(default_factory=list)
    stand_in: Callable[[bytes], None] | None = None


@pytest.fixture
def hosts(transactional_db, settings):
    """A and B: two live servers on this test's database, one request at a time under test_acapy_scenarios'
    DB_LOCK (the test holds it except while it waits). SITE_URL names A."""
    shared = {conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()}
    for conn in shared.values():
        conn.inc_thread_sharing()
    threads, made = [], []
    for _ in range(2):
        thread = SerialLiveServerThread("127.0.0.1", lambda app: app, connections_override=shared, port=0)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        host = Host(url=f"http://127.0.0.1:{thread.port}")
        app = thread.httpd.get_app()

        def one_at_a_time(environ, start_response, host=host, app=app):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if environ.get("PATH_INFO") == "/didcomm/":
                host.bodies.append(body)
            if not host.serving:
                if host.stand_in is not None:
                    host.stand_in(body)
                    start_response("200 OK", [("Content-Length", "0")])
                else:
                    start_response("410 Gone", [("Content-Length", "0")])
                return [b""]
            with DB_LOCK:
                return app(environ, start_response)

        thread.httpd.set_app(one_at_a_time)
        threads.append(thread)
        made.append(host)
    settings.SITE_URL = made[0].url
    DB_LOCK.acquire()
    try:
        yield made
    finally:
        for host in made:
            host.serving, host.stand_in = False, None
        DB_LOCK.release()
        for thread in threads:
            thread.terminate()
        for conn in shared.values():
            conn.dec_thread_sharing()


def recipient_kids(raw: bytes) -> list[str]:
    protected = json.loads(b64url_decode(json.loads(raw)["protected"].rstrip("=")))
    return [recipient["header"]["kid"] for recipient in protected["recipients"]]


def opened(raw: bytes, key: SigningKey) -> dict:
    return json.loads(envelope.unpack(raw, my_keys={verkey(key): key}).message)


def test_acapy_takes_the_rotate_acks_it_and_its_next_message_goes_to_the_new_key_and_host(
    hosts, grinder, alice, acapy_agent, acapy_webhooks, settings
):
    a, b = hosts
    hooks = acapy_webhooks.webhooks
    pair = thingstead_invites(acapy_agent, hooks, services.agent_for_twin(grinder), "1.1")
    old = pair.ours
    assert didexchange.resolve_did(old.my_did).endpoint == f"{a.url}/didcomm/"

    # The move: A's agent goes into the package; B restores it; the twin arrives on B. A has let go: what reaches
    # it is what its agent gets for a moved twin, and it does what didcomm.inbound does for a peer's rotation ack
    # (the only kind that may come): passes the envelope on to B (didcomm.relay).
    data = json.loads(json.dumps(portability.export(grinder)))
    old_key = SigningKey.from_seed(
        base64.b64decode(next(row["my_key"] for row in data["connections"] if row["id"] == old.pk))
    )
    a.serving = False
    a.bodies.clear()
    a.stand_in = lambda raw: relay_envelope.call(endpoint_of(b.url), base64.b64encode(raw).decode())
    Agent.objects.filter(twin=grinder).delete()
    settings.SITE_URL = b.url
    grinder.arriving = True
    grinder.save(update_fields=["arriving"])
    arrival = Arrival(owner=alice, source_url=a.url, destination_url=b.url, twin=grinder)
    portability.restore(data, arrival)
    connection: Connection = arrival.lookup("didcomm.Connection", old.pk)
    activate(grinder)  # TwinArrived: the rotate goes out once this commits

    rotate = connection.outbound.get(type=ROTATE)
    new_did = rotate.body["to_did"]
    assert didexchange.resolve_did(new_did).endpoint == f"{b.url}/didcomm/"

    def acked() -> bool:
        connection.refresh_from_db()
        return connection.my_did == new_did

    assert wait_until(acked), list(connection.outbound.values_list("type", "status", "last_error"))
    ack = InboundMessage.objects.get(connection=connection, type=ACK)
    assert ack.body["~thread"]["thid"] == rotate.message_id
    # ACA-Py sent its ack to our prior DID (RFC 0794), i.e. to A, from its key on the connection. The only other
    # message A may have had since the move began is ACA-Py's trust ping of the new connection, which it sends on its
    # own once the exchange completes and which reaches A late on a loaded machine (seen in a full pass).
    reached_a = [opened(raw, old_key)["@type"] for raw in a.bodies]
    assert reached_a.count(ACK) == 1 and set(reached_a) <= {ACK, TRUST_PING}, reached_a
    assert admin(acapy_agent, "GET", f"/connections/{pair.theirs}")["their_did"] == new_did

    # ACA-Py's next message: packed to the new key, posted to B.
    content = f"after the move {uuid.uuid4()}"
    admin(acapy_agent, "POST", f"/connections/{pair.theirs}/send-message", {"content": content})
    assert wait_until(
        lambda: InboundMessage.objects.filter(connection=connection, type=BASIC, body__content=content).exists()
    )
    assert any(connection.my_verkey in recipient_kids(body) for body in b.bodies)
    assert len(a.bodies) == 1  # nothing more reached the old host

    # And ours reaches ACA-Py, from the new key.
    reply = f"hello from B {uuid.uuid4()}"
    outbox.basic_message_send(connection=connection, content=reply)
    webhook(hooks, "basicmessages", connection_id=pair.theirs, content=reply)
