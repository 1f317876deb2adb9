"""Support through the thing, in a real browser at phone size: the owner opens a case from the thing's page with
two context items ticked, and the manufacturer's reply appears on the open case page without a reload.

Both agents live on this instance (the Grindmaster's and Acme's, connected by a real DID Exchange) and every
message travels as a real RFC 0019 envelope over HTTP to the ASGI server (Daphne in this process:
tests/browser/test_live_browser.py), whose receipt pushes the reply to the page over its WebSocket.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from didcomm import outbox
from didcomm import services as didcomm_services
from didcomm.models import Connection
from makers.models import ProductModel
from support import services
from support.models import Case, CaseMessage
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll
from tests.browser.conftest import log_in
from tests.browser.test_live_browser import asgi_site, asgi_url  # noqa: F401 (fixtures)
from tests.conftest import make_owner
from tests.makers.conftest import organisation_make
from tests.makers.test_recalls import produce
from twins import services as twin_services

pytestmark = pytest.mark.browser


def _until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_a_phone_opens_a_case_with_two_items_ticked_and_sees_the_reply_arrive_live(
    page: Page,
    asgi_site: str,  # noqa: F811
    settings,
):
    settings.SITE_URL = asgi_site  # what the agents' invitations and endpoints name
    dora = make_owner("dora")
    olga = make_owner("olga")
    acme = organisation_make(slug="acme", name="Acme Grinders", admin=dora)
    model = ProductModel.objects.create(organisation=acme, name="Grindmaster 3000", gtin="09506000134352")
    thing = produce(model, "GM-0042", olga)
    thing.attributes = {"Firmware": "2.4.1"}
    thing.save(update_fields=["attributes"])
    twin_services.reading_add(twin=thing, value=18.0, kind="grams", unit="g")
    invitation = outbox.invitation_create(agent=didcomm_services.agent_for_owner(acme.account))
    ours = didcomm_services.agent_invitation_accept(owner=olga, invitation_url=invitation.invitation_url, twin=thing)
    assert _until(lambda: Connection.objects.get(pk=ours.pk).state == Connection.State.COMPLETED)

    log_in(page, asgi_site, "olga")
    page.goto(f"{asgi_site}/things/{thing.slug}/")
    page.get_by_role("link", name="Get help from Acme Grinders").click()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    page.get_by_label("What is wrong?").fill("The grind got uneven this week.")
    page.get_by_label("Serial number (GM-0042)").check()
    page.get_by_label("Firmware version (2.4.1)").check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("case")).to_be_visible()
    expect(page.get_by_test_id("thread")).to_contain_text("The grind got uneven this week.")
    expect(page.get_by_test_id("context")).to_contain_text("GM-0042")
    expect(page.get_by_test_id("context")).to_contain_text("2.4.1")
    expect(page.get_by_test_id("delivery").first).to_have_text("sent")
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    assert_no_horizontal_scroll(page)
    page.evaluate("window.__notReloaded = true")

    party = _until(lambda: Case.objects.filter(side=Case.Side.PARTY, organisation=acme).first())
    assert party is not None
    assert party.messages.get(kind=CaseMessage.Kind.OPEN).context == {"serial": "GM-0042", "firmware": "2.4.1"}
    reply = services.party_reply(case=party, by=dora, text="Please descale it and grind a little finer.")

    messages = page.get_by_test_id("case-message")
    expect(messages.last).to_contain_text("Please descale it and grind a little finer.")
    expect(messages.last).to_contain_text("Acme Grinders")
    assert page.evaluate("window.__notReloaded") is True
    assert_axe_clean(page)
    # The open page read it: the manufacturer's side shows its reply as read.
    assert _until(lambda: CaseMessage.objects.get(pk=reply.pk).read_at is not None)
