"""The Connections pages of a twin's agent (/things/<slug>/connections/) and of the owner's own agent
(/profile/connections/): invitations, accepting one, each connection's messages both ways, sending, pinging,
removing; every lookup scoped to the page's agent."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils.html import escape

from didcomm import exchange, keys, outbox, services
from didcomm.forms import BASIC_MESSAGE_MAX
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage, RecipientKey
from ssi import oob
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from tests.conftest import client_for
from twins import services as twin_services
from twins.identity import agent_key

pytestmark = pytest.mark.django_db

BASIC = "https://didcomm.org/basicmessage/1.0/message"
PING = "https://didcomm.org/trust_ping/1.0/ping"
LONG_DID = (
    "did:peer:2.Vz6MkqRYqQiSgvZQdnBytw86Qbs2ZWUkGv22od935YF4s8M7V.Ez6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc"
)


@dataclass
class Page:
    """One agent's Connections pages, as its owner (alice) opens them."""

    base: str
    agent: Agent

    def connection(self, connection: Connection) -> str:
        return f"{self.base}{connection.pk}/"


@pytest.fixture(params=["thing", "owner"])
def pages(request, alice, grinder) -> Page:
    if request.param == "thing":
        return Page(f"/things/{grinder.slug}/connections/", services.agent_for_twin(grinder))
    return Page("/profile/connections/", services.agent_for_owner(alice))


def completed(agent: Agent, label: str = "ACME Corp", did: str = LONG_DID) -> Connection:
    """A connection as DID Exchange leaves it: the peer's DID, key and endpoint known, our pairwise key made."""
    connection = Connection(
        agent=agent,
        state=Connection.State.COMPLETED,
        role=Connection.Role.RESPONDER,
        protocol="1.1",
        their_label=label,
        their_did=did,
        their_verkey=b58encode(SigningKey.generate().verify_key.raw),
        their_endpoint="http://127.0.0.1:9/",
    )
    keys.pairwise_key_create(connection=connection)
    connection.save()
    return connection


def text(response) -> str:
    return response.content.decode()


# --- Who may open them ----------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(anon_client, grinder):
    for url in (f"/things/{grinder.slug}/connections/", "/profile/connections/"):
        response = anon_client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={quote(url, safe='/')}"


def test_stranger_gets_404_on_every_page_and_action_of_a_twins_agent_and_changes_nothing(carol_client, grinder):
    connection = completed(services.agent_for_twin(grinder))
    base = f"/things/{grinder.slug}/connections/"
    one = f"{base}{connection.pk}/"
    for method, url, data in [
        ("get", base, {}),
        ("post", f"{base}invitation/", {}),
        ("post", f"{base}accept/", {"invitation_url": "https://example.org/?oob=e30"}),
        ("get", one, {}),
        ("post", f"{one}message/", {"content": "hello"}),
        ("post", f"{one}ping/", {}),
        ("get", f"{one}remove/", {}),
        ("post", f"{one}remove/", {}),
    ]:
        assert getattr(carol_client, method)(url, data).status_code == 404, f"{method} {url}"
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED
    assert Connection.objects.count() == 1
    assert not OutboundMessage.objects.exists()


def test_a_connection_of_another_agent_is_a_404_on_every_page_and_action(alice, alice_client, grinder, carol):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    others = [
        completed(services.agent_for_owner(alice), "alice's own peer"),  # alice's, but not the grinder's agent
        completed(services.agent_for_twin(kettle), "the kettle's peer"),  # alice's other thing
        completed(services.agent_for_owner(carol), "carol's peer"),  # a stranger's
    ]
    grinder_base = f"/things/{grinder.slug}/connections/"
    for connection in others:
        bases = [grinder_base] if connection.agent.owner_id == alice.pk else [grinder_base, "/profile/connections/"]
        for base in bases:
            one = f"{base}{connection.pk}/"
            assert alice_client.get(one).status_code == 404, one
            assert alice_client.post(f"{one}message/", {"content": "hi"}).status_code == 404, one
            assert alice_client.post(f"{one}ping/").status_code == 404, one
            assert alice_client.get(f"{one}remove/").status_code == 404, one
            assert alice_client.post(f"{one}remove/").status_code == 404, one
    assert not OutboundMessage.objects.exists()
    assert not Connection.objects.filter(state=Connection.State.ABANDONED).exists()


