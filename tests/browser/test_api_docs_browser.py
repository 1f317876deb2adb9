"""The API reference page in a phone's browser: axe-clean, no horizontal scroll at 360 px, and light over the wire
(issue 14 finding 12: Swagger UI sent 2.1 MB and failed axe on contrast and nested interactive controls)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll

pytestmark = pytest.mark.browser


def _received(page: Page) -> int:
    """What the browser received for the current page, compressed as sent: the page and each asset it loaded."""
    sizes = page.evaluate(
        "() => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]"
        ".map(entry => entry.encodedBodySize)"
    )
    return sum(sizes)


def test_api_docs_index_and_a_tag_page_are_axe_clean_fit_a_phone_and_load_under_200_kb(page: Page, site: str):
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    response = page.goto(f"{site}/api/docs/")
    assert response is not None and response.status == 200
    page.wait_for_load_state("load")
    assert page.get_by_role("heading", name="transfers", exact=True).is_visible()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    assert _received(page) < 200 * 1024, loaded
    # The largest part's page, reached from the index's link to one of its operations.
    page.get_by_role("link", name="POST /api/things/{slug}/transfer-offer", exact=True).click()
    page.wait_for_load_state("load")
    assert page.url.startswith(f"{site}/api/docs/transfers/#op-")
    assert page.get_by_role("heading", name="transfers", level=1).is_visible()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    assert _received(page) < 200 * 1024, loaded
    assert all(url.startswith(site) for url in loaded), loaded
