"""The sign-up page fills its time zone from the browser's (static/js/tz.js), on the very first page, before any
cookie exists; the account keeps it, and its pages show it from the start. The sign-up and profile pages with the
time zone select stay axe-clean and do not scroll sideways on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from owners.models import Owner
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll
from tests.browser.conftest import PHONE
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_up_takes_the_browsers_time_zone_and_the_profile_shows_it(browser: Browser, site):
    context = browser.new_context(**{**PHONE, "viewport": {"width": 360, "height": 740}, "timezone_id": "Asia/Tokyo"})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{site}/signup/")
        expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
        assert_axe_clean(page)
        assert_no_horizontal_scroll(page, 360)
        page.get_by_label("Username").fill("dora")
        page.get_by_label("Email").fill("dora@example.org")
        page.locator("#id_password1").fill(PASSWORD)
        page.locator("#id_password2").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url("**/things/new/")
        assert Owner.objects.get(username="dora").time_zone == "Asia/Tokyo"
        page.goto(f"{site}/profile/")
        # The profile's select is the owner's own setting: it shows the saved zone, and is never auto-filled.
        expect(page.locator("#time-zone").get_by_label("Time zone")).to_have_value("Asia/Tokyo")
        assert_axe_clean(page)
        assert_no_horizontal_scroll(page, 360)
    finally:
        context.close()
