"""Claim codes are rate limited on the page and the API (429 with Retry-After): per buyer, per thing (GTIN and
serial: many addresses and accounts together get a few guesses at one box) and per client address (one address
cannot spread its guesses over many accounts, since sign-up is open)."""

from __future__ import annotations

import pytest

from makers.models import ProducedThing
from makers.production import produce
from tests.conftest import api_for, client_for, make_owner

pytestmark = pytest.mark.django_db

GUESSER = "203.0.113.7"


def _address(n: int) -> str:
    return f"10.{n // 250}.{n % 250}.1"


@pytest.fixture
def boxes(acme_model):
    return produce(model=acme_model, serials=["L-1", "L-2", "L-3"], by=None)


def _api_claim(owner, produced, code, address):
    return api_for(owner).post(
        "/api/claims/", {"thing": produced.twin.slug, "code": code}, format="json", REMOTE_ADDR=address
    )


def test_one_address_guessing_under_many_accounts_and_boxes_is_held_to_its_budget(boxes, settings):
    settings.RATE_CLAIM_FAILURES_PER_CLIENT = "4/900"
    (first, _), (second, _), (third, code) = boxes
    # Four fresh accounts, one wrong guess each, spread over two boxes: no buyer's and no thing's budget is spent.
    for n in range(4):
        response = _api_claim(make_owner(f"guesser{n}"), (first, second)[n % 2], "WRONG", GUESSER)
        assert response.status_code == 400, response.content
    response = _api_claim(make_owner("guesser9"), third, code, GUESSER)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many wrong claim codes" in response.json()["message"]
    assert ProducedThing.objects.get(pk=third.pk).claimed_at is None


def test_the_claim_page_holds_one_address_to_its_budget_with_a_readable_429(boxes, settings):
    settings.RATE_CLAIM_FAILURES_PER_CLIENT = "2/900"
    (first, _), (second, code), _ = boxes
    for n, produced in enumerate((first, second)):
        url = f"/claim/01/{produced.model.gtin}/21/{produced.serial}"
        wrong = client_for(make_owner(f"page{n}")).post(url, {"code": "WRONG"}, REMOTE_ADDR=GUESSER)
        assert wrong.status_code == 400 and b"does not match" in wrong.content
    url = f"/claim/01/{second.model.gtin}/21/{second.serial}"
    refused = client_for(make_owner("page9")).post(url, {"code": code}, REMOTE_ADDR=GUESSER)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many wrong claim codes" in refused.content
    assert ProducedThing.objects.get(pk=second.pk).claimed_at is None


def test_guesses_at_one_box_from_many_addresses_and_accounts_are_capped(boxes, settings):
    settings.RATE_CLAIM_FAILURES = "5/900"
    (box, code), _, _ = boxes
    statuses = [_api_claim(make_owner(f"far{n}"), box, "WRONG", _address(n)).status_code for n in range(5)]
    assert statuses == [400] * 5
    response = _api_claim(make_owner("far9"), box, code, _address(9))
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert ProducedThing.objects.get(pk=box.pk).claimed_at is None


def test_a_guessing_address_does_not_hold_up_a_buyer_elsewhere(boxes, bob, settings):
    settings.RATE_CLAIM_FAILURES_PER_CLIENT = "2/900"
    (first, _), (second, code), _ = boxes
    for n in range(3):
        _api_claim(make_owner(f"noisy{n}"), first, "WRONG", GUESSER)
    response = _api_claim(bob, second, code, _address(1))
    assert response.status_code == 201, response.content
    assert ProducedThing.objects.get(pk=second.pk).claimed_by_id == bob.pk
