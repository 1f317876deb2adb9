"""The import on a phone, in real Chromium: upload a CSV, read the dry run (axe-clean, no sideways scroll),
confirm, and see the result; the cards page links to it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll
from tests.browser.conftest import log_in
from tests.conftest import make_owner
from twins.models import Twin

pytestmark = [pytest.mark.browser, pytest.mark.needs("tags", "fleets")]

CSV = "name,serial,external id,colour\nDaisy,C-001,cow-1,black\nBella,C-001,cow-2,brown\n"


def test_an_owner_imports_a_csv_from_a_phone(site: str, page: Page, tmp_path):
    owner = make_owner("ivy")
    path = tmp_path / "herd.csv"
    path.write_text(CSV)

    log_in(page, site, "ivy")
    page.get_by_role("link", name="Import from a spreadsheet").click()
    expect(page.get_by_role("heading", name="Import things")).to_be_visible()
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    page.get_by_label("CSV or JSON file").set_input_files(str(path))
    page.get_by_role("button", name="Check the file").click()

    expect(page.get_by_test_id("dry-run")).to_contain_text("1 to create")
    expect(page.get_by_test_id("errors")).to_contain_text("row 3, column serial: “C-001” is also in row 2")
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    assert not Twin.objects.filter(owner=owner).exists()

    page.get_by_role("button", name="Import 1 row").click()
    expect(page.get_by_test_id("result")).to_contain_text("2 of 2 rows: 1 created", timeout=30_000)
    assert_axe_clean(page)
    assert list(Twin.objects.filter(owner=owner).values_list("name", flat=True)) == ["Daisy"]