def test_the_owners_agent_pages_show_each_owner_only_their_own_agent(alice, carol_client):
    completed(services.agent_for_owner(alice), "Alice's bank")
    body = text(carol_client.get("/profile/connections/"))
    assert "Alice's bank" not in body
    assert "No connections yet." in body


# --- Invitations ----------------------------------------------------------------------------------------------


def test_owner_creates_an_invitation_naming_the_twins_agent_key_and_sees_qr_link_and_copy_field(
    alice_client, grinder, settings
):
    base = f"/things/{grinder.slug}/connections/"
    response = alice_client.post(f"{base}invitation/")
    assert response.status_code == 302 and response["Location"] == base
    connection = Connection.objects.get(agent__twin=grinder)
    assert connection.state == Connection.State.INVITED
    invitation = oob.parse_url(connection.invitation_url)
    verkey = b58encode(agent_key(grinder).verify_key.raw)
    [service] = invitation.services
    assert service.recipient_verkeys == (verkey,)
    assert service.service_endpoint == f"{settings.SITE_URL}/didcomm/"
    assert invitation.handshake_protocols == (oob.DIDEXCHANGE_11, oob.DIDEXCHANGE_10)
    assert invitation.label == grinder.name
    assert RecipientKey.objects.get(verkey=verkey).agent.twin == grinder

    body = text(alice_client.get(base))
    assert "<svg" in body
    assert 'data-testid="invitation-link"' in body and 'data-testid="invitation-url"' in body
    assert connection.invitation_url in body
    assert 'data-copy="invitation-url"' in body


def test_owner_creates_an_invitation_of_their_own_agent(alice, alice_client):
    assert alice_client.post("/profile/connections/invitation/").status_code == 302
    connection = Connection.objects.get(agent__owner=alice)
    invitation = oob.parse_url(connection.invitation_url)
    [service] = invitation.services
    owner_agent = services.agent_for_owner(alice)
    assert service.recipient_verkeys == (b58encode(keys.agent_key_of(owner_agent).verify_key.raw),)
    assert invitation.label == "alice"
    assert "<svg" in text(alice_client.get("/profile/connections/"))


def test_an_open_invitation_is_not_listed_as_a_connection(pages, alice_client):
    outbox.invitation_create(agent=pages.agent)
    body = text(alice_client.get(pages.base))
    assert "No connections yet." in body


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "This field is required."),
        ("https://example.org/no-invitation-here", "not an invitation"),
        ("https://example.org/?oob=%%%", "not an invitation"),
        ("https://example.org/?oob=" + "A" * 8001, "at most 8000 characters"),
    ],
)
def test_accepting_a_bad_invitation_is_a_400_naming_the_problem(pages, alice_client, url, says):
    before = Connection.objects.count()
    response = alice_client.post(f"{pages.base}accept/", {"invitation_url": url})
    assert response.status_code == 400
    assert says in text(response)
    assert Connection.objects.count() == before
    assert not OutboundMessage.objects.exists()


def test_accept_refusals_from_the_exchange_are_shown_on_the_form(pages, alice_client):
    """Whatever reason ``outbox.invitation_accept`` gives is the form's error (a 400), not a 500."""
    url = "https://example.org/?oob=e30"  # "{}": base64url, but not an invitation
    with pytest.raises(exchange.InvitationError) as refused:
        outbox.invitation_accept(agent=pages.agent, invitation_url=url)
    response = alice_client.post(f"{pages.base}accept/", {"invitation_url": url})
    assert response.status_code == 400
    assert escape(str(refused.value)) in text(response)


def test_accepting_an_invitation_makes_a_connection_and_opens_its_page(pages, alice_client, bob):
    invitation = outbox.invitation_create(agent=services.agent_for_owner(bob))
    response = alice_client.post(f"{pages.base}accept/", {"invitation_url": invitation.invitation_url})
    connection = Connection.objects.get(agent=pages.agent)
    assert response.status_code == 302 and response["Location"] == pages.connection(connection)
    assert connection.role == Connection.Role.REQUESTER and connection.their_label == "bob"
    request = OutboundMessage.objects.get(connection=connection)
    assert request.type.startswith("https://didcomm.org/didexchange/1.")
    assert request.type.endswith("/request")
    body = text(alice_client.get(pages.connection(connection)))
    assert "they invited us" in body and "Connection request" in body


