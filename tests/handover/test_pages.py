"""The handover pages: from a cards-page selection to the buyer's one acceptance, and what each side sees."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory
from django.urls import reverse

from bulk.actions import action_get
from handover import services as handover_services
from handover.models import Handover
from handover.services import handover_create
from owners.keys import owner_register_self_held
from owners.recent_auth import SESSION_KEY
from ssi import webvh
from ssi.keys import SigningKey
from ssi.sign import sign_json
from tests.conftest import client_for
from tests.handover.conftest import did_logs, fresh
from twins import services as twin_services
from twins.models import Twin
from twins.transfer import offer_create

pytestmark = pytest.mark.django_db


def _whole(owner, twins):
    request = RequestFactory().post("/things/bulk/")
    request.user = owner
    return action_get("transfer").whole(request, Twin.objects.filter(pk__in=[t.pk for t in twins]), {})


def test_the_bulk_action_is_registered_as_a_whole_selection_action_that_asks_first():
    action = action_get("transfer")
    assert action is not None and action.label == "Transfer to one buyer"
    assert action.whole is not None and action.per_twin is None and action.confirm


def test_the_bulk_action_sends_the_selection_to_the_confirmation_page(herd, alice):
    response = _whole(alice, herd)
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert url.path == reverse("handover-new")
    assert sorted(parse_qs(url.query)["thing"]) == sorted(twin.slug for twin in herd)


def test_the_bulk_action_refuses_a_selection_over_the_maximum_with_words(herd, alice, monkeypatch):
    monkeypatch.setattr("handover.actions.MAX_THINGS", 2)
    response = _whole(alice, herd)
    assert response.status_code == 400
    assert "at most 2 things" in response.content.decode()


def test_offer_and_acceptance_through_the_pages(herd, alice, bob):
    seller = client_for(alice)
    url = reverse("handover-new") + "?" + "&".join(f"thing={twin.slug}" for twin in herd)
    page = seller.get(url)
    assert page.status_code == 200
    assert [twin.name for twin in page.context["picked"].twins] == ["Cow 1", "Cow 2", "Cow 3"]
    response = seller.post(url, {"redact_kinds": ["scan"], "days": "3"})
    assert response.status_code == 302
    handover = Handover.objects.get()
    assert response["Location"] == reverse("handover", args=[handover.public_id])
    status = seller.get(response["Location"]).content.decode()
    assert handover.token in status and "Cow 2" in status

    buyer = client_for(bob)
    offer_page = buyer.get(reverse("handover-offer", args=[handover.token]))
    assert offer_page.status_code == 200
    body = offer_page.content.decode()
    assert all(name in body for name in ("Cow 1", "Cow 2", "Cow 3"))
    assert "verifies" in body
    response = buyer.post(reverse("handover-accept", args=[handover.token]))
    assert response.status_code == 302
    assert {twin.owner_id for twin in fresh(herd)} == {bob.pk}
    status = seller.get(reverse("handover", args=[handover.public_id])).content.decode()
    assert "Completed" in status and "bob" in status


def test_the_confirmation_page_names_what_stands_in_the_way_and_offers_no_button(herd, alice):
    offer_create(twin=herd[0], seller=alice, redact_kinds=[])
    page = client_for(alice).get(reverse("handover-new") + f"?thing={herd[0].slug}&thing={herd[1].slug}")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Cow 1 already has an open transfer offer of its own" in body
    assert "Create the offer" not in body


def test_creating_from_the_page_with_a_problem_is_a_409_with_words_and_writes_nothing(herd, alice):
    twin_services.twin_deactivate(twin=herd[2])
    response = client_for(alice).post(
        reverse("handover-new") + "?" + "&".join(f"thing={twin.slug}" for twin in herd), {"days": "7"}
    )
    assert response.status_code == 409
    assert "Cow 3 is deactivated" in response.content.decode()
    assert not Handover.objects.exists()


def test_carol_cannot_offer_alices_things_from_the_page(herd, carol):
    client = client_for(carol)
    url = reverse("handover-new") + "?" + "&".join(f"thing={twin.slug}" for twin in herd)
    page = client.get(url)
    assert page.status_code == 200 and "Cow 1" not in page.content.decode()
    response = client.post(url, {"days": "7"})
    assert response.status_code == 400
    assert not Handover.objects.exists()


def test_a_self_held_seller_signs_the_whole_handover_on_its_page(settings, alice, bob):
    settings.DID_DOMAIN = "example.com:8000"
    upcoming = SigningKey.generate()
    owner_register_self_held(
        owner=alice,
        public_key=SigningKey.generate().multibase,
        next_hash=webvh.next_key_hash(upcoming.multibase),
    )
    twins = [twin_services.twin_create(owner=alice, name=f"Calf {i}") for i in (1, 2)]
    seller = client_for(alice)
    url = reverse("handover-new") + "?" + "&".join(f"thing={twin.slug}" for twin in twins)
    assert "self-held" in seller.get(url).content.decode()
    seller.post(url, {"days": "7"})
    handover = Handover.objects.get()

    buyer = client_for(bob)
    response = buyer.post(reverse("handover-accept", args=[handover.token]))
    assert response.status_code == 302
    assert "when the seller signs" in buyer.get(response["Location"]).content.decode()
    status_page = seller.get(reverse("handover", args=[handover.public_id])).content.decode()
    assert 'data-testid="handover-awaiting"' in status_page

    download = seller.post(
        reverse("handover-entries", args=[handover.public_id]), {"next_public_key": upcoming.multibase}
    )
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    signed = [sign_json(entry, upcoming, attach=True) for entry in json.loads(download.content)]
    response = seller.post(reverse("handover-sign", args=[handover.public_id]), {"signed": json.dumps(signed)})
    assert response.status_code == 302
    assert {twin.owner_id for twin in fresh(twins)} == {bob.pk}
    assert "Completed" in seller.get(reverse("handover", args=[handover.public_id])).content.decode()


def test_a_failed_acceptance_is_shown_to_the_buyer_and_the_seller(herd, alice, bob):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    twin_services.twin_deactivate(twin=herd[2])
    logs = did_logs(herd)
    buyer = client_for(bob)

    response = buyer.post(reverse("handover-accept", args=[handover.token]))

    assert response.status_code == 409
    assert "Nothing moved" in response.content.decode() and "Cow 3" in response.content.decode()
    assert did_logs(herd) == logs
    again = buyer.get(reverse("handover-offer", args=[handover.token]))
    assert again.status_code == 200 and "failed and nothing moved" in again.content.decode()
    seller_page = client_for(alice).get(reverse("handover", args=[handover.public_id])).content.decode()
    assert "nothing moved" in seller_page and "Cow 3 was deactivated" in seller_page


def test_cancel_through_the_page_and_the_link_stops_working(herd, alice, bob):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    response = client_for(alice).post(reverse("handover-cancel", args=[handover.public_id]))
    assert response.status_code == 302
    page = client_for(bob).get(reverse("handover-offer", args=[handover.token]))
    assert page.status_code == 410 and "cancelled" in page.content.decode()


def test_a_stranger_cannot_see_or_cancel_the_sellers_handover(herd, alice, carol):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    client = client_for(carol)
    assert client.get(reverse("handover", args=[handover.public_id])).status_code == 404
    assert client.post(reverse("handover-cancel", args=[handover.public_id])).status_code == 404
    handover.refresh_from_db()
    assert handover.status == Handover.Status.OPEN


def test_a_self_held_buyer_accepts_on_the_page_with_the_cli_signature(herd, alice, bob):
    current = SigningKey.generate()
    owner_register_self_held(
        owner=bob, public_key=current.multibase, next_hash=webvh.next_key_hash(SigningKey.generate().multibase)
    )
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    buyer = client_for(bob)
    page = buyer.get(reverse("handover-offer", args=[handover.token]))
    document = json.loads(page.context["acceptance"])
    assert document["twins"] == [twin.did for twin in herd]
    signed = sign_json(document, current, attach=True)
    response = buyer.post(reverse("handover-accept", args=[handover.token]), {"signed": json.dumps(signed)})
    assert response.status_code == 302
    assert {twin.owner_id for twin in fresh(herd)} == {bob.pk}


def test_accepting_needs_a_fresh_login(herd, alice, bob):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    buyer = client_for(bob)
    session = buyer.session
    session[SESSION_KEY] = int(time.time()) - 3600
    session.save()
    response = buyer.post(reverse("handover-accept", args=[handover.token]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert {twin.owner_id for twin in fresh(herd)} == {alice.pk}


def test_anonymous_visitor_of_the_link_is_sent_to_log_in(herd, alice, anon_client):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    response = anon_client.get(reverse("handover-offer", args=[handover.token]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_offer_link_is_kept_out_of_the_logs(herd, alice):
    from core.logging import redact
    from handover.views import offer_url

    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    assert handover.token not in redact(f'"GET {urlsplit(offer_url(handover)).path} HTTP/1.1" 200')
    assert handover.token not in redact(f"GET {offer_url(handover)}")


def test_the_sellers_list_shows_their_handovers_only(herd, alice, carol):
    handover_create(seller=alice, twins=herd, redact_kinds=[])
    assert "Open" in client_for(alice).get(reverse("handovers")).content.decode()
    assert "Open" not in client_for(carol).get(reverse("handovers")).content.decode()


def test_max_things_is_what_the_page_says(herd, alice, monkeypatch):
    monkeypatch.setattr("handover.selectors.MAX_THINGS", 2)
    monkeypatch.setattr("handover.views.MAX_THINGS", 2)
    monkeypatch.setattr(handover_services, "MAX_THINGS", 2)
    page = client_for(alice).get(reverse("handover-new") + "?" + "&".join(f"thing={twin.slug}" for twin in herd))
    assert "at most 2 things; you chose 3" in page.content.decode()


def test_the_login_page_says_what_waits_behind_a_handover_link(herd, alice, anon_client):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    link = reverse("handover-offer", args=[handover.token])
    page = anon_client.get(anon_client.get(link).url).content.decode()
    assert "alice" in page and "offers you 3 things" in page and "Cow 2" in page
    Handover.objects.filter(pk=handover.pk).update(status=Handover.Status.CANCELLED)
    assert "offers you" not in anon_client.get(anon_client.get(link).url).content.decode()


def test_opening_the_handover_pages_writes_nothing(herd, alice, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handover = handover_create(seller=alice, twins=herd, redact_kinds=["note"])
    seller, buyer = client_for(alice), client_for(bob)
    pages = [
        (seller, reverse("handovers")),
        (seller, reverse("handover-new") + "?" + "&".join(f"thing={twin.slug}" for twin in herd)),
        (seller, reverse("handover", args=[handover.public_id])),
        (seller, reverse("handover-qr", args=[handover.public_id])),
        (buyer, reverse("handover-offer", args=[handover.token])),
    ]
    for client, url in pages:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        writes = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        ]
        assert not writes, (url, writes)


def test_from_the_cards_pages_selection_through_the_bulk_confirmation_to_the_offer(herd, alice):
    seller = client_for(alice)
    chosen = {"action": "transfer", "thing": [twin.slug for twin in herd[:2]]}
    asked = seller.post(reverse("bulk-act"), chosen)
    assert asked.status_code == 200 and "Transfer 2 things to one buyer, all at once?" in asked.content.decode()
    response = seller.post(reverse("bulk-act"), {**chosen, "confirm": "1"})
    assert response.status_code == 302
    page = seller.get(response["Location"])
    assert [twin.name for twin in page.context["picked"].twins] == ["Cow 1", "Cow 2"]
    created = seller.post(response["Location"], {"redact_kinds": ["note"], "days": "7"})
    assert created.status_code == 302
    handover = Handover.objects.get()
    assert [item.twin_id for item in handover.things.all()] == [herd[0].pk, herd[1].pk]


def test_a_things_page_says_it_waits_in_an_open_handover(herd, alice):
    seller = client_for(alice)
    assert 'data-testid="handover-open"' not in seller.get(reverse("thing", args=[herd[0].slug])).content.decode()
    handover = handover_create(seller=alice, twins=herd[:1], redact_kinds=[])
    page = seller.get(reverse("thing", args=[herd[0].slug])).content.decode()
    assert 'data-testid="handover-open"' in page and reverse("handover", args=[handover.public_id]) in page
    assert 'data-testid="handover-open"' not in seller.get(reverse("thing", args=[herd[1].slug])).content.decode()
    assert reverse("handovers") in seller.get(reverse("profile")).content.decode()
