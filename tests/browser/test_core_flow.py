"""The core journey on two phones: an owner signs up, makes a thing, tags it, logs a reading by scanning; a
finder scans the same tag, sees only what the owner chose to show, and messages the owner."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tags.models import Tag
from tests.browser.conftest import PHONE
from tests.conftest import PASSWORD
from twins.models import Reading, Twin

pytestmark = pytest.mark.browser


def _sign_up(page: Page, site: str) -> None:
    page.goto(f"{site}/signup/")
    page.locator("#id_username").fill("dora")
    page.locator("#id_email").fill("dora@example.org")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Add a thing")).to_be_visible()


def _assert_stylesheets_load(page: Page) -> None:
    hrefs = page.locator("link[rel=stylesheet]").evaluate_all("links => links.map(link => link.href)")
    assert hrefs, "the page links no stylesheet"
    for href in hrefs:
        response = page.request.get(href)
        assert response.status == 200, f"{href} answered {response.status}"
        assert response.headers["content-type"].startswith("text/css"), response.headers["content-type"]


def test_owner_tags_a_thing_logs_a_reading_and_a_finder_messages_them(site: str, page: Page, browser: Browser):
    _sign_up(page, site)
    _assert_stylesheets_load(page)
    page.locator("#id_name").fill("Blue bike")
    page.locator("#id_reading_kind").fill("tyre pressure")
    page.locator("#id_reading_unit").fill("bar")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("heading", name="Blue bike")).to_be_visible()
    twin = Twin.objects.get(name="Blue bike")

    page.get_by_role("button", name="Add a tag").click()
    expect(page.get_by_test_id("tag")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name="PNG").click()
    with open(download.value.path(), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    tag = Tag.objects.get(twin=twin)

    # The owner scans: one box, numeric keyboard, the unit, Save.
    page.goto(f"{site}/t/{tag.token}")
    box = page.get_by_label("Tyre pressure (bar)")
    expect(box).to_have_attribute("inputmode", "decimal")
    expect(box).to_be_focused()
    box.fill("3.5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("readings")).to_contain_text("3.5 bar")
    assert Reading.objects.get(twin=twin).value == 3.5

    # Public page: the thing's name and a message on, phone off.
    page.goto(f"{site}/things/{twin.slug}/public/")
    page.locator("#id_use_profile_contact").uncheck()
    page.locator("#id_contact_message").fill("Please ring the bell at no. 7")
    page.locator("#id_show_message").check()
    page.locator("#id_contact_phone").fill("+44 20 7946 0000")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Public page settings saved.")).to_be_visible()

    # A finder, on another phone with no account.
    finder_context = browser.new_context(**PHONE)
    finder = finder_context.new_page()
    finder.goto(f"{site}/t/{tag.token}")
    expect(finder.get_by_role("heading", name="Blue bike")).to_be_visible()
    expect(finder.get_by_text("Please ring the bell at no. 7")).to_be_visible()
    _assert_stylesheets_load(finder)
    expect(finder.locator("input[name=value]")).to_have_count(0)  # the reading box is the owner's only
    html = finder.content()
    # Switched off (or never on): the phone, the owner's account name and email.
    assert "7946" not in html and "dora" not in html.lower()
    finder.get_by_label("Message to the owner").fill("Found your bike by the station.")
    finder.get_by_label("Email or phone (optional)").fill("finder@example.net")
    finder.get_by_role("button", name="Send message").click()
    expect(finder.get_by_text("sent", exact=False).first).to_be_visible()
    assert "dora@example.org" not in finder.content()
    finder_context.close()

    # The owner sees it in the inbox, with the unread count in the header.
    page.goto(f"{site}/things/")
    expect(page.get_by_test_id("unread-count")).to_be_visible()
    page.get_by_role("link", name="Inbox").click()
    page.get_by_role("link", name="Message about Blue bike").click()
    expect(page.get_by_text("Found your bike by the station.")).to_be_visible()
    expect(page.get_by_text("finder@example.net")).to_be_visible()
