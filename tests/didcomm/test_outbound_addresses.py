"""SECURITY 40 for DIDComm: an endpoint that resolves to a private, loopback or link-local address is refused
at delivery (checked on the resolved address the connection then goes to), at once and for good, and the owner
reads a neutral reason with nothing of what is, or is not, listening there."""

from __future__ import annotations

import re

import pytest

from didcomm import outbox, services
from didcomm.models import OutboundMessage
from didcomm.transport import deliver
from ssi import oob
from ssi.keys import SigningKey
from tests.didcomm.endpoints import closed_port, http_endpoint, ws_endpoint

pytestmark = pytest.mark.django_db

NEUTRAL = "cannot deliver to this address"


@pytest.fixture
def guarded(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False


def accepted(owner, twin, endpoint: str):
    invitation = oob.build_invitation(
        label="Internal service",
        recipient_key=SigningKey.generate().verify_key,
        service_endpoint=endpoint,
        handshake_protocols=(oob.DIDEXCHANGE_11,),
    )
    url = oob.invitation_url(invitation, "https://peer.example/")
    return services.agent_invitation_accept(owner=owner, twin=twin, invitation_url=url)


@pytest.mark.parametrize("server", [http_endpoint, ws_endpoint], ids=["http", "ws"])
def test_an_accepted_invitation_to_loopback_is_refused_at_delivery_for_good(guarded, alice, grinder, server):
    with server() as (url, received):
        connection = accepted(alice, grinder, url)
        request = OutboundMessage.objects.get(connection=connection)
        deliver(request.pk)
    assert received.bodies == []
    request.refresh_from_db()
    assert request.status == OutboundMessage.Status.FAILED
    assert request.last_error == NEUTRAL
    assert request.attempts == 1 and request.next_attempt_at is None


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://localhost:{port}/admin?token=1",
        "http://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://10.0.0.1:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "ws://192.168.1.1:{port}/",
    ],
)
def test_internal_addresses_look_the_same_whether_anything_listens_or_not(guarded, alice, grinder, endpoint):
    connection = accepted(alice, grinder, endpoint.format(port=closed_port()))
    request = OutboundMessage.objects.get(connection=connection)
    deliver(request.pk)
    request.refresh_from_db()
    assert (request.status, request.last_error) == (OutboundMessage.Status.FAILED, NEUTRAL)


def test_the_connection_page_shows_only_the_neutral_reason(guarded, alice, alice_client, grinder):
    connection = accepted(alice, grinder, f"http://127.0.0.1:{closed_port()}/")
    deliver(OutboundMessage.objects.get(connection=connection).pk)
    page = alice_client.get(f"/things/{grinder.slug}/connections/{connection.pk}/").content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())  # what the owner reads, without the markup
    assert f"Not delivered: {NEUTRAL}." in text
    assert "Connection refused" not in page and "Errno" not in page


def test_with_private_addresses_allowed_loopback_is_delivered(settings, alice, grinder):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    with http_endpoint() as (url, received):
        connection = accepted(alice, grinder, url)
        request = OutboundMessage.objects.get(connection=connection)
        deliver(request.pk)
    assert len(received.bodies) == 1
    request.refresh_from_db()
    assert request.status == OutboundMessage.Status.SENT


def test_a_message_on_an_existing_connection_to_a_private_address_is_refused_too(guarded, connection):
    message = outbox.basic_message_send(connection=connection, content="hi")
    deliver(message.pk)
    message.refresh_from_db()
    assert (message.status, message.last_error) == (OutboundMessage.Status.FAILED, NEUTRAL)
