"""An owner whose keys are self-held confirms a move in a real browser at phone width (moves.self_held): the
confirmation page offers the download of the move's entries, the owner signs them with the real ``python -m
ssi.sign`` and pastes its output; the page is axe-clean, with no sideways scroll and big enough tap targets."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from moves import services
from moves.models import MoveOut
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll, assert_tap_targets
from tests.browser.conftest import log_in, phone
from tests.moves.conftest import request_body
from tests.moves.test_self_held_move import cli_sign, self_held_keys
from twins import services as twin_services

pytestmark = [pytest.mark.browser, pytest.mark.needs("moves")]


def check(page) -> None:
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)


def test_a_self_held_owner_downloads_signs_and_pastes_the_move_entries(browser, site, settings, alice, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # nothing is pushed
    keys = self_held_keys(alice, tmp_path / "keys")
    thing = twin_services.twin_create(owner=alice, name="Lawn mower")
    move, _ = services.request_received(request_body(did=thing.did))

    page = phone(browser).new_page()
    log_in(page, site, alice.username)
    page.goto(f"{site}/moves/out/{move.public_id}/")
    expect(page.get_by_test_id("sign-offline")).to_be_visible()
    expect(page.get_by_test_id("confirm-move")).to_have_count(0)
    check(page)
    page.get_by_label("Your next key's public key").fill(keys.next_public)
    with page.expect_download() as download:
        page.get_by_test_id("download-entries").click()
    assert download.value.suggested_filename == f"move-{move.public_id}-entries.json"
    entries = json.loads(download.value.path().read_text(encoding="utf-8"))
    page.get_by_label("Signed JSON").fill(cli_sign(keys.next, entries, tmp_path))
    page.get_by_label("Pairing code from your new host").fill(move.pairing_code)
    page.get_by_test_id("upload-signed").click()
    expect(page.get_by_test_id("move-under-way")).to_be_visible()
    check(page)
    assert MoveOut.objects.get(pk=move.pk).state == MoveOut.State.CONFIRMED
