"""The twin's agent on the instance the twin moved away from (twins.events.TwinMovedAway): it stops.

A peer's message to its keys is answered with a problem report saying where the thing went, and nothing of it is
recorded (no message, no history entry, no inbox item); the one exception, the peer's ack of the rotation the
agent started on the new host (RFC 0794 sends it to the prior DID, here), is passed on there untouched. Nothing
is sent from the agent any more but such reports (what it had queued is marked failed in the release's
transaction, and the transport refuses anything else queued later); its open invitations stop working; its owner
here can neither send nor invite.

And on the instance it is moving to, until it has arrived: its agent takes nothing (503, try later) and what it
queued is held, not sent.

The release is what twins.moving.release does for the agent's part: in one transaction, ``moved_to`` set and
TwinMovedAway sent.
"""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from config.asgi import application
from didcomm import exchange, outbox, selectors, services, transport
from didcomm.consumers import CLOSE_REFUSED
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage
from owners.models import Notification
from ssi import didexchange, envelope, oob
from ssi.keys import SigningKey
from tests.didcomm.endpoints import completed_connection, http_endpoint, open_message, verkey
from tests.interop import conftest as interop
from tests.interop.test_acapy_scenarios import admin, live, thingstead_invites, wait_until, webhook  # noqa: F401
from twins import events
from twins.models import HistoryEntry

pytestmark = pytest.mark.django_db
# tests/interop's ACA-Py fixtures (this module is not under tests/interop, where they are visible).
acapy_python, acapy_webhooks, acapy_agent = interop.acapy_python, interop.acapy_webhooks, interop.acapy_agent

DESTINATION = "https://b.example"
BASIC = "https://didcomm.org/basicmessage/1.0/message"
PING = "https://didcomm.org/trust_ping/1.0/ping"
PROBLEM = "https://didcomm.org/report-problem/1.0/problem-report"
# The problem report type ACA-Py 1.7 understands (its protocols/problem_report/v1_0/message_types.py): the moved
# agent's refusal uses it, so an ACA-Py peer's controller sees where the thing went.
ACAPY_PROBLEM = "https://didcomm.org/notification/1.0/problem-report"
ACK = "https://didcomm.org/did-rotate/1.0/ack"


def message(type_: str, **body) -> dict:
    return {"@type": type_, "@id": str(uuid.uuid4()), **body}


def post(body: dict, to: str, sender: SigningKey):
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[to], from_key=sender)
    return Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)


def move_away(twin, to: str = DESTINATION) -> None:
    """The release, as far as the agent is concerned (twins.moving.release)."""
    with transaction.atomic():
        twin.moved_to = to
        twin.moved_at = timezone.now()
        twin.save(update_fields=["moved_to", "moved_at"])
        events.send(events.TwinMovedAway(twin_id=twin.pk, owner_id=twin.owner_id, moved_to=to))


@pytest.fixture
def endpoint():
    with http_endpoint() as (url, received):
        yield url, received


@pytest.fixture
def connection(grinder, peer, endpoint) -> Connection:
    return completed_connection(twin=grinder, peer=peer, their_label="Peer", their_endpoint=endpoint[0])


def recorded(twin) -> tuple[int, int, int]:
    return (
        InboundMessage.objects.count(),
        HistoryEntry.objects.filter(twin=twin).count(),
        Notification.objects.count(),
    )


# -- the source, after the release ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [message(BASIC, content="Still there?"), message(PING)], ids=["message", "ping"])
def test_a_peers_message_gets_a_problem_report_saying_where_the_thing_went_and_nothing_is_recorded(
    connection, peer, grinder, endpoint, body
):
    move_away(grinder)
    before = recorded(grinder)

    response = post(body, connection.my_verkey, peer)

    assert response.status_code == 200  # answered: the peer's transport has no reason to send it again
    assert recorded(grinder) == before
    report = OutboundMessage.objects.get()
    assert report.type == ACAPY_PROBLEM and report.connection == connection and report.to_verkey == verkey(peer)
    assert report.body["@type"] == ACAPY_PROBLEM and report.body["impact"] == "connection"
    assert report.body["description"]["code"] == "thing-moved"
    assert DESTINATION in report.body["description"]["en"]
    assert report.body["~thread"]["thid"] == body["@id"]
    # Delivered: the only kind of message the agent still sends from here.
    transport.deliver(report.pk)
    report.refresh_from_db()
    assert report.status == OutboundMessage.Status.SENT
    assert open_message(endpoint[1].bodies[-1], peer)["description"]["code"] == "thing-moved"
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED  # kept as it was: the record of the source


@pytest.mark.parametrize("type_", [PROBLEM, ACAPY_PROBLEM], ids=["rfc0035", "acapy"])
def test_a_problem_report_from_the_peer_is_not_answered(connection, peer, grinder, type_):
    move_away(grinder)
    report = message(type_, description={"code": "oops", "en": "?"})
    response = post(report, connection.my_verkey, peer)
    assert response.status_code == 410
    assert response.json()["extra"]["moved_to"] == DESTINATION
    assert not OutboundMessage.objects.exists() and not InboundMessage.objects.exists()


