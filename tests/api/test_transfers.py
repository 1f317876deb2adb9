"""/api/things/<slug>/transfer-offer, /api/transfers/…: ownership transfer by API, over the pages' services, with
the pages' fresh-login rule (SECURITY 26) as `password` in the body for token clients."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from owners.recent_auth import SESSION_KEY
from ssi.sign import sign_json
from tests.conftest import PASSWORD, api_for
from tests.twins.test_transfer import _log_snapshot, _offer_awaiting_self_held_seller, _self_held
from twins import services
from twins.identity import log_state
from twins.models import TransferOffer
from twins.transfer import buyer_keys, offer_create
from twins.transfer_forms import PRIVATE_BY_DEFAULT

pytestmark = pytest.mark.django_db


def offer_url(twin) -> str:
    return f"/api/things/{twin.slug}/transfer-offer"


@pytest.fixture
def seller(alice):
    return api_for(alice, token=True)


@pytest.fixture
def buyer(bob):
    return api_for(bob, token=True)


def test_token_seller_offers_with_the_password_and_the_token_buyer_accepts_with_theirs(
    grinder, alice, bob, seller, buyer
):
    services.reading_add(twin=grinder, value=12)
    created = seller.post(
        offer_url(grinder), {"redact_kinds": ["reading"], "days": 3, "password": PASSWORD}, format="json"
    )
    assert created.status_code == 201, created.content
    offer = created.json()
    assert offer["status"] == "open" and offer["redact_kinds"] == ["reading"]
    assert offer["url"] == f"{settings.SITE_URL}/transfer/{offer['token']}"
    assert seller.get(offer_url(grinder)).json() == offer

    seen = buyer.post("/api/transfers/view", {"offer": offer["url"]}, format="json")
    assert seen.status_code == 200, seen.content
    view = seen.json()
    assert (view["thing_name"], view["seller"], view["status"]) == (grinder.name, "alice", "open")
    assert view["entries_removed_at_sale"] == 1 and view["verification"]["ok"] is True
    assert view["acceptance"]["offer"] == offer["token"]

    accepted = buyer.post("/api/transfers/accept", {"offer": offer["token"], "password": PASSWORD}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "completed" and accepted.json()["buyer"] == "bob"
    grinder.refresh_from_db()
    assert grinder.owner == bob
    assert log_state(grinder).update_keys == (buyer_keys(bob, grinder).update_key,)

    # Each side lists the offer in its role; only the seller sees its token.
    (mine,) = seller.get("/api/transfers/").json()["results"]
    (theirs,) = buyer.get("/api/transfers/").json()["results"]
    assert (mine["role"], mine["token"]) == ("seller", offer["token"])
    assert (theirs["role"], theirs["token"], theirs["url"]) == ("buyer", None, None)


def test_a_token_client_without_the_password_gets_a_403_saying_what_to_send_and_nothing_changes(
    grinder, alice, bob, seller, buyer
):
    refused = seller.post(offer_url(grinder), {"redact_kinds": []}, format="json")
    assert refused.status_code == 403
    assert "password" in refused.json()["message"] and "recent sign-in" in refused.json()["message"]
    assert not TransferOffer.objects.exists()

    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    refused = buyer.post("/api/transfers/accept", {"offer": offer.token}, format="json")
    assert refused.status_code == 403 and "password" in refused.json()["message"]
    offer.refresh_from_db()
    grinder.refresh_from_db()
    assert offer.status == "open" and grinder.owner == alice and _log_snapshot(grinder)[0] == 1


def test_a_wrong_password_is_a_403_and_counts_toward_the_accounts_login_budget(grinder, alice, seller, settings):
    settings.RATE_LOGIN_FAILURES_PER_ACCOUNT = "2/900"
    for _ in range(2):
        wrong = seller.post(offer_url(grinder), {"redact_kinds": [], "password": "guess"}, format="json")
        assert wrong.status_code == 403 and wrong.json()["message"].startswith("That is not your account's password")
    # The budget is spent: even the right password waits, as on the login form.
    spent = seller.post(offer_url(grinder), {"redact_kinds": [], "password": PASSWORD}, format="json")
    assert spent.status_code == 429 and "Retry-After" in spent
    assert not TransferOffer.objects.exists()


def test_a_browser_session_signed_in_recently_needs_no_password_and_a_stale_one_does(grinder, alice):
    session_api = api_for(alice)  # force_login: a login just now
    created = session_api.post(offer_url(grinder), {"redact_kinds": ["scan"]}, format="json")
    assert created.status_code == 201, created.content
    assert session_api.delete(offer_url(grinder)).status_code == 200

    session = session_api.session
    session[SESSION_KEY] = int(time.time()) - 3600
    session.save()
    stale = session_api.post(offer_url(grinder), {"redact_kinds": []}, format="json")
    assert stale.status_code == 403
    assert TransferOffer.objects.filter(status="open").count() == 0


def test_redaction_choices_are_checked_and_left_out_they_are_the_pages_private_default(grinder, seller):
    unknown = seller.post(offer_url(grinder), {"redact_kinds": ["transfer"], "password": PASSWORD}, format="json")
    too_long = seller.post(offer_url(grinder), {"redact_kinds": [], "days": 31, "password": PASSWORD}, format="json")
    assert [r.status_code for r in (unknown, too_long)] == [400, 400]
    assert unknown.json()["message"].startswith("redact_kinds")
    assert too_long.json()["message"].startswith("days")
    assert not TransferOffer.objects.exists()

    created = seller.post(offer_url(grinder), {"password": PASSWORD}, format="json")
    assert created.status_code == 201
    assert created.json()["redact_kinds"] == sorted(PRIVATE_BY_DEFAULT)
    assert {"note", "scan"} <= set(created.json()["redact_kinds"])


def test_second_offer_is_a_409_and_cancel_ends_the_link(grinder, alice, bob, seller, buyer):
    seller.post(offer_url(grinder), {"redact_kinds": [], "password": PASSWORD}, format="json")
    again = seller.post(offer_url(grinder), {"redact_kinds": [], "password": PASSWORD}, format="json")
    assert again.status_code == 409 and "already has an open offer" in again.json()["message"]
    token = TransferOffer.objects.get().token

    cancelled = seller.delete(offer_url(grinder))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert seller.get(offer_url(grinder)).status_code == 404
    gone = buyer.post("/api/transfers/view", {"offer": token}, format="json")
    refused = buyer.post("/api/transfers/accept", {"offer": token, "password": PASSWORD}, format="json")
    assert (gone.status_code, refused.status_code) == (410, 410)
    assert refused.json()["message"] == "This offer was cancelled by the seller."
    grinder.refresh_from_db()
    assert grinder.owner == alice


def test_seller_cannot_accept_their_own_offer_and_a_second_buyer_gets_a_409(grinder, alice, bob, carol, seller):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    own = seller.post("/api/transfers/accept", {"offer": offer.token, "password": PASSWORD}, format="json")
    assert own.status_code == 403 and own.json()["message"] == "You cannot accept your own offer."
    # A self-held seller signs later: the accepted offer waits, with bob as its buyer.
    _, waiting, _ = _offer_awaiting_self_held_seller(alice, bob)
    late = api_for(carol, token=True).post(
        "/api/transfers/accept", {"offer": waiting.token, "password": PASSWORD}, format="json"
    )
    assert late.status_code == 409 and late.json()["message"] == "Someone else has already accepted this offer."


def test_unknown_offer_is_a_404_for_view_and_accept(buyer):
    assert buyer.post("/api/transfers/view", {"offer": "nope"}, format="json").status_code == 404
    assert (
        buyer.post("/api/transfers/accept", {"offer": "nope", "password": PASSWORD}, format="json").status_code == 404
    )


def test_self_held_seller_completes_by_api_with_cli_signed_entries(alice, bob, seller):
    twin, _, upcoming = _offer_awaiting_self_held_seller(alice, bob)
    entries = seller.post(
        f"{offer_url(twin)}/entries", {"next_public_key": upcoming.multibase, "password": PASSWORD}, format="json"
    )
    assert entries.status_code == 200, entries.content
    signed = [sign_json(entry, upcoming, attach=True) for entry in entries.json()]
    done = seller.post(f"{offer_url(twin)}/sign", {"signed": signed, "password": PASSWORD}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"
    twin.refresh_from_db()
    assert twin.owner == bob


def test_self_held_buyer_accepts_with_the_signed_acceptance_from_the_view(grinder, alice, bob, buyer):
    current, _ = _self_held(bob)
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    view = buyer.post("/api/transfers/view", {"offer": offer.token}, format="json").json()
    assert view["self_held"] is True
    signed = sign_json(view["acceptance"], current, attach=True)
    accepted = buyer.post(
        "/api/transfers/accept", {"offer": offer.token, "signed": signed, "password": PASSWORD}, format="json"
    )
    assert accepted.status_code == 200, accepted.content
    grinder.refresh_from_db()
    assert grinder.owner == bob and log_state(grinder).update_keys == (current.multibase,)


def test_stranger_gets_404_on_alices_offer_and_changes_nothing(grinder, alice, carol):
    offer_create(twin=grinder, seller=alice, redact_kinds=[])
    carol_api = api_for(carol, token=True)
    answers = [
        carol_api.get(offer_url(grinder)),
        carol_api.post(offer_url(grinder), {"redact_kinds": [], "password": PASSWORD}, format="json"),
        carol_api.delete(offer_url(grinder)),
        carol_api.post(
            f"{offer_url(grinder)}/entries", {"next_public_key": "z6Mk", "password": PASSWORD}, format="json"
        ),
        carol_api.post(f"{offer_url(grinder)}/sign", {"signed": [], "password": PASSWORD}, format="json"),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(404, {"message": "Not found.", "extra": {}})] * 5
    assert carol_api.get("/api/transfers/").json()["results"] == []
    assert TransferOffer.objects.get().status == "open"


def test_anonymous_is_refused_on_the_buyers_routes(grinder, alice):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    anon = api_for(None)
    for path in ("/api/transfers/view", "/api/transfers/accept"):
        response = anon.post(path, {"offer": offer.token}, format="json")
        assert response.status_code in (401, 403) and response.json()["message"]
    assert TransferOffer.objects.get().status == "open"
