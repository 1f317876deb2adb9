"""Purchase and warranty: the owner records them on a page or through the API; bad input is a 400 with words
and writes nothing; a keeper or a stranger never sees the price; a sale keeps the dates and drops the price."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.conftest import api_for, client_for
from tests.upkeep.conftest import make_keeper
from twins.transfer import offer_accept, offer_create
from upkeep import warranty
from upkeep.models import Purchase

pytestmark = pytest.mark.django_db


def test_owner_records_the_purchase_on_its_page_and_the_thing_page_shows_it(alice_client, grinder):
    response = alice_client.post(
        f"/things/{grinder.slug}/purchase/",
        {
            "purchased_on": "2025-03-01",
            "price": "249.90",
            "currency": "eur",
            "bought_from": "Kitchen Supply Co.",
            "warranty_ends": "2027-03-01",
        },
    )
    assert response.status_code == 302
    purchase = Purchase.objects.get(twin=grinder)
    assert purchase.price == Decimal("249.90") and purchase.currency == "EUR"
    page = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    assert "249.90 EUR" in page and "Kitchen Supply Co." in page and "until 2027-03-01" in page


def test_a_warranty_ending_soon_is_flagged_on_the_thing_page(alice_client, grinder):
    warranty.purchase_set(twin=grinder, warranty_ends=timezone.localdate() + timedelta(days=5))
    page = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    assert 'data-testid="warranty-soon"' in page and "5 days left" in page


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"price": "10", "currency": "EURO"}, "currency", "three-letter ISO 4217"),
        ({"price": "10", "currency": "XYZ"}, "currency", "three-letter ISO 4217"),
        ({"price": "10", "currency": ""}, "currency", "A price needs its currency"),
        ({"price": "-1", "currency": "EUR"}, "price", "zero or more"),
        ({"price": "", "currency": "EUR"}, "price", "zero or more"),
        ({"price": " 10", "currency": "EUR"}, "price", "zero or more"),
        ({"price": True, "currency": "EUR"}, "price", "zero or more"),
        ({"price": "1.234", "currency": "EUR"}, "price", "two decimals"),
        ({"purchased_on": "2026-01-10", "warranty_ends": "2026-01-01"}, "warranty_ends", "cannot end before"),
    ],
)
def test_bad_purchase_input_is_a_400_with_words_and_writes_nothing(alice, grinder, fields, field, words):
    response = api_for(alice).put(f"/api/things/{grinder.slug}/purchase", fields, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["extra"]["fields"]
    assert words in str(body["extra"]["fields"][field])
    assert not Purchase.objects.filter(twin=grinder).exists()


def test_a_purchase_date_in_the_future_is_refused(alice, grinder):
    future = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = api_for(alice).put(f"/api/things/{grinder.slug}/purchase", {"purchased_on": future}, format="json")
    assert response.status_code == 400
    assert "in the future" in response.json()["message"]


def test_api_puts_and_gets_the_purchase_with_an_exact_decimal_price(alice, grinder):
    api = api_for(alice)
    empty = api.get(f"/api/things/{grinder.slug}/purchase").json()
    assert empty == {"purchased_on": None, "price": None, "currency": "", "bought_from": "", "warranty_ends": None}
    body = {"purchased_on": "2025-01-31", "price": "0.30", "currency": "JPY", "warranty_ends": "2026-01-31"}
    assert api.put(f"/api/things/{grinder.slug}/purchase", body, format="json").status_code == 200
    shown = api.get(f"/api/things/{grinder.slug}/purchase").json()
    assert shown["price"] == "0.30" and shown["currency"] == "JPY" and shown["warranty_ends"] == "2026-01-31"
    assert api.delete(f"/api/things/{grinder.slug}/purchase").status_code == 204
    assert not Purchase.objects.filter(twin=grinder).exists()


def test_an_unknown_field_is_refused_by_name(alice, grinder):
    response = api_for(alice).put(f"/api/things/{grinder.slug}/purchase", {"prize": "1"}, format="json")
    assert response.status_code == 400 and "prize" in response.json()["message"]


def test_a_keeper_sees_neither_the_purchase_nor_its_panel(grinder, bob):
    make_keeper(grinder, bob)
    warranty.purchase_set(twin=grinder, price="999.00", currency="EUR", bought_from="Secret shop")
    bob_client = client_for(bob)
    assert bob_client.get(f"/things/{grinder.slug}/purchase/").status_code == 404
    assert api_for(bob).get(f"/api/things/{grinder.slug}/purchase").status_code == 404
    page = bob_client.get(f"/things/{grinder.slug}/").content.decode()
    assert "999.00" not in page and "Secret shop" not in page


def test_a_stranger_cannot_write_the_purchase(grinder, carol):
    response = client_for(carol).post(f"/things/{grinder.slug}/purchase/", {"price": "1", "currency": "EUR"})
    assert response.status_code == 404
    response = api_for(carol).put(f"/api/things/{grinder.slug}/purchase", {"price": "1", "currency": "EUR"})
    assert response.status_code == 404
    assert not Purchase.objects.filter(twin=grinder).exists()


def test_a_sale_keeps_the_dates_for_the_buyer_and_drops_the_price_and_shop(grinder, alice, bob):
    warranty.purchase_set(
        twin=grinder,
        purchased_on=date(2025, 1, 1),
        price="300.00",
        currency="EUR",
        bought_from="Shop",
        warranty_ends=date(2027, 1, 1),
    )
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    assert offer_accept(offer=offer, buyer=bob).status == "completed"
    purchase = Purchase.objects.get(twin=grinder)
    assert (purchase.price, purchase.currency, purchase.bought_from) == (None, "", "")
    assert purchase.warranty_ends == date(2027, 1, 1) and purchase.purchased_on == date(2025, 1, 1)


def test_the_page_form_refuses_an_unknown_currency_with_words_and_saves_nothing(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/purchase/", {"price": "10.00", "currency": "EURO"})
    assert response.status_code == 400
    assert "Give the currency as its three-letter ISO 4217 code" in response.content.decode()
    assert not Purchase.objects.filter(twin=grinder).exists()
