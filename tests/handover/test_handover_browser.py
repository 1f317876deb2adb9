"""Handing several things to one buyer in a real browser at phone size: the seller ticks things on the cards page,
chooses "Transfer to one buyer", confirms, creates the offer; the buyer opens the one link and accepts all."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from handover.models import Handover
from tests.browser import conftest as browser_suite
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll
from tests.browser.conftest import PHONE, log_in
from tests.conftest import make_owner
from twins import services as twin_services
from twins.models import Twin

pytestmark = pytest.mark.browser

# The browser suite's fixtures (Debian's Chromium, the live server), for this test beside the handover's others.
browser_type_launch_args = browser_suite.browser_type_launch_args
live_site = browser_suite.site


def test_seller_offers_two_things_and_the_buyer_accepts_both_at_once(live_site: str, browser):
    dora, eve = make_owner("dora"), make_owner("eve")
    for name in ("Heifer 1", "Heifer 2", "Heifer 3"):
        twin_services.twin_create(owner=dora, name=name)
    width = PHONE["viewport"]["width"]

    seller = browser.new_context(**PHONE)
    seller.set_default_timeout(10_000)
    page = seller.new_page()
    log_in(page, live_site, "dora")
    boxes = page.get_by_test_id("card-select")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_test_id("bulk-action").select_option(label="Transfer to one buyer")
    page.get_by_test_id("bulk-continue").click()
    page.get_by_test_id("bulk-go").click()
    expect(page.get_by_role("heading", name="Transfer to one buyer")).to_be_visible()
    expect(page.get_by_test_id("handover-things").get_by_role("listitem")).to_have_count(2)
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page, width=width)
    page.get_by_role("button", name="Create the offer").click()
    link = page.get_by_test_id("offer-link").input_value()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page, width=width)

    buyer = browser.new_context(**PHONE)
    buyer.set_default_timeout(10_000)
    other = buyer.new_page()
    log_in(other, live_site, "eve")
    other.goto(live_site + urlsplit(link).path)
    expect(other.get_by_test_id("handover-offer")).to_contain_text("Heifer 1")
    assert_axe_clean(other)
    assert_no_horizontal_scroll(other, width=width)
    other.get_by_role("button", name="Accept and take ownership of all 2").click()
    expect(other.get_by_role("heading", name="Your things")).to_be_visible()

    assert Handover.objects.get().status == Handover.Status.COMPLETED
    assert Twin.objects.filter(owner=eve).count() == 2 and Twin.objects.filter(owner=dora).count() == 1
    page.reload()
    expect(page.get_by_test_id("handover-status")).to_contain_text("Completed")
    seller.close()
    buyer.close()
