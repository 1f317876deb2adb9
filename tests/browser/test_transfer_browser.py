"""A sale, in two phone browsers: the seller offers a thing, the buyer opens the link and accepts."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import log_in, phone
from twins.models import Reading, TransferOffer, Twin

pytestmark = pytest.mark.browser


def test_a_seller_offers_a_thing_and_the_buyer_accepts_it_on_a_phone(browser: Browser, site: str, alice, bob):
    seller_context, buyer_context = phone(browser), phone(browser)
    try:
        seller = seller_context.new_page()
        log_in(seller, site, "alice")

        # The seller adds a thing and one reading.
        seller.goto(f"{site}/things/new/")
        seller.get_by_label("Name").fill("Road bike")
        seller.get_by_label("Reading kind").fill("tyre pressure")
        seller.get_by_label("Reading unit").fill("bar")
        seller.get_by_role("button", name="Add", exact=True).click()
        expect(seller.get_by_role("heading", name="Road bike")).to_be_visible()
        thing_path = urlsplit(seller.url).path
        assert re.fullmatch(r"/things/[^/]+/", thing_path), thing_path
        seller.get_by_label("Value").fill("6.5")
        seller.get_by_role("button", name="Add reading").click()
        expect(seller.get_by_test_id("readings")).to_contain_text("6.5")

        # Transfer: an offer that removes the readings.
        seller.get_by_role("link", name="Transfer").click()
        expect(seller.get_by_role("heading", name="Transfer Road bike")).to_be_visible()
        seller.get_by_label("Readings").check()
        seller.get_by_role("button", name="Create the offer").click()
        link = seller.get_by_test_id("offer-link")
        expect(link).to_be_visible()
        # Readings ticked, on top of the private default (journal notes and scans).
        removes = seller.get_by_test_id("offer-removes")
        expect(removes).to_contain_text("Will be removed at the sale:")
        expect(removes.get_by_role("listitem")).to_have_text(
            ["Readings", "Journal notes", "Scans of its tags (when and where it was scanned)"]
        )
        offer_url = link.input_value()
        offer = urlsplit(offer_url)
        assert re.fullmatch(r"/transfer/[^/]+", offer.path), offer_url
        # The link is absolute on SITE_URL; the pages here are served at the live server's origin.
        buyer_link = site + offer.path

        # The buyer, in a browser of their own: log in, open the link, read the summary, accept.
        buyer = buyer_context.new_page()
        log_in(buyer, site, "bob")
        buyer.goto(buyer_link)
        expect(buyer.get_by_role("heading", name="Road bike")).to_be_visible()
        expect(buyer.get_by_text("alice offers you this thing.")).to_be_visible()
        summary = buyer.get_by_test_id("offer-summary")
        expect(summary.get_by_role("row", name="History")).to_contain_text("verifies")
        expect(summary.get_by_role("row", name="History")).not_to_contain_text("NOT")
        # created, the seller's ownership credential issued, the reading (removed at the sale)
        expect(summary.get_by_role("row", name="Entries")).to_contain_text("3")
        expect(summary.get_by_role("row", name="Removed at the sale")).to_contain_text("Reading: 1")
        buyer.get_by_role("button", name="Accept and take ownership").click()
        expect(buyer.get_by_text("Road bike is yours now.")).to_be_visible()
        assert urlsplit(buyer.url).path == thing_path
        expect(buyer.get_by_text("No readings yet.")).to_be_visible()

        # The seller has lost the thing: its private page answers 404.
        response = seller.goto(site + thing_path)
        assert response is not None and response.status == 404

        # The buyer sees it among their cards.
        buyer.goto(f"{site}/things/")
        expect(buyer.get_by_test_id("card").filter(has_text="Road bike")).to_have_count(1)

        twin = Twin.objects.get(name="Road bike")
        assert twin.owner_id == bob.pk
        assert not Reading.objects.filter(twin=twin).exists()
        assert TransferOffer.objects.get(twin=twin).status == TransferOffer.Status.COMPLETED
    finally:
        seller_context.close()
        buyer_context.close()
