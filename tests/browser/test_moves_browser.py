# ruff: noqa: F811 (the fixtures imported from tests.moves.conftest are taken by name)
"""Moving a thing, in a real browser at phone width (Debian's Chromium through Playwright, against the live server
playing both hosts: tests/moves/conftest.py): the new host's "bring a thing here" form and status page, and the old
host's confirmation; each page axe-clean, with no sideways scroll and big enough tap targets."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from moves import services
from moves.models import MoveIn, MoveOut
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll, assert_tap_targets
from tests.browser.conftest import log_in, phone
from tests.moves.conftest import make_room, no_worker, one_database_parts, roles  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.needs("moves")]


def check(page) -> None:
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)


def test_an_owner_brings_a_thing_here_and_confirms_on_the_old_host(
    browser, site, roles, one_database_parts, no_worker, alice, bob, grinder
):
    new_host = phone(browser).new_page()
    log_in(new_host, roles.b_url, bob.username)
    new_host.goto(f"{roles.b_url}/moves/")
    check(new_host)
    new_host.get_by_label("The thing's DID or address").fill(grinder.did)
    new_host.get_by_role("button", name="Ask my old host").click()
    expect(new_host.get_by_test_id("next-step")).to_be_visible()
    check(new_host)
    confirm_url = new_host.get_by_test_id("confirm-url").get_attribute("href")
    move_in = MoveIn.objects.get(owner=bob)
    assert confirm_url == move_in.confirm_url
    shown_code = new_host.get_by_test_id("pairing-code").inner_text()  # what the owner reads on the new host

    old_host = phone(browser).new_page()
    log_in(old_host, roles.b_url, alice.username)  # one server: the old host's pages answer on either name
    old_host.goto(confirm_url)
    expect(old_host.get_by_test_id("destination-host")).to_have_text(roles.b_url.split("//")[1])
    expect(old_host.get_by_test_id("what-moves")).to_contain_text("its readings")
    check(old_host)
    old_host.get_by_label("Pairing code from your new host").fill(shown_code.lower().replace("-", " "))
    old_host.get_by_test_id("confirm-move").click()
    expect(old_host.get_by_test_id("move-under-way")).to_be_visible()
    check(old_host)
    assert MoveOut.objects.get(remote_id=move_in.public_id).state == MoveOut.State.CONFIRMED

    make_room(grinder)  # one database: the old host's copy takes another slug before the package arrives
    services.moves_resume()  # the push (no worker in this test: the resume job takes each step)
    services.moves_resume()  # the arrival, and the old host lets go
    new_host.reload()
    expect(new_host.get_by_test_id("moved-here")).to_contain_text(grinder.name)
    check(new_host)
    old_host.reload()
    expect(old_host.get_by_test_id("moved-away")).to_be_visible()
