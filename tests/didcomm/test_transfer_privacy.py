"""After a sale the buyer does not read the seller's DIDComm conversations on the thing's agent (review finding 5,
session 11): the activity lists (the thing's page, its Connections pages) start at the current owner's
``owner_since``, and removing "Agent message" entries at the sale strips the seller's words from the rows behind
them (didcomm.redaction), while the agent's connections go on working for the buyer and a replayed message of the
seller's is still taken once (SECURITY 14)."""

from __future__ import annotations

import json

import pytest

from didcomm import services
from didcomm.models import Connection, InboundMessage, OutboundMessage
from tests.conftest import client_for
from tests.didcomm.test_timeline import BASIC, PROBLEM, Peer, message
from twins.models import HistoryEntry, Twin
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db

RECEIVED = "Alice, your bike is ready; we charged the card ending 4242"
PROBLEM_TEXT = "Alice's address 12 Zq Street is not on our route"
SENT = "Thanks! Alice Zqwerty, call me on 07700 900123"
SECRETS = (RECEIVED, "12 Zq Street", "07700 900123")


@pytest.fixture
def conversation(alice, grinder):
    """Alice's grinder agent talked with her mechanic: a message and a problem report received, one sent (and
    delivered)."""
    mechanic = Peer(services.agent_for_twin(grinder), label="Alice's mechanic")
    received = message(BASIC, content=RECEIVED)
    assert mechanic.send(received).status_code == 200
    assert mechanic.send(message(PROBLEM, description={"code": "no-route", "en": PROBLEM_TEXT})).status_code == 200
    agent = services.agent_for_twin(grinder)
    sent = services.connection_message_send(agent=agent, connection_id=mechanic.connection.pk, content=SENT)
    OutboundMessage.objects.filter(pk=sent.pk).update(status=OutboundMessage.Status.SENT)
    return mechanic, received


def _sell(grinder, alice, bob, kinds, capture) -> Twin:
    with capture(execute=True):
        offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=kinds), buyer=bob)
    return Twin.objects.get(pk=grinder.pk)


def _pages(bob, twin: Twin, connection: Connection) -> dict[str, str]:
    client = client_for(bob)
    urls = (
        f"/things/{twin.slug}/",
        f"/things/{twin.slug}/connections/",
        f"/things/{twin.slug}/connections/{connection.pk}/",
    )
    answers = {url: client.get(url) for url in urls}
    assert {url: answer.status_code for url, answer in answers.items()} == dict.fromkeys(urls, 200)
    return {url: answer.content.decode() for url, answer in answers.items()}


def _shown(pages: dict[str, str]) -> list[tuple[str, str]]:
    return [(url, secret) for url, body in pages.items() for secret in SECRETS if secret in body]


def test_the_buyer_does_not_read_messages_the_seller_removed_at_sale(
    alice, bob, grinder, conversation, django_capture_on_commit_callbacks
):
    mechanic, received = conversation
    twin = _sell(grinder, alice, bob, ["message"], django_capture_on_commit_callbacks)

    assert _shown(_pages(bob, twin, mechanic.connection)) == []
    assert all(entry.redacted for entry in HistoryEntry.objects.filter(twin=twin, kind=HistoryEntry.Kind.MESSAGE))
    # The words are gone from the database too; the rows keep what DIDComm needs (each @id taken once).
    inbound = InboundMessage.objects.filter(agent__twin=twin).values_list("body", flat=True)
    outbound = OutboundMessage.objects.filter(agent__twin=twin).values_list("body", flat=True)
    stored = json.dumps([*inbound, *outbound])
    assert not [secret for secret in SECRETS if secret in stored]
    kept = InboundMessage.objects.get(message_id=received["@id"])
    assert kept.body == {"@id": received["@id"], "@type": BASIC}
    # A replay of the mechanic's message is still taken once: nothing new, nothing for the buyer to read.
    assert mechanic.send(received).status_code == 200
    assert InboundMessage.objects.filter(message_id=received["@id"]).count() == 1
    assert _shown(_pages(bob, twin, mechanic.connection)) == []


def test_the_buyer_does_not_read_what_the_seller_sent_before_the_sale(
    alice, bob, grinder, conversation, django_capture_on_commit_callbacks
):
    """The seller kept her history (nothing removed): her received messages stay in the thing's history, her
    choice, but the agent's activity lists are the buyer's own: neither what she sent nor what she received."""
    mechanic, _ = conversation
    twin = _sell(grinder, alice, bob, [], django_capture_on_commit_callbacks)

    pages = _pages(bob, twin, mechanic.connection)
    assert [(url, secret) for url, secret in _shown(pages) if url != f"/things/{twin.slug}/"] == []
    assert SENT not in pages[f"/things/{twin.slug}/"]
    assert "Alice&#x27;s mechanic" in pages[f"/things/{twin.slug}/connections/"]  # the connection is the thing's

    # The connection goes on working for the buyer, and what comes and goes now is his to read.
    agent = services.agent_for_twin(twin)
    services.connection_message_send(agent=agent, connection_id=mechanic.connection.pk, content="Bob here, hello")
    assert mechanic.send(message(BASIC, content="Welcome, Bob")).status_code == 200
    for body in _pages(bob, twin, mechanic.connection).values():
        assert "Bob here, hello" in body and "Welcome, Bob" in body
        assert SENT not in body