def test_accepting_ones_own_invitation_is_refused_with_the_exchanges_reason(pages, alice_client):
    invitation = outbox.invitation_create(agent=pages.agent)
    response = alice_client.post(f"{pages.base}accept/", {"invitation_url": invitation.invitation_url})
    assert response.status_code == 400
    assert "this is one of our own invitations" in text(response)
    assert Connection.objects.filter(agent=pages.agent).count() == 1


# --- One connection -------------------------------------------------------------------------------------------


def test_the_list_shows_label_shortened_did_state_and_last_ping(pages, alice_client):
    from django.utils import timezone

    connection = completed(pages.agent)
    connection.last_ping_at = timezone.now()
    connection.last_rtt_ms = 37
    connection.save()
    body = text(alice_client.get(pages.base))
    assert "ACME Corp" in body
    assert f'title="{LONG_DID}"' in body  # the full DID, for hovering
    assert f"{LONG_DID[:20]}…{LONG_DID[-6:]}" in body
    assert "completed" in body and "37 ms" in body
    assert f'href="{pages.connection(connection)}"' in body


def test_the_connection_page_shows_messages_both_ways_newest_first_with_delivery_status(pages, alice_client):
    connection = completed(pages.agent)
    other = completed(pages.agent, "Someone else")
    InboundMessage.objects.create(
        agent=pages.agent, connection=connection, message_id="in-1", type=BASIC, body={"content": "Recall notice 7"}
    )
    sent = outbox.basic_message_send(connection=connection, content="Thanks, noted")
    failed = outbox.basic_message_send(connection=connection, content="Are you there?")
    OutboundMessage.objects.filter(pk=failed.pk).update(status="failed", last_error="http://x answered 500")
    InboundMessage.objects.create(
        agent=pages.agent, connection=other, message_id="in-2", type=BASIC, body={"content": "Not on this one"}
    )
    body = text(alice_client.get(pages.connection(connection)))
    assert body.index("Are you there?") < body.index("Thanks, noted") < body.index("Recall notice 7")
    assert "Not on this one" not in body
    assert "answered 500" in body and ">failed<" in body and ">queued<" in body
    assert sent.status == "queued"
    assert f'value="{LONG_DID}"' in body  # the full DID in a copy field


def test_owner_sends_a_basic_message(pages, alice_client):
    connection = completed(pages.agent)
    response = alice_client.post(f"{pages.connection(connection)}message/", {"content": "Hello from the owner"})
    assert response.status_code == 302 and response["Location"] == pages.connection(connection)
    outbound = OutboundMessage.objects.get(connection=connection)
    assert outbound.type == BASIC and outbound.body["content"] == "Hello from the owner"
    assert outbound.to_verkey == connection.their_verkey and outbound.agent == pages.agent
    assert "Hello from the owner" in text(alice_client.get(pages.connection(connection)))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * (BASIC_MESSAGE_MAX + 1), "at most 2000 characters"),
        ("nul\x00here", "Null characters are not allowed."),
    ],
)
def test_a_bad_basic_message_is_a_400_and_sends_nothing(pages, alice_client, content, says):
    connection = completed(pages.agent)
    response = alice_client.post(f"{pages.connection(connection)}message/", {"content": content})
    assert response.status_code == 400
    assert says in text(response)
    assert not OutboundMessage.objects.exists()


def test_a_message_of_exactly_2000_characters_is_sent(pages, alice_client):
    connection = completed(pages.agent)
    content = "é" * BASIC_MESSAGE_MAX
    assert alice_client.post(f"{pages.connection(connection)}message/", {"content": content}).status_code == 302
    assert OutboundMessage.objects.get().body["content"] == content


def test_owner_pings_a_connection(pages, alice_client):
    connection = completed(pages.agent)
    response = alice_client.post(f"{pages.connection(connection)}ping/")
    assert response.status_code == 302
    ping = OutboundMessage.objects.get(connection=connection)
    assert ping.type == PING and ping.body["response_requested"] is True


