"""/api/connections/… and /api/things/<slug>/connections/…: what the Connections pages do (list, create an
invitation, accept one, get, send a basic message, ping, remove), for a thing's agent and the owner's own, over
the same services; a connection that cannot send says why in the 409's message."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from didcomm import outbox, services
from didcomm.models import Agent, Connection, OutboundMessage
from ssi import oob
from tests.conftest import api_for
from tests.didcomm.test_connections_page import BASIC, PING, completed
from twins import services as twin_services

pytestmark = pytest.mark.django_db


@dataclass
class Api:
    base: str
    agent: Agent

    def connection(self, connection: Connection) -> str:
        return f"{self.base}{connection.pk}/"


@pytest.fixture(params=["thing", "owner"])
def api(request, alice, grinder) -> Api:
    if request.param == "thing":
        return Api(f"/api/things/{grinder.slug}/connections/", services.agent_for_twin(grinder))
    return Api("/api/connections/", services.agent_for_owner(alice))


@pytest.fixture
def client(alice):
    return api_for(alice, token=True)


def test_owner_creates_an_invitation_another_agent_can_read(api, client):
    response = client.post(f"{api.base}invitations/")
    assert response.status_code == 201, response.content
    body = response.json()
    invitation = Connection.objects.get(pk=body["id"], agent=api.agent)
    assert body["state"] == "invited" and body["invitation_url"] == invitation.invitation_url
    assert oob.parse_url(body["invitation_url"]).id == invitation.invitation_id
    # An invitation nobody answered is not a connection yet.
    assert client.get(api.base).json() == []


def test_accepting_an_invitation_makes_a_requester_connection_and_queues_the_request(api, client, bob):
    invitation = outbox.invitation_create(agent=services.agent_for_owner(bob))
    response = client.post(f"{api.base}accept", {"invitation_url": invitation.invitation_url}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    connection = Connection.objects.get(agent=api.agent)
    assert (body["id"], body["role"], body["their_label"]) == (connection.pk, "requester", "bob")
    assert body["can_send"] is False and "not answered yet" in body["cannot_send_because"]
    assert OutboundMessage.objects.get(connection=connection).type.endswith("/request")
    assert [item["id"] for item in client.get(api.base).json()] == [connection.pk]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.org/no-invitation-here", "not an invitation"),
        ("https://example.org/?oob=e30", "invitation_url: "),
        ("https://example.org/?oob=" + "A" * 8001, "no more than 8000 characters"),
    ],
)
def test_a_bad_invitation_is_a_400_with_the_reason_and_makes_nothing(api, client, url, says):
    before = Connection.objects.count()
    response = client.post(f"{api.base}accept", {"invitation_url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("invitation_url: ") and says in response.json()["message"]
    assert Connection.objects.count() == before and not OutboundMessage.objects.exists()


def test_owner_sends_a_basic_message_and_a_ping_on_a_completed_connection(api, client):
    connection = completed(api.agent)
    shown = client.get(api.connection(connection)).json()
    assert (shown["state"], shown["peer"], shown["can_send"], shown["cannot_send_because"]) == (
        "completed",
        "ACME Corp",
        True,
        "",
    )
    sent = client.post(f"{api.connection(connection)}messages/", {"content": "Hello from the API"}, format="json")
    assert sent.status_code == 202, sent.content
    assert sent.json()["status"] == "queued"
    message = OutboundMessage.objects.get(connection=connection, type=BASIC)
    assert message.body["content"] == "Hello from the API" and sent.json()["message_id"] == message.message_id

    pinged = client.post(f"{api.connection(connection)}ping")
    assert pinged.status_code == 202
    assert OutboundMessage.objects.filter(connection=connection, type=PING).count() == 1


def test_a_message_too_long_or_not_text_is_a_400_and_sends_nothing(api, client):
    connection = completed(api.agent)
    too_long = client.post(f"{api.connection(connection)}messages/", {"content": "x" * 2001}, format="json")
    number = client.post(f"{api.connection(connection)}messages/", {"content": 5}, format="json")
    assert (too_long.status_code, number.status_code) == (400, 400)
    assert not OutboundMessage.objects.exists()


def test_removing_a_connection_abandons_it_and_later_sends_are_409s_saying_why(api, client):
    connection = completed(api.agent)
    removed = client.delete(api.connection(connection))
    assert removed.status_code == 200 and removed.json()["state"] == "abandoned"
    assert client.delete(api.connection(connection)).status_code == 200  # twice is fine
    refused = client.post(f"{api.connection(connection)}messages/", {"content": "still there?"}, format="json")
    pinged = client.post(f"{api.connection(connection)}ping")
    assert (refused.status_code, pinged.status_code) == (409, 409)
    assert refused.json() == {
        "message": "This connection was removed: it sends and accepts no messages any more.",
        "extra": {},
    }
    assert not OutboundMessage.objects.filter(type__in=[BASIC, PING]).exists()


def test_a_deactivated_things_agent_makes_no_invitation(alice, grinder, client):
    twin_services.twin_deactivate(twin=grinder)
    response = client.post(f"/api/things/{grinder.slug}/connections/invitations/")
    assert response.status_code == 409
    assert not Connection.objects.exists()


def test_a_read_makes_no_agent(alice, grinder, client):
    assert client.get(f"/api/things/{grinder.slug}/connections/").json() == []
    assert client.get("/api/connections/").json() == []
    assert not Agent.objects.exists()


def test_stranger_gets_404_for_a_things_agent_and_for_another_agents_connection(alice, grinder, carol):
    thing_connection = completed(services.agent_for_twin(grinder))
    own_connection = completed(services.agent_for_owner(alice))
    carol_api = api_for(carol, token=True)
    not_found = {"message": "Not found.", "extra": {}}
    answers = [
        carol_api.get(f"/api/things/{grinder.slug}/connections/"),
        carol_api.post(f"/api/things/{grinder.slug}/connections/invitations/"),
        carol_api.get(f"/api/things/{grinder.slug}/connections/{thing_connection.pk}/"),
        carol_api.get(f"/api/connections/{own_connection.pk}/"),
        carol_api.post(f"/api/connections/{own_connection.pk}/messages/", {"content": "hi"}, format="json"),
        carol_api.post(f"/api/connections/{own_connection.pk}/ping"),
        carol_api.delete(f"/api/connections/{own_connection.pk}/"),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(404, not_found)] * len(answers)
    # carol's own agent list never shows alice's.
    assert carol_api.get("/api/connections/").json() == []
    assert Connection.objects.filter(state=Connection.State.ABANDONED).count() == 0
    assert not OutboundMessage.objects.exists()
