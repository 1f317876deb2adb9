"""The claim page (/claim/01/<gtin>/21/<serial>) answers whether a serial was produced here and whether it is sold:
each GET and POST spends the client's scan budget before the lookup (makers.resolver.over_budget, as the GS1
resolver does), found or not, so it is no faster way to list a maker's units than a typed code (review finding 6).
Past the budget: 429 with Retry-After and words, for produced and unknown serials alike."""

from __future__ import annotations

import pytest

from makers.production import produce
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags")]


@pytest.fixture
def made(acme_model, settings):
    settings.RATE_SCAN_PER_CLIENT = "3/60"
    ((produced, _),) = produce(model=acme_model, serials=["C-1"], by=None)
    return produced


def _assert_limited(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many tag lookups" in response.content


@pytest.mark.parametrize("serial", ["C-1", "NOPE-9"], ids=["produced", "unknown"])
def test_an_anonymous_visitor_past_the_budget_gets_429_whatever_the_serial(made, serial):
    client = client_for(None)
    gtin = made.model.gtin
    assert [client.get(f"/claim/01/{gtin}/21/NOPE-{n}").status_code for n in range(3)] == [404] * 3
    _assert_limited(client.get(f"/claim/01/{gtin}/21/{serial}"))


@pytest.mark.parametrize("serial", ["C-1", "NOPE-9"], ids=["produced", "unknown"])
def test_a_signed_in_buyer_past_the_budget_gets_429_on_get_and_post(made, bob, serial):
    client = client_for(bob)
    gtin = made.model.gtin
    assert client.get(f"/claim/01/{gtin}/21/C-1").status_code == 200
    assert [client.get(f"/claim/01/{gtin}/21/NOPE-{n}").status_code for n in range(2)] == [404] * 2
    _assert_limited(client.get(f"/claim/01/{gtin}/21/{serial}"))
    _assert_limited(client.post(f"/claim/01/{gtin}/21/{serial}", {"code": "AAAA-BBBB-CCCC-DDDD"}))
    made.refresh_from_db()
    assert made.claimed_at is None


def test_the_claim_page_and_the_resolver_spend_one_budget(made):
    client = client_for(None)
    gtin = made.model.gtin
    assert client.get(f"/01/{gtin}/21/NOPE-1").status_code == 404
    assert client.get(f"/claim/01/{gtin}/21/NOPE-2").status_code == 404
    assert client.get(f"/01/{gtin}/21/NOPE-3").status_code == 404
    _assert_limited(client.get(f"/claim/01/{gtin}/21/C-1"))
