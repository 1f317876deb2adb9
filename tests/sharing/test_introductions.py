"""sharing.introductions' protocol handlers and pages, with a peer played by ssi (its own key and envelopes)
posting to POST /didcomm/. Nothing is delivered here (on-commit callbacks do not run in these tests): what our
agents answer is read from the queued OutboundMessage rows. The flow end to end is in tests/makers."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from didcomm import keys
from didcomm.models import Connection, InboundMessage
from didcomm.services import agent_for_owner, agent_for_twin
from owners.models import Notification
from sharing.introductions import known_kinds
from sharing.models import Introduction
from ssi import envelope, introduce, oob
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def connection_with(agent, peer: SigningKey) -> Connection:
    connection = Connection(
        agent=agent, state=Connection.State.COMPLETED, their_verkey=b58encode(peer.verify_key.raw), their_label="Peer"
    )
    keys.pairwise_key_create(connection=connection)
    connection.save()
    return connection


def send(peer: SigningKey, connection: Connection, body: dict) -> InboundMessage:
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=peer)
    response = Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)
    assert response.status_code == 200, response.content
    return InboundMessage.objects.get(message_id=body["@id"])


def answer(inbound: InboundMessage) -> dict:
    (reply,) = inbound.replies.all()
    return reply.body


@pytest.fixture
def peer() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def arranging(grinder, peer) -> Introduction:
    connection = connection_with(agent_for_twin(grinder), peer)
    return Introduction.objects.create(
        twin=grinder,
        owner=grinder.owner,
        party_connection=connection,
        party_label="Acme Grinders",
        thread_id="thread-1",
        state=Introduction.State.ARRANGING,
    )


def test_a_persons_agent_declines_a_proposal_and_hands_out_no_invitation(bob, peer):
    connection = connection_with(agent_for_owner(bob), peer)
    proposal = introduce.proposal(to=introduce.Descriptor(name="Carol"))

    reply = answer(send(peer, connection, proposal))

    assert reply["@type"].endswith("introduce/1.0/response") and reply["approve"] is False
    assert reply["~thread"] == {"thid": proposal["@id"]} and "invitation" not in reply
    assert not Connection.objects.filter(agent__owner=bob, state=Connection.State.INVITED).exists()


def test_a_malformed_proposal_is_answered_with_the_familys_problem_report(bob, peer):
    connection = connection_with(agent_for_owner(bob), peer)
    proposal = introduce.proposal(to=introduce.Descriptor(name="Carol")) | {"to": "Carol"}

    reply = answer(send(peer, connection, proposal))

    assert reply["@type"].endswith("introduce/1.0/problem-report")
    assert introduce.problem_code(reply) == introduce.NOT_UNDERSTOOD and "descriptor" in reply["description"]["en"]


def test_a_response_on_a_thread_of_nobody_is_answered_with_a_problem_report(arranging, peer):
    response = introduce.response(thid="not-ours", approve=True)

    reply = answer(send(peer, arranging.party_connection, response))

    assert reply["@type"].endswith("introduce/1.0/problem-report") and reply["~thread"] == {"thid": "not-ours"}
    arranging.refresh_from_db()
    assert arranging.state == Introduction.State.ARRANGING


def test_an_unusable_invitation_fails_the_introduction_and_the_owner_is_not_asked(arranging, peer):
    response = introduce.response(thid="thread-1", approve=True) | {"invitation": {"@type": "nonsense"}}

    reply = answer(send(peer, arranging.party_connection, response))

    assert introduce.problem_code(reply) == introduce.NOT_UNDERSTOOD
    arranging.refresh_from_db()
    assert arranging.state == Introduction.State.FAILED
    assert not Notification.objects.filter(kind=Notification.Kind.INTRODUCTION).exists()


def test_a_refusal_ends_the_introduction_quietly(arranging, peer):
    send(peer, arranging.party_connection, introduce.response(thid="thread-1", approve=False))

    arranging.refresh_from_db()
    assert arranging.state == Introduction.State.FAILED
    assert not Notification.objects.filter(kind=Notification.Kind.INTRODUCTION).exists()


def test_an_approval_asks_the_owner_with_only_the_kinds_a_grant_can_cover(arranging, peer, alice):
    invitation = oob.build_invitation(
        label="Acme Grinders", recipient_key=SigningKey.generate().verify_key, service_endpoint="https://acme.example/"
    )
    response = introduce.response(
        thid="thread-1", approve=True, invitation=invitation, asks_for=["readings:grind", "firmware"], purpose="Why."
    )

    send(peer, arranging.party_connection, response)
    send(peer, arranging.party_connection, response | {"@id": "again"})  # a second answer changes nothing

    arranging.refresh_from_db()
    assert arranging.state == Introduction.State.PROPOSED
    assert arranging.asks_for == ["readings:grind"] and arranging.message == "Why."
    assert arranging.invitation["@id"] == invitation["@id"]
    (item,) = Notification.objects.filter(owner=alice, kind=Notification.Kind.INTRODUCTION)
    assert item.action_url == f"/introductions/{arranging.pk}/"


def test_the_list_shows_the_viewers_introductions_of_things_they_own_once_they_are_asked(arranging, alice, carol):
    assert "Acme Grinders" not in client_for(alice).get("/introductions/").content.decode()  # not asked yet
    assert client_for(alice).get(f"/introductions/{arranging.pk}/").status_code == 404
    Introduction.objects.filter(pk=arranging.pk).update(state=Introduction.State.PROPOSED)

    assert "Acme Grinders" in client_for(alice).get("/introductions/").content.decode()
    assert "Acme Grinders" not in client_for(carol).get("/introductions/").content.decode()
    assert client_for(carol).get(f"/introductions/{arranging.pk}/").status_code == 404
    assert Client().get("/introductions/").status_code == 302  # to the login page


def test_an_introduction_cannot_be_started_for_a_thing_nobody_made_here(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/introduce/")
    assert response.status_code == 400
    assert "Nobody is known" in response.content.decode()
    assert not Introduction.objects.exists()


def test_known_kinds_keeps_what_a_grant_can_cover():
    kinds = ["readings", "readings:temperature", "location", "scans:x", "firmware", "readings"]
    assert known_kinds(kinds) == ["readings", "readings:temperature", "location"]
