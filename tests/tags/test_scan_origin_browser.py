"""Real Chromium: the finder's own page sends its message, and a page of another site that posts the same form to
the same URL is refused (what tests/tags/test_scan_origin.py checks header by header, with the headers a real
browser sends)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from owners.models import Notification
from tests.browser.conftest import browser_context_args, browser_type_launch_args, site  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL = "http://evil.example/"


def test_the_finders_page_sends_a_message_and_another_sites_copy_of_the_form_is_refused(
    site: str,  # noqa: F811
    page: Page,
    grinder_tag,
    alice,
):
    page.goto(f"{site}/t/{grinder_tag.token}")
    page.get_by_label("Message to the owner").fill("Found it at the station")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", name="Your message was sent")).to_be_visible()
    assert Notification.objects.filter(owner=alice, kind="message").count() == 1

    # Another site's page, served by Playwright under its own origin, auto-posts the same form to the same URL.
    form = (
        f'<form id="f" method="post" action="{site}/t/{grinder_tag.token}/message">'
        '<input name="message" value="Spam through your browser"></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    page.route(EVIL, lambda route: route.fulfill(body=form, content_type="text/html"))
    with page.expect_response(f"{site}/t/{grinder_tag.token}/message") as posted:
        page.goto(EVIL)
    assert posted.value.status == 403
    expect(page.get_by_text("Reload the page and send it again")).to_be_visible()
    assert Notification.objects.filter(owner=alice, kind="message").count() == 1
