"""The shared page checks of tests/browser/axe.py fail on a page that breaks them and pass on one that does not
(static HTML: no server needed)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll, assert_tap_targets

pytestmark = pytest.mark.browser

GOOD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Good</title>
<style>a, button { display: inline-block; min-width: 44px; min-height: 44px; }
input[type=checkbox] { width: 20px; height: 20px; } label { display: inline-block; padding: 12px 0; }</style>
</head><body><main><h1>Good</h1><p><a href="#x">A link</a> <button type="button">Go</button></p>
<label><input type="checkbox" name="c"> Keep the journal</label></main></body></html>"""


def test_a_clean_page_passes_every_check(page: Page):
    page.set_content(GOOD)
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)


def test_axe_check_lists_the_violation_and_its_node(page: Page):
    page.set_content(GOOD.replace("<main>", '<main><ul role="alert"><li>Bad</li></ul>'))
    with pytest.raises(AssertionError) as failure:
        assert_axe_clean(page)
    assert "aria-allowed-role" in str(failure.value)
    assert 'ul[role="alert"]' in str(failure.value) or "<ul role" in str(failure.value)


def test_horizontal_scroll_check_names_the_wide_element(page: Page):
    page.set_content(GOOD.replace("<h1>Good</h1>", "<h1>Good</h1><code id=wide>" + "A" * 120 + "</code>"))
    before = page.viewport_size
    with pytest.raises(AssertionError) as failure:
        assert_no_horizontal_scroll(page)
    assert "code#wide" in str(failure.value)
    assert page.viewport_size == before  # the viewport is put back


def test_tap_target_check_lists_small_links_but_counts_a_checkbox_with_its_label(page: Page):
    page.set_content(GOOD.replace("</main>", '<a id="tiny" href="#y" style="min-height:0;min-width:0">x</a></main>'))
    with pytest.raises(AssertionError) as failure:
        assert_tap_targets(page)
    message = str(failure.value)
    assert "a#tiny" in message
    assert "1 tap target(s)" in message  # the 20 px checkbox inside its 44 px label is not listed
