"""Acting on many things from the cards page, at phone and desktop size: tick some, or select all matching, choose
an action, confirm, and watch the job's progress bar finish while the real task worker (`db_worker`) runs it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from bulk.models import BulkJob
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll, assert_tap_targets, tap_target_offenders
from tests.browser.conftest import PHONE, log_in
from tests.bulk.conftest import make_things
from tests.conftest import make_owner
from twins.models import Twin

pytestmark = pytest.mark.browser

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
DESKTOP = {**PHONE, "viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1, "is_mobile": False}
DESKTOP.pop("user_agent")


def _check(page: Page, width: int) -> None:
    assert_axe_clean(page)
    assert_tap_targets(page)
    assert_no_horizontal_scroll(page, width=width)


def _check_cards(page: Page, width: int) -> None:
    """The cards page: ours (the bar, the cards' checkboxes) fully; the filter form is the cards page's own
    (being reworked alongside: its "More filters" summary is held to its own tests)."""
    assert_axe_clean(page)
    offenders = [item for item in tap_target_offenders(page) if "more-filters" not in item]
    assert not offenders, "\n".join(offenders)
    assert_no_horizontal_scroll(page, width=width)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_select_many_act_and_watch_the_progress_bar_finish(site: str, browser, settings, size: str):
    settings.TASKS = DB_TASKS
    settings.BULK_INLINE_MAX = 5
    dora = make_owner("dora")
    make_things(dora, 8)
    options = PHONE if size == "phone" else DESKTOP
    width = options["viewport"]["width"]
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    try:
        _walk(context.new_page(), site, width)
    finally:
        context.close()  # no page left polling the live server while the test database is emptied


def _walk(page: Page, site: str, width: int) -> None:
    log_in(page, site, "dora")

    # Ticking things counts them; "select all" takes every matching thing instead.
    bar = page.get_by_test_id("bulk-bar")
    expect(bar).to_be_visible()
    # The page does not count: the bar fetches the number (/bulk/count) once the page is shown.
    expect(page.get_by_test_id("bulk-matching")).to_have_text("8")
    expect(bar.locator("label", has=page.get_by_test_id("bulk-all"))).to_have_text("Select all 8 of your things")
    boxes = page.get_by_test_id("card-select")
    expect(boxes).to_have_count(8)
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(page.get_by_test_id("bulk-count")).to_have_text("2 selected")
    _check_cards(page, width)

    # Two ticked things, a few enough to be done at once: the result page straight away.
    page.get_by_test_id("bulk-action").select_option(label="Mark lost")
    page.get_by_test_id("bulk-continue").click()
    expect(page.get_by_test_id("bulk-question")).to_contain_text("Mark 2 things lost?")
    _check(page, width)
    page.get_by_label("Reward (optional)").fill("Coffee on me")
    page.get_by_test_id("bulk-go").click()
    expect(page.get_by_test_id("bulk-status")).to_have_text("Done")
    expect(page.get_by_test_id("bulk-done-list").get_by_role("listitem")).to_have_count(2)
    assert Twin.objects.filter(lost=True, lost_reward="Coffee on me").count() == 2
    _check(page, width)

    # All eight: more than runs at once, so the worker does it while the page shows the bar.
    page.get_by_role("link", name="Back to your things").click()
    page.get_by_test_id("bulk-all").check()
    expect(page.get_by_test_id("bulk-count")).to_have_text("All 8 selected")
    page.get_by_test_id("bulk-action").select_option(label="Set an attribute")
    page.get_by_test_id("bulk-continue").click()
    expect(page.get_by_test_id("bulk-question")).to_contain_text("Set this attribute on 8 things?")
    page.get_by_label("Attribute").fill("floor")
    page.get_by_label("Value").fill("3")
    page.get_by_test_id("bulk-go").click()
    expect(page.get_by_test_id("bulk-status")).to_have_text("Queued")
    progress = page.get_by_test_id("bulk-progress")
    expect(progress).to_have_attribute("value", "0")
    expect(progress).to_have_attribute("max", "8")
    expect(page.get_by_test_id("bulk-cancel")).to_be_visible()
    _check(page, width)
    assert Twin.objects.filter(attributes__floor="3").count() == 0

    # The real worker, in this thread (it wants the main thread for its signals); the page polls meanwhile.
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    expect(page.get_by_test_id("bulk-status")).to_have_text("Done", timeout=15_000)
    expect(page.get_by_test_id("bulk-progress")).to_have_attribute("value", "8")
    expect(page.get_by_test_id("bulk-done-list").get_by_role("listitem")).to_have_count(8)
    expect(page.get_by_test_id("bulk-cancel")).to_have_count(0)
    _check(page, width)
    assert Twin.objects.filter(attributes__floor="3").count() == 8
    assert list(BulkJob.objects.order_by("pk").values_list("status", flat=True)) == ["done", "done"]

    # Archive them all, then think better of it before the worker comes round: nothing is archived.
    page.get_by_role("link", name="Back to your things").click()
    page.get_by_test_id("bulk-all").check()
    page.get_by_test_id("bulk-action").select_option(label="Archive")
    page.get_by_test_id("bulk-continue").click()
    expect(page.get_by_test_id("bulk-question")).to_contain_text("Archive 8 things?")
    page.get_by_test_id("bulk-go").click()
    expect(page.get_by_test_id("bulk-status")).to_have_text("Queued")
    page.get_by_test_id("bulk-cancel").click()
    expect(page.get_by_test_id("bulk-status")).to_have_text("Cancelled")
    expect(page.get_by_test_id("bulk-untouched")).to_have_text("Cancelled: 8 things left untouched.")
    _check(page, width)
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    assert not Twin.objects.filter(archived_at__isnull=False).exists()
    page.goto("about:blank")
