"""Moving things into a place from a phone, as in a kitchen: open the drawer's code, start moving, scan each
thing's tag, tap "Move here"; every page of the walk is axe-clean and fits 360 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from inventory import labels, locations
from inventory.models import Placement
from tags.models import Tag
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll
from tests.browser.conftest import log_in
from tests.conftest import make_owner
from twins import services

pytestmark = pytest.mark.browser


def _check(page: Page) -> None:
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)


def test_owner_moves_two_things_into_a_drawer_by_scanning_their_tags(site: str, page: Page):
    dora = make_owner("dora")
    home = locations.location_create(owner=dora, name="Home")
    kitchen = locations.location_create(owner=dora, name="Kitchen", parent=home)
    drawer = locations.location_create(owner=dora, name="Drawer", parent=kitchen)
    # Labels in colours from dark to light: each one's text must pass the contrast check.
    for name, colour in [("Navy", "#1a237e"), ("Mid", "#808080"), ("Sun", "#f9a825"), ("Snow", "#fafafa")]:
        label = labels.label_create(owner=dora, name=name, colour=colour)
    things = [services.twin_create(owner=dora, name=name) for name in ("Corkscrew", "Scissors")]
    labels.thing_set_labels(twin=things[0], labels=list(dora.labels.all()))
    tags = [Tag.objects.create(twin=thing) for thing in things]
    log_in(page, site, "dora")

    # The drawer's page: its breadcrumb and its printable code.
    page.goto(f"{site}/places/{drawer.public_id}/")
    expect(page.get_by_test_id("breadcrumb")).to_contain_text("Home › Kitchen › Drawer")
    expect(page.get_by_test_id("place-qr").locator("svg")).to_be_visible()
    _check(page)

    # What the drawer's code opens (its URL carries SITE_URL; the live server has its own address).
    page.goto(f"{site}/places/{drawer.public_id}/move")
    _check(page)
    page.get_by_test_id("move-start").click()
    expect(page.get_by_test_id("move-open")).to_be_visible()

    for thing, tag in zip(things, tags, strict=True):
        page.goto(f"{site}/t/{tag.token}")
        move = page.get_by_role("button", name="Move here: Drawer")
        expect(move).to_be_visible()
        _check(page)
        move.click()
        expect(page.get_by_test_id("moved-here")).to_contain_text(thing.name)
    _check(page)
    assert set(Placement.objects.filter(location=drawer).values_list("twin__name", flat=True)) == {
        "Corkscrew",
        "Scissors",
    }

    page.get_by_role("button", name="Done moving").click()
    expect(page.get_by_role("heading", name="Drawer")).to_be_visible()
    page.goto(f"{site}/t/{tags[0].token}")
    expect(page.get_by_test_id("scan-move")).to_have_count(0)

    # The cards, filtered by the kitchen (the drawer is inside it), with their labels and place.
    page.goto(f"{site}/things/?location={kitchen.public_id}")
    expect(page.get_by_test_id("card")).to_have_count(2)
    expect(page.get_by_test_id("card-label")).to_have_count(4)
    _check(page)
    page.goto(f"{site}/things/{things[0].slug}/")
    expect(page.get_by_test_id("where")).to_contain_text("Drawer")
    _check(page)
    page.goto(f"{site}/labels/")
    _check(page)
    page.goto(f"{site}/places/")
    _check(page)
    assert label is not None
