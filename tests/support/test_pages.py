"""The support pages: the thing's page offers "Get help from <maker>", the open form sends only what was
ticked, the owner's and the organisation's case pages and the queue, and 404 to anyone else."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from makers.models import Membership
from support import services
from support.models import Case, CaseMessage
from tests.conftest import client_for, make_owner
from tests.makers.conftest import organisation_make
from tests.support.conftest import png, pump

pytestmark = pytest.mark.django_db


@pytest.fixture
def opened(acme, olga, grindmaster, link):
    thing_side, _ = link
    case = services.case_open(
        owner=olga, twin=grindmaster, connection_id=thing_side.pk, subject="Noise", text="It squeaks.", keys=["model"]
    )
    pump()
    return case, Case.objects.get(side=Case.Side.PARTY, organisation=acme)


def test_the_things_page_offers_help_from_its_maker(olga, grindmaster, link):
    page = client_for(olga).get(f"/things/{grindmaster.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Get help from Acme Grinders" in html and f"/things/{grindmaster.slug}/support/?to={link[0].pk}" in html


def test_the_owner_opens_a_case_with_two_ticked_items_and_a_photo(acme, olga, grindmaster, link):
    client = client_for(olga)
    form = client.get(f"/things/{grindmaster.slug}/support/?to={link[0].pk}")
    assert form.status_code == 200 and "Firmware version (2.4.1)" in form.content.decode()
    answer = client.post(
        f"/things/{grindmaster.slug}/support/",
        {
            "connection": link[0].pk,
            "subject": "Uneven grind",
            "text": "Uneven since Tuesday.",
            "context": ["serial", "firmware"],
            "photo": SimpleUploadedFile("close-up.png", png((10, 200, 10))),
        },
    )
    case = Case.objects.get(side=Case.Side.OWNER)
    assert answer.status_code == 302 and answer["Location"] == f"/support/{case.public_id}/"
    pump()
    party = Case.objects.get(side=Case.Side.PARTY)
    opened = party.messages.get(kind=CaseMessage.Kind.OPEN)
    assert opened.context == {"serial": "GM-0042", "firmware": "2.4.1"}
    assert [a["@id"] for a in opened.attachments] == ["upload"]
    page = client.get(answer["Location"]).content.decode()
    assert "Uneven since Tuesday." in page and 'data-testid="delivery">sent<' in page


def test_an_empty_question_is_a_400_in_words_and_opens_nothing(olga, grindmaster, link):
    answer = client_for(olga).post(f"/things/{grindmaster.slug}/support/", {"connection": link[0].pk, "text": " "})
    assert answer.status_code == 400 and "This field is required." in answer.content.decode()
    answer = client_for(olga).post(
        f"/things/{grindmaster.slug}/support/", {"connection": link[0].pk, "text": "Hi", "context": ["journal:999999"]}
    )
    assert answer.status_code == 400 and "not one of the available choices" in answer.content.decode()
    assert not Case.objects.exists()


def test_the_organisations_dashboard_links_to_its_support_queue(acme, erin):
    page = client_for(erin).get("/orgs/acme/dashboard").content.decode()
    assert '<a href="/orgs/acme/support/">Support cases</a>' in page


def test_the_organisation_queue_filters_and_a_member_replies_asks_assigns_and_closes(acme, dora, erin, opened):
    case, party = opened
    client = client_for(erin)
    queue = client.get("/orgs/acme/support/").content.decode()
    assert "Noise" in queue and "Grindmaster 3000" in queue
    assert "Noise" not in client.get("/orgs/acme/support/?status=resolved").content.decode()
    assert "Noise" in client.get("/orgs/acme/support/?model=09506000134352").content.decode()
    assert "Noise" not in client.get("/orgs/acme/support/?assignee=me").content.decode()
    url = f"/orgs/acme/support/{party.public_id}/"
    assert client.post(url + "assign/", {"assignee": erin.pk}).status_code == 302
    assert "Noise" in client.get("/orgs/acme/support/?assignee=me").content.decode()
    assert client.post(url + "assign/", {"assignee": make_owner("stranger").pk}).status_code == 400
    assert client.post(url + "reply/", {"text": "Oil the hinge."}).status_code == 302
    assert client.post(url + "ask/", {"asks": ["photo"], "text": "A photo please"}).status_code == 302
    assert client.post(url + "ask/", {}).status_code == 400
    pump()
    case.refresh_from_db()
    assert case.status == Case.Status.WAITING
    owner_page = client_for(case.owner).get(f"/support/{case.public_id}/").content.decode()
    assert "Oil the hinge." in owner_page and 'data-testid="answer-form"' in owner_page
    decline = client_for(case.owner).post(f"/support/{case.public_id}/answer/", {"answer": "decline", "text": "No."})
    assert decline.status_code == 302
    assert client.post(url + "status/", {"status": "resolved"}).status_code == 302
    pump()
    party.refresh_from_db()
    case.refresh_from_db()
    assert party.messages.filter(kind=CaseMessage.Kind.DECLINE).exists()
    assert (party.status, case.status) == (Case.Status.RESOLVED, Case.Status.RESOLVED)


def test_reading_a_case_sends_a_read_receipt(acme, dora, opened):
    case, party = opened
    reply = services.party_reply(case=party, by=dora, text="Seen?")
    pump()
    assert client_for(case.owner).post(f"/support/{case.public_id}/read/").status_code == 204
    pump()
    reply.refresh_from_db()
    assert reply.delivery == "read"
    page = client_for(dora).get(f"/orgs/acme/support/{party.public_id}/").content.decode()
    assert 'data-testid="delivery">read<' in page


def test_strangers_and_other_organisations_get_404(opened, carol, bob):
    case, party = opened
    other = organisation_make(slug="other", name="Other Works", admin=bob)
    for client, url in (
        (client_for(carol), f"/support/{case.public_id}/"),
        (client_for(carol), f"/orgs/acme/support/{party.public_id}/"),
        (client_for(bob), f"/orgs/other/support/{party.public_id}/"),
        (client_for(bob), "/orgs/acme/support/"),
        # The party's case id is not an owner's case, nor the other way round.
        (client_for(case.owner), f"/support/{party.public_id}/"),
    ):
        assert client.get(url).status_code == 404, url
    assert client_for(carol).post(f"/support/{case.public_id}/reply/", {"text": "hi"}).status_code == 404
    assert client_for(bob).post(f"/orgs/other/support/{party.public_id}/reply/", {"text": "hi"}).status_code == 404
    assert Membership.objects.filter(organisation=other).count() == 1


def test_the_support_page_lists_my_cases_and_my_organisations_queues(opened, dora, carol):
    case, _ = opened
    page = client_for(case.owner).get("/support/").content.decode()
    assert "Noise" in page and f"/support/{case.public_id}/" in page and "/orgs/acme/support/" not in page
    member = client_for(dora).get("/support/").content.decode()
    assert "/orgs/acme/support/" in member and "1 not resolved" in member and "Noise" not in member
    assert "Noise" not in client_for(carol).get("/support/").content.decode()
    assert "/support/" in client_for(dora).get("/profile/").content.decode()
