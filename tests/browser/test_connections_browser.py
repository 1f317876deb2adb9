"""A twin's Connections page in a phone browser: the owner creates an invitation and sees its QR code and link."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from didcomm.models import Connection
from ssi import oob
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_the_owner_creates_an_invitation_and_sees_its_qr_code_and_link(page: Page, site: str, settings, grinder):
    settings.SITE_URL = site
    log_in(page, site, "alice")
    page.goto(f"{site}/things/{grinder.slug}/")
    page.get_by_role("link", name="Connections").first.click()
    expect(page.get_by_role("heading", name="Connections of Coffee grinder")).to_be_visible()
    expect(page.get_by_text("No connections yet.")).to_be_visible()

    page.get_by_role("button", name="Create an invitation").click()
    expect(page.get_by_test_id("invitation-qr").locator("svg")).to_be_visible()
    link = page.get_by_test_id("invitation-link")
    expect(link).to_be_visible()
    url = page.get_by_test_id("invitation-url").input_value()
    assert link.get_attribute("href") == url
    invitation = oob.parse_url(url)
    assert invitation.label == "Coffee grinder"
    assert invitation.services[0].service_endpoint == f"{site}/didcomm/"
    assert Connection.objects.get(agent__twin=grinder).invitation_url == url

    # The copy button puts the link on the clipboard (or at least selects it for a manual copy).
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
