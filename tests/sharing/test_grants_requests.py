"""A party asks for a grant over DIDComm (thingstead:grants/1.0/request, a real envelope posted to our endpoint);
the owner finds it in the inbox and approves (possibly fewer kinds) or declines from the answer page; the answer
goes back as thingstead:grants/1.0/response on the request's thread. A request over a connection with no business
with the thing, or a malformed one, gets a problem report and creates nothing."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from didcomm import keys, services
from didcomm.models import Connection, InboundMessage, OutboundMessage
from owners.models import Notification
from sharing.models import Grant
from ssi import envelope
from ssi.keys import SigningKey
from tests.conftest import client_for
from tests.didcomm.endpoints import completed_connection, verkey
from twins import services as twin_services
from twins.models import HistoryEntry

pytestmark = pytest.mark.django_db

REQUEST = "https://thingstead.org/didcomm/grants/1.0/request"
RESPONSE = "https://thingstead.org/didcomm/grants/1.0/response"
PROBLEM = "https://didcomm.org/notification/1.0/problem-report"  # the generic name ACA-Py handles


def send(connection: Connection, sender: SigningKey, **body) -> dict:
    message = {"@type": REQUEST, "@id": str(uuid.uuid4()), **body}
    raw = envelope.pack(json.dumps(message).encode(), to_verkeys=[connection.my_verkey], from_key=sender)
    response = Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)
    assert response.status_code in (200, 202), response.content
    return message


def requests_of(owner) -> list[Notification]:
    return list(Notification.objects.filter(owner=owner, kind=Notification.Kind.REQUEST))


def problem_for(message: dict) -> dict:
    (report,) = OutboundMessage.objects.filter(type=PROBLEM)
    assert report.body["~thread"]["thid"] == message["@id"]
    return report.body["description"]


def test_a_request_lands_in_the_owners_inbox_with_an_answer_link_and_grants_nothing(alice, grinder, connection, peer):
    message = send(connection, peer, thing=grinder.did, kinds=["readings", "usage"], reason="Warranty analytics")
    (item,) = requests_of(alice)
    assert item.twin == grinder and item.body == "Warranty analytics" and item.action_label == "Answer"
    assert "Acme Grinders" in item.title and "readings" in item.title
    assert item.action_url.startswith("/sharing/requests/")
    assert not Grant.objects.exists()
    page = client_for(alice).get(item.action_url)
    assert page.status_code == 200 and b"Warranty analytics" in page.content
    assert not OutboundMessage.objects.filter(type__in=[RESPONSE, PROBLEM]).exists()
    assert message["@id"]


def test_approving_fewer_kinds_makes_the_grant_and_answers_on_the_thread(alice, grinder, connection, peer):
    message = send(
        connection, peer, thing=grinder.did, kinds=["readings", "usage"], until="2099-01-01T00:00:00Z", reason=""
    )
    url = requests_of(alice)[0].action_url
    response = client_for(alice).post(url, {"answer": "approve", "kinds": ["usage"], "until": "2098-06-01"})
    assert response.status_code == 302
    grant = Grant.objects.get()
    assert grant.connection == connection and grant.kinds == ["usage"] and grant.expires_at.year == 2098
    answer = OutboundMessage.objects.get(type=RESPONSE)
    assert answer.connection == connection and answer.to_verkey == verkey(peer)
    assert answer.body["~thread"] == {"thid": message["@id"]}
    assert answer.body["approved"] is True and answer.body["kinds"] == ["usage"]
    assert answer.body["until"] == "2098-06-01T00:00:00Z"
    assert HistoryEntry.objects.filter(twin=grinder, kind=HistoryEntry.Kind.GRANT).count() == 1
    again = client_for(alice).post(url, {"answer": "approve", "kinds": ["usage"]})
    assert again.status_code == 409 and Grant.objects.count() == 1
    assert b"approved" in client_for(alice).get(url).content


def test_more_than_was_asked_cannot_be_approved(alice, grinder, connection, peer):
    send(connection, peer, thing=grinder.did, kinds=["usage"])
    url = requests_of(alice)[0].action_url
    response = client_for(alice).post(url, {"answer": "approve", "kinds": ["usage", "journal"]})
    assert response.status_code == 400 and not Grant.objects.exists()


def test_declining_answers_declined_and_grants_nothing(alice, grinder, connection, peer):
    message = send(connection, peer, thing=grinder.did, kinds=["scans"])
    response = client_for(alice).post(requests_of(alice)[0].action_url, {"answer": "decline"})
    assert response.status_code == 302
    answer = OutboundMessage.objects.get(type=RESPONSE)
    assert answer.body == {
        "@type": RESPONSE,
        "@id": answer.body["@id"],
        "approved": False,
        "kinds": [],
        "until": None,
        "~thread": {"thid": message["@id"]},
    }
    assert not Grant.objects.exists()


def test_a_request_about_a_thing_the_connection_has_no_business_with_gets_a_problem_report(
    alice, bob, grinder, connection, peer
):
    bobs = twin_services.twin_create(owner=bob, name="Bob's bike")
    kettle = twin_services.twin_create(owner=alice, name="Kettle")  # alice's, but not this connection's twin
    for thing in (bobs.did, kettle.did, "did:webvh:QmNope:example.com"):
        OutboundMessage.objects.all().delete()
        message = send(connection, peer, thing=thing, kinds=["readings"])
        assert problem_for(message)["code"] == "unknown-thing"
    assert requests_of(alice) == [] and requests_of(bob) == []
    assert not Grant.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"kinds": ["readings"]},
        {"thing": "THING", "kinds": ["everything"]},
        {"thing": "THING", "kinds": []},
        {"thing": "THING", "kinds": ["readings"], "until": "tomorrow"},
        {"thing": "THING", "kinds": ["readings"], "until": "2001-01-01T00:00:00Z"},
        {"thing": "THING", "kinds": ["readings"], "reason": 5},
    ],
    ids=["no-thing", "unknown-kind", "no-kinds", "bad-until", "past-until", "bad-reason"],
)
def test_a_malformed_request_gets_a_problem_report_and_creates_nothing(alice, grinder, connection, peer, body):
    body = {key: grinder.did if value == "THING" else value for key, value in body.items()}
    message = send(connection, peer, **body)
    assert problem_for(message)["code"] == "invalid-message"
    assert requests_of(alice) == []


def test_the_owners_own_agent_may_be_asked_about_any_of_the_owners_things(alice, grinder):
    peer = SigningKey.generate()
    own = Connection(
        agent=services.agent_for_owner(alice),
        state=Connection.State.COMPLETED,
        their_verkey=verkey(peer),
        their_label="Vet practice",
    )
    keys.pairwise_key_create(connection=own)
    own.save()
    send(own, peer, thing=grinder.did, kinds=["journal"])
    assert len(requests_of(alice)) == 1


def test_another_owner_cannot_open_or_answer_a_request(alice, carol, grinder, connection, peer):
    send(connection, peer, thing=grinder.did, kinds=["scans"])
    url = requests_of(alice)[0].action_url
    assert client_for(carol).get(url).status_code == 404
    assert client_for(carol).post(url, {"answer": "approve", "kinds": ["scans"]}).status_code == 404
    assert not Grant.objects.exists() and not OutboundMessage.objects.filter(type=RESPONSE).exists()


def test_a_message_that_is_not_a_grant_request_has_no_answer_page(alice, grinder, connection, peer):
    raw = envelope.pack(
        json.dumps({"@type": "https://didcomm.org/basicmessage/1.0/message", "@id": "m1", "content": "hi"}).encode(),
        to_verkeys=[connection.my_verkey],
        from_key=peer,
    )
    Client().post("/didcomm/", data=raw, content_type=envelope.MEDIA_TYPE)
    message = InboundMessage.objects.get(message_id="m1")
    assert client_for(alice).get(f"/sharing/requests/{message.pk}/").status_code == 404


def test_a_connection_of_another_twin_of_someone_else_cannot_ask(alice, bob, grinder):
    bobs = twin_services.twin_create(owner=bob, name="Bob's bike")
    peer = SigningKey.generate()
    bobs_connection = completed_connection(twin=bobs, peer=peer, their_label="Sneaky")
    message = send(bobs_connection, peer, thing=grinder.did, kinds=["readings"])
    assert problem_for(message)["code"] == "unknown-thing"
    assert requests_of(alice) == []
