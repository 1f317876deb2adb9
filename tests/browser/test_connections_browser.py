"""Connections pages in phone browsers: the owner creates a twin's invitation and sees its QR code and link; another
owner's agent accepts it and the two exchange a message."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, Page, expect

from didcomm.models import Connection
from ssi import oob
from ssi.bundle import verify_bundle
from tests.browser.conftest import log_in, phone
from twins.models import HistoryEntry
from twins.verification import export_bundle

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


def test_bob_connects_his_own_agent_to_alices_twin_and_alice_messages_him(
    browser: Browser, site: str, settings, grinder, bob
):
    """Self-interop: both agents are Thingstead's, served by the one live server. Bob's owner agent accepts the
    twin's invitation through the page (DID Exchange runs over HTTP to /didcomm/, tasks inline), then alice
    sends a basic message from the twin's connection page and bob reads it on his."""
    settings.SITE_URL = site
    alice_context, bob_context = phone(browser), phone(browser)
    try:
        alice = alice_context.new_page()
        log_in(alice, site, "alice")
        alice.goto(f"{site}/things/{grinder.slug}/connections/")
        alice.get_by_role("button", name="Create an invitation").click()
        invitation_url = alice.get_by_test_id("invitation-url").input_value()

        bob_page = bob_context.new_page()
        log_in(bob_page, site, "bob")
        bob_page.goto(f"{site}/profile/")
        bob_page.get_by_role("link", name="Connections").click()
        expect(bob_page.get_by_role("heading", name="Connections of your own agent")).to_be_visible()
        bob_page.get_by_label("Invitation URL").fill(invitation_url)
        bob_page.get_by_role("button", name="Accept the invitation").click()
        expect(bob_page.get_by_role("heading", name="Coffee grinder")).to_be_visible()
        expect(bob_page.get_by_test_id("connection-state")).to_have_text("completed")

        alice.goto(f"{site}/things/{grinder.slug}/connections/")
        row = alice.get_by_test_id("connection").filter(has_text="bob")
        expect(row).to_have_attribute("data-state", "completed")
        row.get_by_role("link", name="bob").click()
        alice.get_by_label("Message").fill("Hello Bob, the grinder here")
        alice.get_by_role("button", name="Send message").click()
        expect(alice.get_by_text("Message queued for delivery.")).to_be_visible()
        sent = alice.get_by_test_id("activity-item").filter(has_text="Hello Bob, the grinder here")
        expect(sent.get_by_test_id("delivery-status")).to_have_text("sent")

        bob_page.reload()
        received = bob_page.get_by_test_id("activity-item").filter(has_text="Hello Bob, the grinder here")
        expect(received).to_have_attribute("data-direction", "received")
        # Bob pings back: the twin's agent answers at once, and the round trip shows.
        bob_page.get_by_role("button", name="Ping").click()
        expect(bob_page.get_by_test_id("last-ping")).to_contain_text("round trip")

        # The twin's private page lists its agent's activity, each message with its connection's label.
        alice.goto(f"{site}/things/{grinder.slug}/")
        activity = alice.locator("#agent")
        expect(activity).to_contain_text("Hello Bob, the grinder here")
        expect(activity.get_by_test_id("activity-item").filter(has_text="Trust ping")).to_contain_text("bob")
        bob_page.goto(f"{site}/inbox/")
        expect(bob_page.get_by_test_id("inbox")).to_contain_text("Message from Coffee grinder")
    finally:
        alice_context.close()
        bob_context.close()

    # Everything the twin's agent received is in its signed history, which still verifies.
    assert HistoryEntry.objects.filter(twin=grinder, kind=HistoryEntry.Kind.MESSAGE).exists()
    assert (
        verify_bundle(json.dumps(export_bundle(grinder))).entries == HistoryEntry.objects.filter(twin=grinder).count()
    )