def test_remove_asks_first_then_removes_and_the_connection_refuses_sends(pages, alice_client):
    connection = completed(pages.agent)
    one = pages.connection(connection)
    confirm = alice_client.get(f"{one}remove/")
    assert confirm.status_code == 200 and "Remove the connection with ACME Corp?" in text(confirm)
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED  # asking changed nothing

    response = alice_client.post(f"{one}remove/")
    assert response.status_code == 302 and response["Location"] == pages.base
    connection.refresh_from_db()
    assert connection.state == Connection.State.ABANDONED
    assert not RecipientKey.objects.filter(connection=connection).exists()

    assert ">removed<" in text(alice_client.get(pages.base))
    detail = text(alice_client.get(one))
    assert 'data-testid="removed-banner"' in detail and "Send message" not in detail
    for action, data in (("message/", {"content": "still there?"}), ("ping/", {})):
        refused = alice_client.post(f"{one}{action}", data)
        assert refused.status_code == 400, action
        assert "This connection was removed" in text(refused)
    assert not OutboundMessage.objects.exists()
    assert alice_client.post(f"{one}remove/").status_code == 302  # removing twice is harmless


def test_an_invitation_nobody_answered_accepts_no_sends(pages, alice_client):
    invitation = outbox.invitation_create(agent=pages.agent)
    response = alice_client.post(f"{pages.connection(invitation)}message/", {"content": "anyone?"})
    assert response.status_code == 400
    assert "Nobody has answered this invitation yet" in text(response)
    assert not OutboundMessage.objects.exists()


def test_a_connection_waiting_for_the_other_agents_answer_accepts_no_sends(pages, alice_client):
    connection = completed(pages.agent)
    Connection.objects.filter(pk=connection.pk).update(state=Connection.State.REQUESTED)
    response = alice_client.post(f"{pages.connection(connection)}ping/")
    assert response.status_code == 400
    assert "The other agent has not answered yet" in text(response)
    assert not OutboundMessage.objects.exists()


def test_the_list_shows_recent_messages_even_outside_any_connection(pages, alice_client):
    InboundMessage.objects.create(
        agent=pages.agent, message_id="m1", type=BASIC, body={"content": "Hello from the maker"}
    )
    assert "Hello from the maker" in text(alice_client.get(pages.base))


# --- Links to the pages ---------------------------------------------------------------------------------------


def test_the_twins_private_page_and_the_profile_link_to_their_connections(alice_client, grinder):
    assert f'href="/things/{grinder.slug}/connections/"' in text(alice_client.get(f"/things/{grinder.slug}/"))
    assert 'href="/profile/connections/"' in text(alice_client.get("/profile/"))


def test_posts_need_a_csrf_token(alice, grinder):
    connection = completed(services.agent_for_twin(grinder))
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    base = f"/things/{grinder.slug}/connections/"
    for url in (f"{base}invitation/", f"{base}{connection.pk}/message/", f"{base}{connection.pk}/remove/"):
        assert client.post(url, {"content": "x"}).status_code == 403, url
    assert client_for(alice).get(base).status_code == 200
    connection.refresh_from_db()
    assert connection.state == Connection.State.COMPLETED
    assert Connection.objects.count() == 1 and not OutboundMessage.objects.exists()


def _invitation_url(twin) -> str:
    return outbox.invitation_create(agent=services.agent_for_twin(twin)).invitation_url


def test_an_invitation_link_opened_in_a_browser_shows_who_invites(anon_client, grinder):
    url = _invitation_url(grinder)
    path = url[url.index("/didcomm/") :]
    response = anon_client.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Invitation from {grinder.name}" in body
    assert "Sign in" in body
    assert 'data-testid="accept-as-owner"' not in body


def test_a_signed_in_owner_is_offered_their_own_agents_only(carol_client, alice_client, grinder):
    url = _invitation_url(grinder)
    path = url[url.index("/didcomm/") :]
    carols = carol_client.get(path).content.decode()
    assert 'action="/profile/connections/accept/"' in carols
    assert "Accept for" not in carols  # carol owns no things; alice's are not offered to her
    alices = alice_client.get(path).content.decode()
    assert f'action="/things/{grinder.slug}/connections/accept/"' in alices
    assert f"Accept for {grinder.name}" in alices


def test_a_broken_invitation_link_is_a_400_with_a_reason(anon_client):
    response = anon_client.get("/didcomm/?oob=not-base64!!")
    assert response.status_code == 400
    assert "not a valid invitation" in response.content.decode()


def test_removing_a_connection_cancels_what_still_waited_to_be_sent(pages, alice_client):
    connection = completed(pages.agent)
    waiting = OutboundMessage.objects.create(
        agent=pages.agent, connection=connection, to_verkey=connection.their_verkey, message_id="m", type=PING, body={}
    )
    assert alice_client.post(f"{pages.connection(connection)}remove/").status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == OutboundMessage.Status.FAILED
    assert waiting.last_error == "connection removed before delivery"