def test_a_stranger_writing_to_its_keys_is_refused_unanswered(connection, grinder):
    move_away(grinder)
    response = post(message(BASIC, content="Hi"), connection.my_verkey, SigningKey.generate())
    assert response.status_code == 410
    assert "moved to https://b.example" in response.json()["message"]
    assert not OutboundMessage.objects.exists() and not InboundMessage.objects.exists()


def test_what_the_agent_had_queued_is_not_sent(connection, grinder, endpoint):
    queued = outbox.basic_message_send(connection=connection, content="written before the move")
    move_away(grinder)

    queued.refresh_from_db()
    assert queued.status == OutboundMessage.Status.FAILED
    assert "moved to https://b.example" in queued.last_error
    transport.deliver(queued.pk)
    assert endpoint[1].bodies == []


def test_nothing_queued_after_the_move_is_sent_either(connection, grinder, endpoint):
    move_away(grinder)
    # As a feature that does not ask whether the twin is still here would queue it (sharing, support).
    late = outbox.outbound_enqueue(connection=connection, body=message(BASIC, content="written after the move"))

    transport.deliver(late.pk)

    late.refresh_from_db()
    assert late.status == OutboundMessage.Status.FAILED and "moved to" in late.last_error
    assert endpoint[1].bodies == []


def test_the_owner_here_can_neither_send_nor_invite(connection, grinder, alice):
    move_away(grinder)
    agent = Agent.objects.get(twin=grinder)
    assert "moved to https://b.example" in selectors.send_refusal(Connection.objects.get(pk=connection.pk))
    with pytest.raises(services.SendRefused, match="moved to"):
        services.connection_message_send(agent=agent, connection_id=connection.pk, content="Hello?")
    with pytest.raises(services.AgentElsewhere, match="moved to"):
        services.agent_invitation_create(owner=alice, twin=grinder)
    assert not OutboundMessage.objects.exists()


def test_an_open_invitation_stops_working_and_the_requester_is_told(grinder, endpoint):
    invitation = outbox.invitation_create(agent=services.agent_for_twin(grinder))
    move_away(grinder)
    requester = SigningKey.generate()
    url, received = endpoint
    their_did = didexchange.peer4_did(requester.verify_key, url)
    request = message("https://didcomm.org/didexchange/1.1/request", label="Latecomer", did=their_did)
    request["~thread"] = {"thid": request["@id"], "pthid": oob.parse_url(invitation.invitation_url).id}
    invitation_key = oob.parse_url(invitation.invitation_url).services[0].recipient_verkeys[0]

    response = post(request, invitation_key, requester)

    assert response.status_code == 200
    invitation.refresh_from_db()
    assert invitation.state == Connection.State.INVITED and not invitation.their_verkey
    assert Connection.objects.count() == 1 and not InboundMessage.objects.exists()
    report = OutboundMessage.objects.get()
    assert report.type == "https://didcomm.org/didexchange/1.1/problem_report"
    assert report.to_endpoint == url and report.to_verkey == verkey(requester)
    assert report.body["description"]["code"] == "request_not_accepted"
    assert DESTINATION in report.body["description"]["en"]
    transport.deliver(report.pk)
    assert open_message(received.bodies[-1], requester)["~thread"]["thid"] == request["@id"]


# -- the destination, while the twin is arriving ----------------------------------------------------------------


def test_while_arriving_its_agent_takes_nothing_and_says_try_later(connection, peer, grinder):
    grinder.arriving = True
    grinder.save(update_fields=["arriving"])
    response = post(message(BASIC, content="Hello?"), connection.my_verkey, peer)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert not InboundMessage.objects.exists() and not OutboundMessage.objects.exists()


def test_while_arriving_what_it_queued_is_held_not_sent(connection, grinder, endpoint):
    queued = outbox.basic_message_send(connection=connection, content="waiting for the move")
    grinder.arriving = True
    grinder.save(update_fields=["arriving"])

    transport.deliver(queued.pk)

    queued.refresh_from_db()
    assert queued.status == OutboundMessage.Status.QUEUED and queued.attempts == 0
    assert queued.next_attempt_at > timezone.now()  # the safety net looks again later; the arrival sends it
    assert endpoint[1].bodies == []


def test_the_owners_own_agent_here_is_unaffected(grinder, alice, peer, endpoint):
    """Only the moved twin's agent stops: the owner's own agent here still works."""
    move_away(grinder)
    own = services.agent_for_owner(alice)
    connection = Connection(agent=own, state=Connection.State.COMPLETED, their_verkey=verkey(peer))
    connection.their_endpoint = endpoint[0]
    exchange.pairwise_did_create(connection=connection, protocol="1.1")
    connection.save()
    assert post(message(BASIC, content="Hi"), connection.my_verkey, peer).status_code == 200
    assert InboundMessage.objects.filter(connection=connection).exists()


