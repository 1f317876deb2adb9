"""Upkeep on a phone: the owner's thing page shows the warranty about to end, the maintenance due and the receipt;
axe-core finds nothing on it; "Done today" moves the due date and logs the journal entry; the receipt downloads
under its sanitised name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll, tap_target_offenders
from tests.browser.conftest import log_in
from tests.conftest import make_owner
from twins import services as twin_services
from upkeep import attachments, maintenance, warranty
from upkeep.demo import receipt_pdf

pytestmark = pytest.mark.browser


def test_owner_sees_upkeep_on_a_phone_marks_maintenance_done_and_downloads_the_receipt(site: str, page: Page):
    owner = make_owner("uma")
    thing = twin_services.twin_create(owner=owner, name="Espresso machine", icon="coffee")
    today = timezone.localdate()
    warranty.purchase_set(
        twin=thing, price="499.00", currency="EUR", bought_from="Shop", warranty_ends=today + timedelta(days=9)
    )
    schedule = maintenance.schedule_create(twin=thing, name="Descale", every=3, unit="months", next_due=today)
    attachments.attachment_add(
        twin=thing, upload=SimpleUploadedFile("Kassenbon 03/2026.pdf", receipt_pdf("499.00 EUR")), title="Receipt"
    )

    log_in(page, site, "uma")
    page.goto(f"{site}/things/{thing.slug}/")
    panel = page.get_by_test_id("upkeep-purchase")
    expect(panel.get_by_test_id("warranty-soon")).to_have_text("(9 days left)")
    expect(page.get_by_test_id("upkeep-maintenance").get_by_text("Due")).to_be_visible()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    # Upkeep's own controls (the rest of the page is other features' to hold to this).
    small = [target for target in tap_target_offenders(page) if "upkeep" in target]
    assert not small, "upkeep tap targets under 40 x 40 CSS px:\n" + "\n".join(small)

    with page.expect_download() as download_info:
        panel.get_by_role("link", name="Receipt").click()
    assert download_info.value.suggested_filename == "2026.pdf"

    page.get_by_role("button", name="Mark Descale done today").click()
    expect(page.get_by_text("Descale: done").first).to_be_visible()
    schedule.refresh_from_db()
    assert schedule.last_done == today and schedule.next_due > today

    # The maintenance page: add a schedule from the phone.
    page.get_by_role("link", name="Add or change").click()
    expect(page.get_by_role("heading", name="Maintenance of Espresso machine")).to_be_visible()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    page.get_by_label("Name").fill("Replace the water filter")
    page.get_by_label("Every").fill("2")
    page.get_by_label("Unit").select_option("months")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("Replace the water filter")).to_be_visible()
    assert maintenance.schedule_list(twin=thing).filter(name="Replace the water filter", every=2).exists()
