"""A connection still in the middle of DID Exchange when its thing moves cannot finish: the peer's next message
goes to the DID we gave it, which names the old host, where nothing is taken any more. On arrival it is called
off: abandoned (its keys open nothing), the peer told on the exchange's thread with RFC 0023's problem report (a
code ACA-Py 1.7 abandons its side on), the owner told in words; a completed connection beside it rotates as
before."""

from __future__ import annotations

import json
import uuid

import pytest

from didcomm import exchange, services
from didcomm.models import Agent, Connection, OutboundMessage, RecipientKey
from owners.models import Notification
from ssi import didexchange, envelope
from ssi.keys import SigningKey
from tests.didcomm.endpoints import http_endpoint, open_envelope, verkey
from tests.moves import test_parts_harness as harness
from twins import services as twin_services

pytestmark = pytest.mark.django_db

on_a, mover = harness.on_a, harness.mover  # the fixtures
ROTATE = "https://didcomm.org/did-rotate/1.0/rotate"


def opens(raw: bytes, key: SigningKey) -> bool:
    try:
        open_envelope(raw, key)
    except envelope.EnvelopeError:
        return False
    return True


def half_done(twin, peer: SigningKey, url: str, *, role: str, state: str, label: str) -> Connection:
    connection = Connection(
        agent=services.agent_for_twin(twin),
        role=role,
        state=state,
        protocol="1.1",
        thread_id=str(uuid.uuid4()),
        their_did=didexchange.peer4_did(peer.verify_key, url) if state == Connection.State.RESPONDED else "",
        their_verkey=verkey(peer),
        their_endpoint=url,
        their_label=label,
    )
    exchange.pairwise_did_create(connection=connection, protocol="1.1")
    connection.save()
    return connection


def test_a_half_done_exchange_is_called_off_on_arrival_and_its_peer_and_owner_are_told(on_a, mover, alice, bob):
    twin = twin_services.twin_create(owner=alice, name="Bike")
    requested_peer, responded_peer = SigningKey.generate(), SigningKey.generate()
    with http_endpoint() as (url, received):
        requested = half_done(
            twin, requested_peer, url, role=Connection.Role.REQUESTER, state=Connection.State.REQUESTED, label="Shop"
        )
        responded = half_done(
            twin, responded_peer, url, role=Connection.Role.RESPONDER, state=Connection.State.RESPONDED, label="Maker"
        )
        pairwise = {requested.thread_id: requested.my_verkey, responded.thread_id: responded.my_verkey}

        _, here = mover(twin, to_owner=bob, activate=True)

        agent = Agent.objects.get(twin=here)
        moved = {c.thread_id: c for c in Connection.objects.filter(agent=agent)}
        for thread_id, code, peer in (
            (requested.thread_id, "response_processing_error", requested_peer),
            (responded.thread_id, "request_processing_error", responded_peer),
        ):
            connection = moved[thread_id]
            assert connection.state == Connection.State.ABANDONED
            assert "moved to another host" in connection.error
            assert not RecipientKey.objects.filter(verkey=pairwise[thread_id]).exists()
            report = OutboundMessage.objects.get(connection=connection)
            assert report.type == "https://didcomm.org/didexchange/1.1/problem_report"
            assert report.status == OutboundMessage.Status.SENT
            assert report.body["~thread"]["thid"] == thread_id and report.body["description"]["code"] == code
            # It reached the peer, from our pairwise key of that exchange.
            opened = [open_envelope(raw, peer) for raw in received.bodies if opens(raw, peer)]
            assert [json.loads(o.message)["@id"] for o in opened] == [report.message_id]
            assert opened[0].sender_verkey == pairwise[thread_id]
        assert not OutboundMessage.objects.filter(agent=agent, type=ROTATE).exists()

    items = {item.sender_name: item for item in Notification.objects.filter(owner=bob, twin=here)}
    assert "Ask them for a new invitation" in items["Shop"].body
    assert "Send them a new invitation" in items["Maker"].body
    assert items["Maker"].title == "Connection with Maker called off"
