"""A claimed thing introduces its owner to its manufacturer (Aries RFC 0028), on one instance, end to end.

Real parts throughout: the site served over HTTP on loopback (uvicorn in a thread, SITE_URL pointing at it), every
DIDComm message packed, posted and opened, tasks queued in the database and run by the real worker
(``db_worker --batch``, as many rounds as the messages take). The produced twin is made as production makes it
(owned by Acme's account, a ProducedThing) and handed over by the normal transfer, exactly what a claim does.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from didcomm import outbox
from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage
from didcomm.services import agent_for_owner, agent_for_twin
from makers.models import ProducedThing
from owners.models import Notification, OwnerKey
from sharing.models import ConnectionSubject, Introduction
from ssi import messages
from tests.asgi_thread import asgi_in_thread
from tests.conftest import client_for
from twins import services as twin_services
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db(transaction=True)

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
SERIAL = "GM3-0001"


@pytest.fixture(scope="module")
def server_url():
    from config.asgi import application

    with asgi_in_thread(application, lifespan="off") as url:
        yield url


@pytest.fixture
def site(server_url, settings) -> str:
    """The live server as SITE_URL (what invitations and DIDs name), tasks queued in the database."""
    settings.SITE_URL = server_url
    settings.TASKS = DB_TASKS
    return server_url


def settle(rounds: int = 40) -> None:
    """Run the worker until no task is due: each round delivers what the previous round's receipts queued."""
    for _ in range(rounds):
        if not DBTaskResult.objects.ready().exists():
            return
        call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    raise AssertionError("tasks kept coming: the exchange did not settle")


@pytest.fixture
def produced(site, acme, acme_model):
    twin = twin_services.twin_create(owner=acme.account, name="Grindmaster 3000", icon="coffee")
    ProducedThing.objects.create(twin=twin, model=acme_model, serial=SERIAL)
    return twin


def claim(twin, buyer):
    offer_accept(offer=offer_create(twin=twin, seller=twin.owner, redact_kinds=[]), buyer=buyer)
    twin.refresh_from_db()
    return twin


def introduced(twin, owner) -> Introduction:
    """The claim's introduction, once the manufacturer has answered and the owner is asked."""
    claim(twin, owner)
    settle()
    return Introduction.objects.get(twin=twin, owner=owner)


def to_manufacturer(acme) -> list[dict]:
    """Every message the manufacturer's agent received or could read: what it learnt."""
    agent = agent_for_owner(acme.account)
    received = [message.body for message in InboundMessage.objects.filter(agent=agent)]
    connections = [
        {"label": c.their_label, "did": c.their_did, "endpoint": c.their_endpoint}
        for c in Connection.objects.filter(agent=agent)
    ]
    return received + connections


def test_a_claim_asks_the_owner_in_the_inbox_what_acme_asks_for(produced, alice, acme):
    introduction = introduced(produced, alice)

    assert introduction.state == Introduction.State.PROPOSED
    assert introduction.party_label == "Acme Grinders"
    assert introduction.asks_for == ["readings:grams"]
    assert "Acme Grinders made your Grindmaster 3000" in introduction.message
    item = Notification.objects.get(owner=alice, kind=Notification.Kind.INTRODUCTION)
    assert item.title == "Acme Grinders would like to connect"
    assert item.action_url == f"/introductions/{introduction.pk}/" and item.action_label == "Review"
    # The manufacturer heard of the thing, and of its owner only as "the owner of this thing".
    (proposal,) = [b for b in to_manufacturer(acme) if b.get("@type", "").endswith("introduce/1.0/proposal")]
    assert proposal["thing"] == {"did": produced.did, "gtin": "09506000134352", "serial": SERIAL}
    assert proposal["to"]["name"] == "The owner of this thing"
    page = client_for(alice).get(item.action_url).content.decode()
    assert "Acme Grinders would like to connect" in page and "its grams readings" in page


def test_accepting_connects_the_owners_agent_with_the_manufacturers_about_the_thing(produced, alice, acme):
    introduction = introduced(produced, alice)

    response = client_for(alice).post(f"/introductions/{introduction.pk}/accept/")
    assert response.status_code == 302
    settle()

    introduction.refresh_from_db()
    assert introduction.state == Introduction.State.CONNECTED
    mine = introduction.owner_connection
    assert mine.agent == agent_for_owner(alice) and mine.state == Connection.State.COMPLETED
    # The manufacturer's side of the same connection: its peer is the owner's agent.
    theirs = Connection.objects.get(agent=agent_for_owner(acme.account), their_verkey=mine.my_verkey)
    assert theirs.state == Connection.State.COMPLETED and mine.their_verkey == theirs.my_verkey
    for connection in (mine, theirs):
        subject = ConnectionSubject.objects.get(connection=connection)
        assert (subject.thing_did, subject.gtin, subject.serial) == (produced.did, "09506000134352", SERIAL)
        assert subject.twin == produced
    # Over it, a message from the manufacturer reaches the owner's agent.
    outbox.basic_message_send(connection=theirs, content="Thanks for registering your Grindmaster")
    settle()
    assert InboundMessage.objects.get(connection=mine, type__endswith="basicmessage/1.0/message").body["content"] == (
        "Thanks for registering your Grindmaster"
    )
    page = client_for(alice).get(f"/introductions/{introduction.pk}/").content.decode()
    assert "You are connected with Acme Grinders" in page


