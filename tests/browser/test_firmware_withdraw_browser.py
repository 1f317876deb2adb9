# ruff: noqa: F811 (the fixtures imported from tests.firmware.conftest are taken by name)
"""The Withdraw button in a real browser (Debian's Chromium through Playwright, against the live server): an admin
types a reason and withdraws; the owner's thing page then offers nothing and says why."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from firmware import services
from firmware.models import Release
from tests.browser.conftest import log_in
from tests.firmware.conftest import acme, acme_model, alices_grinder, dora, erin, upload  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_an_admin_withdraws_with_the_button_and_the_owner_is_offered_nothing(
    page: Page,
    site: str,
    alices_grinder,
    acme,
    acme_model,
    dora,
    erin,
    alice,
):
    page.set_default_timeout(10_000)
    services.release_publish(model=acme_model, by=erin, upload=upload(), version="1.0")
    services.update_accept(twin=alices_grinder, release=Release.objects.get(), by=alice)
    log_in(page, site, dora.username)
    page.goto(f"{site}/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/")
    form = page.get_by_test_id("withdraw-1")
    form.get_by_label("Reason").fill("Overheats the motor board")
    form.get_by_role("button", name="Withdraw 1.0").click()
    expect(page.get_by_text("Release 1.0 is withdrawn")).to_be_visible()
    expect(page.get_by_test_id("withdrawn-1")).to_contain_text("Overheats the motor board")
    assert Release.objects.get().status == Release.Status.WITHDRAWN
    page.context.clear_cookies()
    log_in(page, site, alice.username)
    page.goto(f"{site}/things/{alices_grinder.slug}/")
    expect(page.get_by_test_id("firmware-withdrawn")).to_contain_text("Overheats the motor board")
    expect(page.get_by_test_id("firmware-update")).to_have_count(0)
