"""ssi.introduce: Aries RFC 0028 messages built and read back, the RFC's own examples read, bad input refused."""

from __future__ import annotations

import json

import pytest

from ssi import introduce, oob
from ssi.keys import SigningKey

PREFIX = "https://didcomm.org/introduce/1.0/"
THING = introduce.Thing(did="did:webvh:QmScid:example.com:twins:abc", gtin="09506000134352", serial="GM3-0001")


def invitation() -> dict:
    return oob.build_invitation(
        label="Acme Grinders", recipient_key=SigningKey.generate().verify_key, service_endpoint="https://acme.example/d"
    )


def test_a_proposal_round_trips_with_its_thing_and_no_nwise():
    to = introduce.Descriptor(name="The owner of this thing", description="Whoever owns it now.", proposed=True)
    body = introduce.proposal(to=to, thing=THING, message_id="thread-1")

    assert body["@type"] == PREFIX + "proposal" and body["@id"] == "thread-1"
    assert body["nwise"] is False
    assert body["to"] == {"name": "The owner of this thing", "description": "Whoever owns it now.", "proposed": True}
    parsed = introduce.parse_proposal(json.loads(json.dumps(body)))
    assert parsed == introduce.Proposal(id="thread-1", to=to, thing=THING, nwise=False)


def test_the_rfcs_simple_proposal_and_responses_are_read():
    # features/0028-introduce: simple-proposal.json, simple-response-did.json's shape, simple-response-other.json.
    simple = {
        "@type": "did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/introduce/1.0/proposal",
        "@id": "df3b699d-3aa9-4fd0-bb67-49594da545bd",
        "to": {"name": "Bob"},
    }
    assert introduce.parse_proposal(simple).to == introduce.Descriptor(name="Bob")
    other = {
        "@type": "did:sov:BzCbsNYhMrjHiqZDTUASHg;spec/introduce/1.0/response",
        "@id": "283e15b5-a3f7-43e7-bac8-b75e4e7a0a25",
        "~thread": {"thid": "df3b699d-3aa9-4fd0-bb67-49594da545bd"},
        "approve": True,
    }
    response = introduce.parse_response(other)
    assert response.approve and response.invitation is None and response.thid == simple["@id"]


def test_an_approving_response_carries_the_invitation_and_the_asks():
    message = invitation()
    body = introduce.response(
        thid="thread-1", approve=True, invitation=message, asks_for=["readings:grams"], purpose="Recalls."
    )

    assert body["@type"] == PREFIX + "response" and body["~thread"] == {"thid": "thread-1"}
    parsed = introduce.parse_response(body)
    assert parsed.approve and parsed.invitation.id == message["@id"] and parsed.invitation.label == "Acme Grinders"
    assert parsed.asks_for == ("readings:grams",) and parsed.purpose == "Recalls."


def test_a_refusal_carries_nothing_but_the_refusal():
    body = introduce.response(thid="t", approve=False, invitation=invitation(), asks_for=["readings"], purpose="x")
    assert set(body) == {"@type", "@id", "approve", "~thread"}
    assert introduce.parse_response(body) == introduce.Response(thid="t", approve=False)


def test_the_declined_report_is_built_from_the_thread_alone():
    body = introduce.declined(thid="thread-1")
    assert body["@type"] == PREFIX + "problem-report"
    assert body["~thread"] == {"thid": "thread-1"} and introduce.problem_code(body) == "declined"
    assert set(body) == {"@type", "@id", "description", "impact", "who_retries", "~thread"}


def test_a_delivered_invitation_names_the_introduction_as_its_parent_thread_and_still_parses():
    message = invitation()
    delivered = introduce.delivered_invitation(message, thid="thread-1")
    assert delivered["~thread"] == {"pthid": "thread-1"} and "~thread" not in message
    url = oob.invitation_url(delivered, "https://owner.example/didcomm/")
    assert oob.parse_url(url).id == message["@id"]


def test_request_and_ack_are_of_the_family():
    request = introduce.request(please_introduce_to=introduce.Descriptor(name="The owner"), thing=THING)
    assert introduce.parse_request(request).thing == THING
    assert introduce.ack(thid="t")["status"] == "OK"
    with pytest.raises(introduce.IntroduceError):
        introduce.ack(thid="t", status="MAYBE")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"to": None}, "introducee descriptor"),
        ({"to": {"name": " "}}, "to.name"),
        ({"to": {"name": "x" * 201}}, "longer than 200"),
        ({"to": {"name": "Bob", "proposed": "yes"}}, "proposed"),
        ({"nwise": "no"}, "nwise"),
        ({"thing": {"did": "not-a-did"}}, "thing.did must be a DID"),
        ({"thing": {"did": "did:x:y", "gtin": "123"}}, "GTIN-14"),
        ({"thing": {"did": "did:x:y", "serial": "a b"}}, "GS1 set"),
        ({"@type": PREFIX + "response"}, "not an introduce/1.0/proposal"),
        ({"@id": ""}, "@id"),
    ],
)
def test_a_malformed_proposal_is_refused_with_a_reason(change, reason):
    body = introduce.proposal(to=introduce.Descriptor(name="Bob"), thing=THING) | change
    with pytest.raises(introduce.IntroduceError, match=reason):
        introduce.parse_proposal(body)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"~thread": {}}, "thid"),
        ({"approve": "true"}, "approve"),
        ({"invitation": {"@type": "https://didcomm.org/connections/1.0/invitation"}}, "invitation"),
        ({"asks_for": "readings"}, "asks_for"),
        ({"asks_for": ["Readings!"]}, "not a data kind"),
        ({"asks_for": ["readings"] * 21}, "at most 20"),
        ({"purpose": 7}, "purpose"),
    ],
)
def test_a_malformed_response_is_refused_with_a_reason(change, reason):
    body = introduce.response(thid="t", approve=True, invitation=invitation()) | change
    with pytest.raises(introduce.IntroduceError, match=reason):
        introduce.parse_response(body)


def test_anything_but_an_object_is_refused():
    for body in (None, [], "proposal", 3):
        with pytest.raises(introduce.IntroduceError):
            introduce.parse_proposal(body)
