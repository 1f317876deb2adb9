"""The owner's Connections page: create an RFC 0434 invitation, see connections and messages received."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from didcomm import services
from didcomm.models import Connection, InboundMessage, RecipientKey
from ssi import oob
from ssi.multibase import b58encode
from twins.identity import agent_key

pytestmark = pytest.mark.django_db


def page(twin) -> str:
    return f"/things/{twin.slug}/connections/"


def test_anonymous_is_sent_to_login(anon_client, grinder):
    response = anon_client.get(page(grinder))
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={quote(page(grinder), safe='/')}"


def test_stranger_gets_404_and_creates_nothing(carol_client, grinder):
    assert carol_client.get(page(grinder)).status_code == 404
    assert carol_client.post(page(grinder)).status_code == 404
    assert not Connection.objects.exists()


def test_owner_creates_an_invitation_naming_the_twins_agent_key(alice_client, grinder, settings):
    response = alice_client.post(page(grinder))
    assert response.status_code == 302
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

    body = alice_client.get(page(grinder)).content.decode()
    assert connection.invitation_url in body
    assert "<svg" in body


def test_owner_sees_messages_received(alice_client, grinder):
    InboundMessage.objects.create(
        agent=services.agent_for_twin(grinder),
        message_id="m1",
        type="https://didcomm.org/basicmessage/1.0/message",
        body={"content": "Hello from the maker"},
    )
    body = alice_client.get(page(grinder)).content.decode()
    assert "Hello from the maker" in body