def test_declining_leaves_no_connection_and_tells_the_manufacturer_nothing_about_the_owner(produced, alice, acme):
    introduction = introduced(produced, alice)
    invitations = Connection.objects.filter(agent=agent_for_owner(acme.account), role=Connection.Role.RESPONDER)
    handed_out = invitations.get(subjects__thing_did=produced.did)

    response = client_for(alice).post(f"/introductions/{introduction.pk}/decline/")
    assert response.status_code == 302
    settle()

    introduction.refresh_from_db()
    assert introduction.state == Introduction.State.DECLINED and introduction.owner_connection is None
    assert not Connection.objects.filter(agent__owner=alice).exists()
    # The manufacturer withdrew the invitation it handed out, and knows why: declined, not by whom.
    handed_out.refresh_from_db()
    assert handed_out.state == Connection.State.ABANDONED and handed_out.error == "the introduction was declined"
    (report,) = [b for b in to_manufacturer(acme) if b.get("@type", "").endswith("introduce/1.0/problem-report")]
    assert report["description"]["code"] == "declined"
    # Nothing that names the owner: no username, email, key, DID or agent label (the owner's agent was never made).
    learnt = json.dumps(to_manufacturer(acme))
    owner_keys = [key.public_multibase for key in OwnerKey.objects.filter(owner=alice) if key.public_multibase]
    assert owner_keys
    for secret in ("alice", "alice@example.org", *owner_keys):
        assert secret not in learnt
    assert not Agent.objects.filter(owner=alice).exists()


def test_only_the_twins_owner_sees_or_decides_and_a_second_accept_is_a_409(produced, alice, carol, acme):
    introduction = introduced(produced, alice)
    url = f"/introductions/{introduction.pk}/"

    for stranger in (carol, acme.account):
        client = client_for(stranger)
        assert client.get(url).status_code == 404
        assert client.post(url + "accept/").status_code == 404
        assert client.post(url + "decline/").status_code == 404
    introduction.refresh_from_db()
    assert introduction.state == Introduction.State.PROPOSED

    owner = client_for(alice)
    assert owner.post(url + "accept/").status_code == 302
    second = owner.post(url + "accept/")
    assert second.status_code == 409
    assert owner.post(url + "decline/").status_code == 409
    assert Connection.objects.filter(agent__owner=alice).count() == 1


def test_the_panel_starts_an_introduction_later_and_not_twice(produced, alice, acme):
    introduction = introduced(produced, alice)
    client = client_for(alice)
    client.post(f"/introductions/{introduction.pk}/decline/")
    settle()
    page = client.get(f"/things/{produced.slug}/").content.decode()
    assert "Introduce me to Acme Grinders" in page

    assert client.post(f"/things/{produced.slug}/introduce/").status_code == 302
    assert client.post(f"/things/{produced.slug}/introduce/").status_code == 302
    settle()

    again = Introduction.objects.exclude(pk=introduction.pk).get(twin=produced)
    assert again.state == Introduction.State.PROPOSED
    # The twin's connection with Acme is the one made at the claim.
    assert again.party_connection_id == introduction.party_connection_id
    assert Connection.objects.filter(agent=agent_for_twin(produced)).count() == 1
    page = client.get(f"/things/{produced.slug}/").content.decode()
    assert "Introduce me to" not in page and "would like to connect" in page


def test_a_thing_passed_on_by_its_owner_is_not_introduced_and_pending_asks_end(produced, alice, bob, acme):
    introduction = introduced(produced, alice)

    claim(produced, bob)  # alice sells it on: not a claim
    settle()

    introduction.refresh_from_db()
    assert introduction.state == Introduction.State.FAILED
    assert not Introduction.objects.filter(owner=bob).exists()
    assert client_for(alice).get(f"/introductions/{introduction.pk}/").status_code == 404
    sent = OutboundMessage.objects.filter(type__endswith=messages.INTRODUCE_PROPOSAL.rsplit("/", 1)[-1])
    assert sent.count() == 1
