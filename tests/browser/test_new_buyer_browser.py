"""A brand-new buyer on a phone (issue 14, finding 3): the offer link, opened signed out, says what is offered;
signing up from there comes back to the offer, which shows what a buyer judges by; accepting makes it theirs.
axe-core runs on every page of the walk."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll
from tests.browser.conftest import phone
from tests.conftest import PASSWORD
from twins import services
from twins.models import Twin
from twins.transfer import offer_create

pytestmark = pytest.mark.browser


def _offered_bike(alice) -> str:
    """Alice's road bike (photo, model, serial, two readings, a journal note), offered with the default private
    choices: the journal and scans go at the sale. Returns the offer link's path."""
    bike = services.twin_create(owner=alice, name="Road bike", reading_kind="tyre pressure", reading_unit="bar")
    bike.model_name, bike.serial = "Allez Sport", "WSBC-6024"
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "navy").save(buffer, format="JPEG")
    bike.photo.save("bike.jpg", ContentFile(buffer.getvalue()), save=False)
    bike.save()
    services.reading_add(twin=bike, value=6.5)
    services.reading_add(twin=bike, value=7)
    services.note_create(twin=bike, title="Chain replaced")
    offer = offer_create(twin=bike, seller=alice, redact_kinds=["note", "scan"])
    return f"/transfer/{offer.token}"


def test_a_new_buyer_follows_the_offer_link_signs_up_and_accepts_on_a_phone(browser: Browser, site: str, alice):
    offer_path = _offered_bike(alice)
    context = phone(browser)
    try:
        page = context.new_page()
        page.goto(site + offer_path)

        # Signed out: the login page names the offer, with its photo, and offers to create an account.
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        context_box = page.get_by_test_id("next-context")
        expect(context_box).to_contain_text("alice offers you Road bike (Allez Sport)")
        expect(context_box.get_by_role("img", name="Photo of Road bike")).to_be_visible()
        assert_axe_clean(page)
        assert_no_horizontal_scroll(page)
        page.get_by_test_id("signup-link").click()

        # The sign-up page still says what waits, and keeps the way back to it.
        expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
        expect(page.get_by_test_id("next-context")).to_contain_text("alice offers you Road bike")
        assert_axe_clean(page)
        page.locator("#id_username").fill("dora")
        page.locator("#id_email").fill("dora@example.org")
        page.locator("#id_password1").fill(PASSWORD)
        page.locator("#id_password2").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()

        # Straight back to the offer, which shows what a buyer judges by.
        expect(page.get_by_role("heading", name="Road bike")).to_be_visible()
        assert urlsplit(page.url).path == offer_path
        summary = page.get_by_test_id("offer-summary")
        expect(summary.get_by_role("row", name="History")).to_contain_text("verifies")
        expect(summary.get_by_role("row", name="History")).not_to_contain_text("NOT")
        expect(summary.get_by_role("row", name="Model")).to_contain_text("Allez Sport")
        expect(summary.get_by_role("row", name="Serial")).to_contain_text("WSBC-6024")
        expect(summary.get_by_role("row", name="Age")).to_be_visible()
        expect(summary.get_by_role("row", name="Readings")).to_contain_text("2 tyre pressure readings")
        expect(summary.get_by_role("row", name="Readings")).to_contain_text("latest 7 bar")
        expect(summary.get_by_role("row", name="Removed at the sale")).to_contain_text("Journal note: 1")
        expect(page.get_by_role("img", name="Photo of Road bike")).to_be_visible()
        assert_axe_clean(page)
        assert_no_horizontal_scroll(page)

        page.get_by_role("button", name="Accept and take ownership").click()
        expect(page.get_by_text("Road bike is yours now.")).to_be_visible()
        assert_axe_clean(page)
        assert Twin.objects.get(name="Road bike").owner.username == "dora"
    finally:
        context.close()