def test_the_peers_ack_of_the_rotation_on_the_new_host_is_passed_on_there_as_it_came(
    connection, peer, grinder, django_capture_on_commit_callbacks
):
    """RFC 0794 sends the ack to the prior DID, which names this host (ACA-Py does): it goes on to the new host."""
    with http_endpoint() as (url, received):
        new_host = url.rsplit("/", 1)[0]
        move_away(grinder, to=new_host)
        ack = message(ACK, status="OK", **{"~thread": {"thid": str(uuid.uuid4())}})
        raw = envelope.pack(json.dumps(ack).encode(), to_verkeys=[connection.my_verkey], from_key=peer)
        before = recorded(grinder)

        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)

        assert response.status_code == 200
        assert received.bodies == [raw]  # untouched, to the new host's DIDComm endpoint
    assert recorded(grinder) == before and not OutboundMessage.objects.exists()


def test_an_ack_from_a_stranger_is_not_passed_on(connection, grinder, django_capture_on_commit_callbacks):
    with http_endpoint() as (url, received):
        move_away(grinder, to=url.rsplit("/", 1)[0])
        ack = message(ACK, status="OK", **{"~thread": {"thid": str(uuid.uuid4())}})
        with django_capture_on_commit_callbacks(execute=True):
            response = post(ack, connection.my_verkey, SigningKey.generate())
        assert response.status_code == 410
        assert received.bodies == []


def test_the_real_release_stops_the_agent(connection, peer, grinder, bob, endpoint):
    """twins.moving.release itself (the move entries signed for bob's keys, appended; TwinMovedAway)."""
    from tests.moves.test_parts_harness import B_URL, release

    queued = outbox.basic_message_send(connection=connection, content="written before the move")
    release(grinder, to=bob)

    queued.refresh_from_db()
    assert queued.status == OutboundMessage.Status.FAILED
    body = message(BASIC, content="Still there?")
    assert post(body, connection.my_verkey, peer).status_code == 200
    report = OutboundMessage.objects.get(type=ACAPY_PROBLEM)
    assert report.body["description"]["code"] == "thing-moved" and B_URL in report.body["description"]["en"]
    assert not InboundMessage.objects.exists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_over_a_websocket_the_peer_is_answered_and_the_socket_stays_a_stranger_is_closed(
    connection, peer, grinder, endpoint
):
    await database_sync_to_async(move_away)(grinder)
    body = message(BASIC, content="Over the socket")
    raw = envelope.pack(json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=peer)
    ws = WebsocketCommunicator(application, "/didcomm/ws")
    try:
        assert (await ws.connect())[0]
        await ws.send_to(bytes_data=raw)
        assert await ws.receive_nothing(timeout=1)  # answered with the report: the socket stays
    finally:
        await ws.disconnect()
    assert open_message(endpoint[1].bodies[-1], peer)["description"]["code"] == "thing-moved"

    stranger = envelope.pack(
        json.dumps(body).encode(), to_verkeys=[connection.my_verkey], from_key=SigningKey.generate()
    )
    ws = WebsocketCommunicator(application, "/didcomm/ws")
    try:
        assert (await ws.connect())[0]
        await ws.send_to(bytes_data=stranger)
        closed = await ws.receive_output(timeout=5)
    finally:
        await ws.disconnect()
    assert closed["code"] == CLOSE_REFUSED and "moved to" in closed["reason"]
    assert not await database_sync_to_async(InboundMessage.objects.exists)()
    # The consumer's database thread keeps its connection: closed, so that PostgreSQL can drop the test database.
    await sync_to_async(connections.close_all)()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_acapy_peer_recognises_the_moved_agents_problem_report(
    live,  # noqa: F811
    grinder,
    acapy_agent,
    acapy_webhooks,
):
    # ACA-Py 1.7 drops a report-problem/1.0 report as "Unrecognized message type"; this one reaches its controller
    # (the problem_report webhook), saying where the thing went.
    hooks = acapy_webhooks.webhooks
    pair = thingstead_invites(acapy_agent, hooks, services.agent_for_twin(grinder), "1.1")
    move_away(grinder)
    before = InboundMessage.objects.count()

    admin(acapy_agent, "POST", f"/connections/{pair.theirs}/send-message", {"content": "Still there?"})

    report = wait_until(lambda: OutboundMessage.objects.filter(body__description__code="thing-moved").first())
    assert report is not None, "the moved agent did not answer ACA-Py's message"
    event = webhook(hooks, "problem_report", **{"@id": report.message_id})
    assert event["@type"] == ACAPY_PROBLEM
    assert event["description"]["code"] == "thing-moved" and DESTINATION in event["description"]["en"]
    assert InboundMessage.objects.count() == before
