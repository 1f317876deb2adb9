"""A keeper's phone in a real browser: the kept thing's private page updates live as the owner's does, and stops
when the owner revokes the keeper (the socket is closed at the next push; nothing more arrives).

Served by the emergency browser test's uvicorn thread (tests/asgi_thread.py), which sees the test database."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from credentials import keepers
from credentials.models import AccessCredential
from tests.browser.conftest import log_in, phone
from tests.browser.test_emergency_browser import emergency_server as emergency_server  # the server, shared
from tests.browser.test_emergency_browser import post
from twins import services

pytestmark = pytest.mark.browser


@pytest.fixture
def site(emergency_server, transactional_db) -> str:
    return emergency_server


def test_a_keepers_phone_gets_live_readings_until_the_owner_revokes_him(page: Page, browser, site: str, alice, bob):
    grinder = services.twin_create(owner=alice, name="Coffee grinder", reading_kind="grind", reading_unit="setting")
    services.reading_add(twin=grinder, value=11)
    keepers.access_credential_issue(
        twin=grinder,
        issued_by=alice,
        holder=bob,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
    )
    keeper = phone(browser).new_page()
    log_in(keeper, site, "bob")
    keeper.goto(f"{site}/things/{grinder.slug}/")
    expect(keeper.get_by_test_id("access-role")).to_contain_text("keeper")
    expect(keeper.locator("html")).to_have_attribute("data-live", "open")
    assert keeper.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    keeper.evaluate("window.__notReloaded = true")

    assert post(site, alice, f"/api/things/{grinder.slug}/readings/", {"value": 13.25}) == 201
    expect(keeper.get_by_test_id("readings").locator("tr[data-time]").first).to_contain_text("13.25 setting")
    assert keeper.evaluate("window.__notReloaded") is True

    # The owner revokes him on her own page; his open page hears nothing more: the next push closes it.
    log_in(page, site, "alice")
    page.goto(f"{site}/things/{grinder.slug}/keepers/")
    # Phone-sized: the keepers table fits, so its revoke button can be tapped (it was pushed off the screen).
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("can no longer act on")).to_be_visible()
    assert post(site, alice, f"/api/things/{grinder.slug}/readings/", {"value": 14.5}) == 201
    expect(keeper.locator("html")).to_have_attribute("data-live", "refused")
    expect(keeper.get_by_test_id("readings")).not_to_contain_text("14.5")
