"""A herd's pages in real Chromium: the groups' cards above the things, a group's page with its members' latest
readings, the combined chart (one line per cow, with a legend) and the plot of last known positions; each page
axe-clean and fitting 360 px; the groups' own pages with tap targets
of at least 40 px (the cards page's own controls are the phone walk's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from fleets import services as fleets
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll, assert_tap_targets
from tests.browser.conftest import log_in
from tests.conftest import make_owner
from twins import services

pytestmark = pytest.mark.browser

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _check(page: Page, *, taps: bool = True) -> None:
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    if taps:
        assert_tap_targets(page, min_px=40)


def test_an_owner_looks_at_a_herd_its_chart_and_its_map(site: str, page: Page):
    dora = make_owner("dora")
    farm = fleets.group_create(owner=dora, name="Farm")
    barn = fleets.group_create(owner=dora, name="Barn", parent=farm)
    cows = [
        services.twin_create(owner=dora, name=f"Cow {n}", reading_kind="temperature", reading_unit="°C")
        for n in (1, 2, 3)
    ]
    fleets.members_add(group=farm, twins=cows[:2])
    fleets.members_add(group=barn, twins=cows[2:])
    for n, cow in enumerate(cows):
        for hours in range(4):
            services.reading_add(twin=cow, value=38 + n / 2 + hours / 10, time=NOW - timedelta(hours=hours))
        services.reading_add(twin=cow, kind="location", unit="lat", value=47.26 + n / 100, time=NOW)
        services.reading_add(twin=cow, kind="location", unit="lon", value=11.39 + n / 100, time=NOW)
    log_in(page, site, "dora")

    page.goto(f"{site}/things/")
    expect(page.get_by_test_id("group-card")).to_have_count(2)
    _check(page, taps=False)

    page.locator(f'[data-group="{farm.pk}"]').click()
    expect(page.get_by_role("heading", name="Farm", exact=True)).to_be_visible()
    expect(page.get_by_test_id("members").locator("tbody tr")).to_have_count(3)
    expect(page.locator("#group-chart-svg path")).to_have_count(3)
    expect(page.get_by_test_id("chart-legend").locator("li")).to_have_count(3)
    expect(page.get_by_test_id("map").locator("circle")).to_have_count(3)
    _check(page)

    page.get_by_test_id("act-on-members").click()
    expect(page.get_by_test_id("card")).to_have_count(3)
    _check(page, taps=False)

    page.goto(f"{site}/groups/")
    _check(page)
    page.goto(f"{site}/things/{cows[0].slug}/")
    expect(page.get_by_test_id("thing-groups")).to_contain_text("Farm / Barn")
    _check(page, taps=False)
