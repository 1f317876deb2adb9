"""The twin's agent on the instance it moved to, once it has arrived (twins.events.TwinArrived, after commit).

Every completed connection rotates (RFC 0794) to a new pairwise did:peer:4 whose endpoint is THIS instance's; the
rotate is packed from the old pairwise key (the one the peer knows, which came in the package) and asks for the ack
on the same HTTP connection (RFC 0092 return route), because the RFC sends the ack to the prior DID, which names
the instance the twin left. With the ack the new DID is the connection's. What was queued before the move, held
while the twin was arriving, goes out. The peer here is a real HTTP server that answers a rotate with its ack in
the response body, as ACA-Py does (tests/interop has the same against ACA-Py itself: test_move_acapy.py here).

The arrival is what twins.moving.activate does for the agent's part: ``arriving`` off and TwinArrived sent, in one
transaction.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import transaction

from didcomm import keys, moving, outbox, services
from didcomm.models import Connection, InboundMessage, OutboundMessage, RecipientKey
from ssi import didexchange, envelope
from ssi.keys import SigningKey
from tests.didcomm.endpoints import verkey
from twins import events

pytestmark = pytest.mark.django_db

SOURCE = "https://a.example"
DESTINATION = "https://b.example"
ROTATE = "https://didcomm.org/did-rotate/1.0/rotate"
ACK = "https://didcomm.org/did-rotate/1.0/ack"
BASIC = "https://didcomm.org/basicmessage/1.0/message"


@dataclass
class Peer:
    """A peer agent over HTTP: it opens what it gets with its key and, asked for a return route, answers a rotate
    with its ack in the response body (packed from its key to the rotating key)."""

    key: SigningKey
    url: str = ""
    got: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (sender verkey, message)
    ack: bool = True

    @property
    def verkey(self) -> str:
        return verkey(self.key)


@contextmanager
def peer_agent(ack: bool = True) -> Iterator[Peer]:
    peer = Peer(key=SigningKey.generate(), ack=ack)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            opened = envelope.unpack(raw, my_keys={peer.verkey: peer.key})
            body = json.loads(opened.message)
            peer.got.append((opened.sender_verkey, body))
            answer = b""
            if body["@type"] == ROTATE and peer.ack and body.get("~transport", {}).get("return_route") == "all":
                ack = {"@type": ACK, "@id": str(uuid.uuid4()), "status": "OK", "~thread": {"thid": body["@id"]}}
                answer = envelope.pack(json.dumps(ack).encode(), to_verkeys=[opened.sender_verkey], from_key=peer.key)
            self.send_response(200)
            self.send_header("Content-Type", "application/ssi-agent-wire")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    peer.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def connection_from_source(twin, peer: Peer) -> Connection:
    """A completed DID Exchange 1.1 connection as it arrives in the package: our did:peer:4 names the source."""
    connection = Connection(
        agent=services.agent_for_twin(twin),
        state=Connection.State.COMPLETED,
        protocol="1.1",
        their_did=didexchange.peer4_did(peer.key.verify_key, peer.url),
        their_verkey=peer.verkey,
        their_endpoint=peer.url,
        their_label="Peer",
    )
    key = keys.pairwise_key_create(connection=connection)
    connection.my_did = didexchange.peer4_did(key.verify_key, f"{SOURCE}/didcomm/")
    connection.save()
    return connection


def endpoint_of(did: str) -> str:
    return didexchange.resolve_did(did).endpoint


@pytest.fixture
def arriving(grinder, settings):
    """The grinder, restored here and not live yet; SITE_URL names this instance, the destination."""
    settings.SITE_URL = DESTINATION
    grinder.arriving = True
    grinder.save(update_fields=["arriving"])
    return grinder


def arrive(twin, django_capture_on_commit_callbacks) -> None:
    """twins.moving.activate, as far as the agent is concerned; the subscribers run once it commits."""
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            twin.arriving = False
            twin.save(update_fields=["arriving"])
            events.send(events.TwinArrived(twin_id=twin.pk, owner_id=twin.owner_id, previous_did=twin.did))


def test_after_arrival_each_connection_rotates_from_its_old_key_to_a_did_naming_this_instance(
    arriving, django_capture_on_commit_callbacks
):
    with peer_agent() as peer:
        connection = connection_from_source(arriving, peer)
        old_verkey, old_did = connection.my_verkey, connection.my_did
        assert not peer.got  # nothing while arriving

        arrive(arriving, django_capture_on_commit_callbacks)

        sender, rotate = peer.got[0]
        assert rotate["@type"] == ROTATE
        assert sender == old_verkey  # packed from the key the peer knows
        assert endpoint_of(rotate["to_did"]) == f"{DESTINATION}/didcomm/"
        assert rotate["to_did"].startswith("did:peer:4")
    # The ack came back on the same HTTP connection: the new DID is the connection's, the old key opens nothing.
    connection.refresh_from_db()
    assert connection.my_did == rotate["to_did"] and connection.my_did != old_did
    assert connection.my_verkey == didexchange.resolve_did(rotate["to_did"]).recipient_verkey
    assert not connection.next_verkey
    assert not RecipientKey.objects.filter(verkey=old_verkey).exists()
    assert InboundMessage.objects.get(connection=connection, type=ACK).body["~thread"]["thid"] == rotate["@id"]


def test_what_was_queued_before_the_move_goes_out_after_arrival(arriving, django_capture_on_commit_callbacks):
    with peer_agent() as peer:
        connection = connection_from_source(arriving, peer)
        held = outbox.basic_message_send(connection=connection, content="written on the old host")
        from didcomm import transport

        transport.deliver(held.pk)  # the safety net, while arriving: held
        assert not peer.got

        arrive(arriving, django_capture_on_commit_callbacks)

        held.refresh_from_db()
        assert held.status == OutboundMessage.Status.SENT
        assert [body["@type"] for _, body in peer.got] == [ROTATE, BASIC]
        assert peer.got[1][1]["content"] == "written on the old host"
        connection.refresh_from_db()
        assert peer.got[1][0] == connection.my_verkey  # after the ack: from the new key


def test_a_rotation_started_on_the_old_host_is_given_up_for_one_naming_this_host(
    arriving, settings, django_capture_on_commit_callbacks
):
    with peer_agent(ack=False) as peer:
        connection = connection_from_source(arriving, peer)
        settings.SITE_URL = SOURCE  # started there (after a transfer, say), never answered
        stale = outbox.connection_rotate(connection=connection)
        connection.refresh_from_db()
        stale_verkey = connection.next_verkey
        settings.SITE_URL = DESTINATION

        arrive(arriving, django_capture_on_commit_callbacks)

        connection.refresh_from_db()
        assert endpoint_of(connection.next_did) == f"{DESTINATION}/didcomm/"
        assert connection.next_verkey != stale_verkey
        assert not RecipientKey.objects.filter(verkey=stale_verkey).exists()
        stale.refresh_from_db()
        assert stale.status == OutboundMessage.Status.FAILED  # never sent: its DID names the old host
        assert [body["@id"] for _, body in peer.got] == [connection.next_thread_id]


def test_arrival_twice_rotates_once_and_only_completed_connections_rotate(arriving, django_capture_on_commit_callbacks):
    with peer_agent(ack=False) as peer:
        connection = connection_from_source(arriving, peer)
        invitation = outbox.invitation_create(agent=services.agent_for_twin(arriving))

        arrive(arriving, django_capture_on_commit_callbacks)
        moving.on_arrived(events.TwinArrived(twin_id=arriving.pk, owner_id=arriving.owner_id, previous_did=""))

        rotates = OutboundMessage.objects.filter(type=ROTATE)
        assert rotates.count() == 1 and rotates.get().connection == connection
        invitation.refresh_from_db()
        assert not invitation.next_verkey
        assert len(peer.got) == 1


def test_the_peers_next_message_to_the_new_did_is_taken_here(arriving, django_capture_on_commit_callbacks):
    from django.test import Client

    with peer_agent() as peer:
        connection = connection_from_source(arriving, peer)
        arrive(arriving, django_capture_on_commit_callbacks)
    connection.refresh_from_db()
    body = {"@type": BASIC, "@id": str(uuid.uuid4()), "content": "found you"}
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=peer.key)
    response = Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)
    assert response.status_code == 200
    assert InboundMessage.objects.get(message_id=body["@id"]).connection == connection


def test_when_the_ack_went_to_the_old_host_the_peers_next_message_to_the_new_did_completes_the_rotation(
    arriving, django_capture_on_commit_callbacks
):
    """A peer that sends its ack to our prior DID (RFC 0794), not back on the rotate's connection: the ack reaches
    the old host. Its first message to the new DID shows it took the rotation."""
    from django.test import Client

    with peer_agent(ack=False) as peer:
        connection = connection_from_source(arriving, peer)
        old_verkey = connection.my_verkey
        arrive(arriving, django_capture_on_commit_callbacks)
    connection.refresh_from_db()
    new_verkey, new_did = connection.next_verkey, connection.next_did
    assert connection.my_verkey == old_verkey  # no ack yet

    body = {"@type": BASIC, "@id": str(uuid.uuid4()), "content": "using your new DID"}
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[new_verkey], from_key=peer.key)
    assert Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE).status_code == 200

    connection.refresh_from_db()
    assert (connection.my_verkey, connection.my_did, connection.next_verkey) == (new_verkey, new_did, "")
    assert not RecipientKey.objects.filter(verkey=old_verkey).exists()
    assert InboundMessage.objects.get(message_id=body["@id"]).connection == connection


def test_a_stranger_writing_to_the_pending_new_key_completes_nothing(arriving, django_capture_on_commit_callbacks):
    from django.test import Client

    with peer_agent(ack=False) as peer:
        connection = connection_from_source(arriving, peer)
        arrive(arriving, django_capture_on_commit_callbacks)
    connection.refresh_from_db()
    before = (connection.my_verkey, connection.next_verkey)

    body = {"@type": BASIC, "@id": str(uuid.uuid4()), "content": "not your peer"}
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.next_verkey], from_key=SigningKey.generate())
    assert Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE).status_code == 400

    connection.refresh_from_db()
    assert (connection.my_verkey, connection.next_verkey) == before
