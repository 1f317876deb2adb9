"""The support API (support.apis): each operation the pages have, over the same services, between olga's Grindmaster
and Acme's queue (real agents of this instance, messages carried by pump()), with its refusals in words and the one
404 for anyone else."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from support.models import Case, CaseMessage
from tests.conftest import api_for
from tests.support.conftest import png, pump

pytestmark = pytest.mark.django_db


def _open(olga, grindmaster, link, **body):
    answer = api_for(olga).post(
        f"/api/things/{grindmaster.slug}/support/cases",
        {"connection_id": link[0].pk, "subject": "Noise", "text": "It squeaks.", "keys": ["model"], **body},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    pump()
    return answer.json()


@pytest.fixture
def opened(acme, olga, grindmaster, link):
    """olga's case, delivered to Acme's queue: (olga's case id, Acme's case id)."""
    mine = _open(olga, grindmaster, link)
    return mine["id"], Case.objects.get(side=Case.Side.PARTY, organisation=acme).public_id


def test_the_owner_sees_whom_to_ask_and_what_to_attach(olga, grindmaster, link):
    answer = api_for(olga).get(f"/api/things/{grindmaster.slug}/support/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["parties"] == [{"connection_id": link[0].pk, "label": link[0].their_label or "a connected agent"}]
    keys = [item["key"] for item in body["attachable"]]
    assert {"model", "serial", "firmware", "readings:grams", "readings:temperature", "photo"} <= set(keys)
    assert sum(key.startswith("journal:") for key in keys) == 2
    assert {"key": "firmware", "label": "Firmware version", "detail": "2.4.1"} in body["attachable"]
    assert body["cases"] == []


def test_the_owner_opens_a_case_over_multipart_with_ticked_keys_and_a_photo(acme, olga, grindmaster, link):
    answer = api_for(olga).post(
        f"/api/things/{grindmaster.slug}/support/cases",
        {
            "connection_id": str(link[0].pk),
            "subject": "Uneven grind",
            "text": "Uneven since Tuesday.",
            "keys": ["serial", "firmware"],
            "photo": SimpleUploadedFile("close-up.png", png((10, 200, 10))),
        },
        format="multipart",
    )
    assert answer.status_code == 201, answer.json()
    case = answer.json()
    assert case["subject"] == "Uneven grind" and case["status"] == "open" and case["can_write"] is True
    assert case["thing"] == {"id": grindmaster.slug, "name": grindmaster.name}
    assert [m["kind"] for m in case["messages"]] == ["open"]
    assert case["messages"][0]["delivery"] == "queued"
    pump()
    party = Case.objects.get(side=Case.Side.PARTY, organisation=acme)
    received = party.messages.get(kind=CaseMessage.Kind.OPEN)
    assert received.context == {"serial": "GM-0042", "firmware": "2.4.1"}
    assert [a["@id"] for a in received.attachments] == ["upload"]
    mine = api_for(olga).get(f"/api/support/cases/{case['id']}").json()
    assert mine["messages"][0]["delivery"] == "sent"


def test_opening_refuses_in_words_and_writes_nothing(olga, grindmaster, link, carol):
    client = api_for(olga)
    url = f"/api/things/{grindmaster.slug}/support/cases"
    good = {"connection_id": link[0].pk, "text": "It squeaks."}
    refusals = [
        ({**good, "keys": ["journal:999999"]}, "nothing to attach"),
        ({**good, "connection_id": 999999}, "Choose one of the parties"),
        ({**good, "text": "   "}, "blank"),
        ({**good, "nmae": "x"}, "Unknown field"),
        ({**good, "connection_id": "abc"}, "valid integer"),
    ]
    for body, words in refusals:
        answer = client.post(url, body, format="json")
        assert answer.status_code == 400, body
        assert words in answer.json()["message"] + str(answer.json()["extra"]), answer.json()
    not_an_image = SimpleUploadedFile("x.png", b"not an image at all")
    answer = client.post(url, {**good, "photo": not_an_image}, format="multipart")
    assert answer.status_code == 400 and answer.json()["message"]
    assert not Case.objects.exists()
    assert api_for(carol).post(url, good, format="json").status_code == 404
    assert api_for(carol).get(f"/api/things/{grindmaster.slug}/support/").status_code == 404
    assert not Case.objects.exists()


def test_the_owner_lists_reads_and_marks_read_with_receipts(acme, dora, olga, grindmaster, link, opened):
    mine, theirs = opened
    dora_api = api_for(dora)
    assert (
        dora_api.post(
            f"/api/orgs/acme/support/cases/{theirs}/replies", {"text": "Try cleaning the burrs."}, format="json"
        ).status_code
        == 201
    )
    pump()
    olga_api = api_for(olga)
    listed = olga_api.get("/api/support/cases").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == mine and listed["results"][0]["unread"] == 1
    case = olga_api.get(f"/api/support/cases/{mine}").json()
    reply = case["messages"][-1]
    assert (reply["kind"], reply["incoming"], reply["read_at"]) == ("reply", True, None)
    assert "Acme Grinders" in reply["author"] and reply["text"] == "Try cleaning the burrs."
    assert olga_api.post(f"/api/support/cases/{mine}/read").json() == {"marked": 1}
    assert olga_api.post(f"/api/support/cases/{mine}/read").json() == {"marked": 0}
    assert olga_api.get("/api/support/cases").json()["results"][0]["unread"] == 0
    pump()
    party = dora_api.get(f"/api/orgs/acme/support/cases/{theirs}").json()
    assert party["messages"][-1]["delivery"] == "read"
    assert party["model"] == "09506000134352" and party["thing"]["model"]["name"] == "Grindmaster 3000"


def test_the_owner_replies_with_a_photo_and_refusals_are_400(acme, olga, grindmaster, link, opened):
    mine, _ = opened
    client = api_for(olga)
    url = f"/api/support/cases/{mine}/replies"
    answer = client.post(url, {"text": "Here it is.", "photo": SimpleUploadedFile("p.png", png())}, format="multipart")
    assert answer.status_code == 201 and answer.json()["kind"] == "reply"
    assert answer.json()["attachments"][0]["@id"] == "upload"
    assert client.post(url, {"text": ""}, format="json").status_code == 400
    assert client.post(url, {"text": 5}, format="json").json()["extra"] == {"fields": {"text": ["Must be text."]}}
    assert client.post(url, "[]", content_type="application/json").status_code == 400
    assert client.post(url, "text=x", content_type="text/plain").status_code == 415
    pump()
    assert Case.objects.get(side=Case.Side.PARTY).messages.filter(kind="reply").count() == 1


def test_the_organisation_asks_and_the_owner_provides_or_declines(acme, erin, olga, grindmaster, link, opened):
    mine, theirs = opened
    erin_api, olga_api = api_for(erin), api_for(olga)
    ask_url = f"/api/orgs/acme/support/cases/{theirs}/asks"
    assert erin_api.post(ask_url, {"asks": []}, format="json").status_code == 400
    assert erin_api.post(ask_url, {"asks": ["passwords"]}, format="json").status_code == 400
    asked = erin_api.post(ask_url, {"asks": ["firmware", "readings"], "text": "Which version?"}, format="json")
    assert asked.status_code == 201 and asked.json()["asks"] == ["firmware", "readings"]
    pump()
    case = olga_api.get(f"/api/support/cases/{mine}").json()
    assert case["status"] == "waiting" and case["pending_ask"]["asks"] == ["firmware", "readings"]
    assert "firmware" in [item["key"] for item in case["attachable"]]
    answer_url = f"/api/support/cases/{mine}/answer"
    assert olga_api.post(answer_url, {"answer": "maybe"}, format="json").status_code == 400
    refused = olga_api.post(answer_url, {"answer": "provide"}, format="json")
    assert refused.status_code == 400 and "Tick at least one" in refused.json()["message"]
    provided = olga_api.post(answer_url, {"answer": "provide", "keys": ["firmware"]}, format="json")
    assert provided.status_code == 201 and provided.json()["context"] == {"firmware": "2.4.1"}
    pump()
    party = api_for(erin).get(f"/api/orgs/acme/support/cases/{theirs}").json()
    assert party["status"] == "open" and party["messages"][-1]["context"] == {"firmware": "2.4.1"}
    assert party["pending_ask"] is None
    erin_api.post(ask_url, {"asks": ["photo"]}, format="json")
    pump()
    declined = olga_api.post(answer_url, {"answer": "decline", "text": "Rather not."}, format="json")
    assert declined.status_code == 201 and declined.json()["kind"] == "decline"
    assert olga_api.get(f"/api/support/cases/{mine}").json()["status"] == "open"


def test_the_queue_filters_and_members_assign(acme, dora, erin, olga, grindmaster, link, opened):
    _, theirs = opened
    client = api_for(dora)
    queue = "/api/orgs/acme/support/cases"
    assert [c["id"] for c in client.get(queue).json()["results"]] == [theirs]
    assert client.get(queue, {"status": "resolved"}).json()["count"] == 0
    assert client.get(queue, {"assignee": "nobody"}).json()["count"] == 1
    assert client.get(queue, {"assignee": "me"}).json()["count"] == 0
    assert client.get(queue, {"status": "shelved"}).status_code == 400
    assert client.get(queue, {"assignee": "someone"}).status_code == 400
    assign = f"/api/orgs/acme/support/cases/{theirs}/assignee"
    refused = client.post(assign, {"assignee_id": olga.pk}, format="json")
    assert refused.status_code == 400 and "member" in refused.json()["message"]
    assigned = client.post(assign, {"assignee_id": erin.pk}, format="json")
    assert assigned.status_code == 200 and assigned.json()["assignee"]["username"] == "erin"
    assert api_for(erin).get(queue, {"assignee": "me"}).json()["count"] == 1
    assert client.get(queue, {"assignee": "nobody"}).json()["count"] == 0
    case = client.get(f"/api/orgs/acme/support/cases/{theirs}").json()
    assert {m["username"] for m in case["members"]} == {"dora", "erin"}
    assert client.post(assign, {"assignee_id": None}, format="json").json()["assignee"] is None


def test_either_side_resolves_and_reopens(acme, dora, olga, grindmaster, link, opened):
    mine, theirs = opened
    dora_api, olga_api = api_for(dora), api_for(olga)
    org_status = f"/api/orgs/acme/support/cases/{theirs}/status"
    resolved = dora_api.post(org_status, {"status": "resolved", "text": "Fixed by cleaning."}, format="json")
    assert resolved.status_code == 201 and resolved.json()["status"] == "resolved"
    again = dora_api.post(org_status, {"status": "resolved"}, format="json")
    assert again.status_code == 400 and again.json()["message"] == "The case is resolved already."
    assert dora_api.post(org_status, {"status": "waiting"}, format="json").status_code == 400
    pump()
    assert olga_api.get(f"/api/support/cases/{mine}").json()["status"] == "resolved"
    reopened = olga_api.post(f"/api/support/cases/{mine}/status", {"status": "open"}, format="json")
    assert reopened.status_code == 201
    pump()
    assert dora_api.get(f"/api/orgs/acme/support/cases/{theirs}").json()["status"] == "open"
    assert dora_api.post(f"/api/orgs/acme/support/cases/{theirs}/read").json() == {"marked": 2}  # opened, reopened


def test_anyone_else_gets_404_on_every_case_route_and_nothing_changes(acme, olga, grindmaster, link, opened, carol):
    mine, theirs = opened
    before = CaseMessage.objects.count()
    carol_api = api_for(carol)
    for url in ("", "/replies", "/answer", "/status", "/read"):
        full = f"/api/support/cases/{mine}{url}"
        response = carol_api.get(full) if url == "" else carol_api.post(full, {"text": "x"}, format="json")
        assert response.status_code == 404 and response.json() == {"message": "Not found.", "extra": {}}, full
    olga_api = api_for(olga)  # the owner is no member of Acme: its queue is not hers
    for client in (carol_api, olga_api):
        assert client.get("/api/orgs/acme/support/cases").status_code == 404
        for url in ("", "/replies", "/asks", "/assignee", "/status", "/read"):
            full = f"/api/orgs/acme/support/cases/{theirs}{url}"
            response = client.get(full) if url == "" else client.post(full, {"text": "x"}, format="json")
            assert response.status_code == 404, full
    assert carol_api.get("/api/support/cases").json()["count"] == 0
    assert api_for(None).get("/api/support/cases").status_code in (401, 403)
    assert CaseMessage.objects.count() == before


def test_a_seller_keeps_the_case_to_read_but_cannot_answer(acme, erin, olga, grindmaster, link, opened, bob):
    from support.receive import on_transferred
    from twins.events import Transferred
    from twins.models import Twin

    mine, theirs = opened
    api_for(erin).post(f"/api/orgs/acme/support/cases/{theirs}/asks", {"asks": ["serial"]}, format="json")
    pump()
    Twin.objects.filter(pk=grindmaster.pk).update(owner=bob)
    on_transferred(
        Transferred(twin_id=grindmaster.pk, offer_id=0, seller_id=olga.pk, buyer_id=bob.pk, redacted_kinds=())
    )
    client = api_for(olga)
    case = client.get(f"/api/support/cases/{mine}").json()
    assert case["can_write"] is False and case["thing"] is None and case["attachable"] == []
    assert case["status"] == "resolved"
    refused = client.post(f"/api/support/cases/{mine}/answer", {"answer": "provide", "keys": ["serial"]}, format="json")
    assert refused.status_code == 400 and "no longer yours" in refused.json()["message"]
    refused = client.post(f"/api/support/cases/{mine}/replies", {"text": "Still there?"}, format="json")
    assert refused.status_code == 400 and "no longer yours" in refused.json()["message"]


@pytest.mark.parametrize("assignee_id", [2**64, 2**63, 0, -1])
def test_an_assignee_id_out_of_any_id_range_is_a_400_naming_it(acme, dora, opened, assignee_id):
    _, theirs = opened
    refused = api_for(dora).post(
        f"/api/orgs/acme/support/cases/{theirs}/assignee", {"assignee_id": assignee_id}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["message"].startswith("assignee_id:")
