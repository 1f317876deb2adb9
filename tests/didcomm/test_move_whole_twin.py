"""The agent in the whole move: the real package of every part (twins.moving.move_package), restored by
twins.moving.arrive (twins.portability.twin_unpack) and activated, in one database (tests/moves' harness: A's copy
is deleted before B restores it).

What the agent part must hold there: its data comes back for the destination owner with no sealed blob of A's in
the package, the signed history's message entries point at the restored messages, and the arrival (TwinArrived,
once activate commits) sends each completed connection's peer a rotate from its old pairwise key to a did:peer:4
naming B.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from didcomm import exchange, services
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage
from ssi import didexchange, envelope
from ssi.keys import SigningKey
from tests.didcomm.endpoints import http_endpoint, open_envelope, verkey
from tests.moves import test_parts_harness as harness
from twins import services as twin_services
from twins.models import HistoryEntry

pytestmark = pytest.mark.django_db

on_a, mover = harness.on_a, harness.mover  # the fixtures
BASIC = "https://didcomm.org/basicmessage/1.0/message"
ROTATE = "https://didcomm.org/did-rotate/1.0/rotate"


def test_the_agent_moves_with_the_twin_and_its_peer_hears_of_the_new_host(on_a, mover, alice, bob):
    twin = twin_services.twin_create(owner=alice, name="Bike")
    peer = SigningKey.generate()
    with http_endpoint() as (url, received):
        connection = Connection(
            agent=services.agent_for_twin(twin),
            state=Connection.State.COMPLETED,
            protocol="1.1",
            their_did=didexchange.peer4_did(peer.verify_key, url),
            their_verkey=verkey(peer),
            their_endpoint=url,
            their_label="Peer",
        )
        exchange.pairwise_did_create(connection=connection, protocol="1.1")
        connection.save()
        body = {"@type": BASIC, "@id": str(uuid.uuid4()), "content": "Hello on A"}
        raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=peer)
        assert Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE).status_code == 200
        old_verkey = connection.my_verkey

        package, here = mover(twin, to_owner=bob, activate=True)

        assert "didcomm" in package["parts"]
        assert harness.sealed_blobs_in(package) == []
        moved = Connection.objects.get(agent=Agent.objects.get(twin=here), my_verkey=old_verkey)
        message = InboundMessage.objects.get(message_id=body["@id"])
        assert message.connection == moved and message.body["content"] == "Hello on A"
        entry = HistoryEntry.objects.get(twin=here, kind=HistoryEntry.Kind.MESSAGE)
        assert entry.ref_id == message.pk
        # Arrived: the peer got a rotate from the old key, to a DID naming B.
        rotate = OutboundMessage.objects.get(connection=moved, type=ROTATE)
        assert didexchange.resolve_did(rotate.body["to_did"]).endpoint == f"{harness.B_URL}/didcomm/"
        opened = open_envelope(received.bodies[-1], peer)
        assert json.loads(opened.message)["@id"] == rotate.message_id
        assert opened.sender_verkey == old_verkey
