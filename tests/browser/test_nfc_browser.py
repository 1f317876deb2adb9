"""The NFC tags page (things/<slug>/tags/nfc/) on a phone, in Debian's Chromium: it loads from the thing's page,
axe-core finds nothing on it, nothing scrolls sideways, a tag's .ndef file downloads and holds the tag's NFC URL,
and "Create keys" downloads the provisioning file. After a sale the new owner's page prompts a re-key, and is
axe-clean with the prompt too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tags import ndef, nfc
from tags.models import SunKeys
from tags.services import tag_create
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll
from tests.browser.conftest import log_in
from tests.conftest import make_owner
from twins import services as twin_services
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.browser


def test_the_nfc_page_on_a_phone_is_axe_clean_and_downloads_the_ndef_and_key_files(site: str, page: Page):
    owner = make_owner("nina")
    thing = twin_services.twin_create(owner=owner, name="Bike lock", reading_kind="battery", reading_unit="%")
    tag = tag_create(twin=thing, label="frame")

    log_in(page, site, "nina")
    page.goto(f"{site}/things/{thing.slug}/")
    page.get_by_test_id("tags-nfc").click()
    expect(page.get_by_role("heading", name="NFC tags for Bike lock")).to_be_visible()
    assert page.viewport_size["width"] <= 400  # the shared phone-sized context
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)

    with page.expect_download() as ndef_download:
        page.get_by_test_id("ndef-download").click()
    assert ndef_download.value.suggested_filename == f"thingstead-{tag.code}.ndef"
    message = Path(ndef_download.value.path()).read_bytes()
    assert ndef.message_uri(message) == tag.nfc_url

    row = page.get_by_test_id("nfc-tag")
    expect(row.get_by_role("checkbox")).to_be_checked()  # a tag without keys is offered by default
    with page.expect_download() as keys_download:
        page.get_by_role("button", name="Create keys and download the file").click()
    assert keys_download.value.suggested_filename == f"thingstead-sun-{thing.slug}.json"
    document = json.loads(Path(keys_download.value.path()).read_text())
    assert [r["code"] for r in document["tags"]] == [tag.display_code]
    assert SunKeys.objects.filter(tag=tag).exists()

    page.reload()
    expect(page.get_by_test_id("sun-state")).to_contain_text("no genuine tap yet")
    assert document["tags"][0]["key2_sdm_file_read"] not in page.content()  # shown once, in the file only
    assert_axe_clean(page)


def test_after_a_sale_the_new_owners_phone_is_prompted_to_re_key(site: str, page: Page):
    seller, buyer = make_owner("sella"), make_owner("bruno")
    thing = twin_services.twin_create(owner=seller, name="Canoe")
    tag = tag_create(twin=thing)
    nfc.sun_provision(tags=[tag])
    offer_accept(offer=offer_create(twin=thing, seller=seller, redact_kinds=[]), buyer=buyer)

    log_in(page, site, "bruno")
    page.goto(f"{site}/things/{thing.slug}/")
    prompt = page.get_by_test_id("rekey-prompt")
    expect(prompt).to_contain_text(tag.display_code)
    assert_axe_clean(page)
    prompt.get_by_test_id("rekey-link").click()
    expect(page.get_by_role("heading", name="NFC tags for Canoe")).to_be_visible()
    expect(page.get_by_test_id("rekey-prompt")).to_be_visible()
    expect(page.get_by_label("Replace keys that exist", exact=False)).to_be_checked()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    with page.expect_download() as keys_download:
        page.get_by_role("button", name="Create keys and download the file").click()
    (row,) = json.loads(Path(keys_download.value.path()).read_text())["tags"]
    assert row["current_keys"] == "replaced"
    page.reload()
    expect(page.get_by_test_id("rekey-prompt")).to_have_count(0)
    expect(page.get_by_test_id("sun-state")).to_contain_text("waiting for the chip to be programmed")
