"""A new owner's pages on a 360 x 740 phone: each is axe-clean (axe-core, zero violations), never scrolls sideways,
and the owner's and finder's main pages have tap targets of at least 40 x 40 CSS px (issue 14: the phone walk).

One browser context for the whole walk; each page is its own test, on a freshly made world (the live server's
database is flushed between tests), signed in by a session cookie rather than the login form (the login and
sign-up pages are walked signed out, sign-up also with its errors showing).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page

from owners.models import Notification, Owner
from tests.browser.axe import assert_axe_clean, assert_no_horizontal_scroll, assert_tap_targets
from tests.browser.conftest import ARTIFACTS
from tests.conftest import make_owner
from twins import services as twin_services
from twins.models import Reading, Twin

pytestmark = [pytest.mark.browser, pytest.mark.needs("tags", "ingest", "credentials")]

PHONE_360 = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 7a) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
    "locale": "en-GB",
    "timezone_id": "Europe/Berlin",
}


@dataclass
class World:
    site: str
    alice: Owner
    twin: Twin
    tag: object
    source: object


@pytest.fixture(scope="module")
def walk_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**PHONE_360)
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def walk(walk_context: BrowserContext) -> Iterator[Page]:
    walk_context.clear_cookies()
    page = walk_context.new_page()
    yield page
    page.close()


@pytest.fixture
def world(site: str) -> World:
    from ingest.services import source_create
    from tags.models import Tag

    alice = make_owner("alice")
    twin = twin_services.twin_create(
        owner=alice,
        name="Kitchen coffee grinder",
        icon="coffee",
        reading_kind="grind",
        reading_unit="setting",
        model_name="Encore",
        serial="BZ-2024-000117",
    )
    start = timezone.now() - timedelta(days=40)
    Reading.objects.bulk_create(
        [
            Reading(twin=twin, kind="grind", value=10 + (i % 7), unit="setting", time=start + timedelta(hours=9 * i))
            for i in range(90)
        ]
    )
    tag = Tag.objects.create(twin=twin)
    twin_services.twin_set_lost(twin=twin, lost=True, reward="A coffee on me")
    Twin.objects.filter(pk=twin.pk).update(show_thing_name=True)
    Notification.objects.create(
        owner=alice,
        twin=twin,
        kind=Notification.Kind.MESSAGE,
        title="Found your grinder",
        body="It was on the bus, line 12. Call me.",
        sender_name="Finn",
        sender_contact="finn@example.org",
    )
    # An id with no "-" or "_": one long unbroken word (it pushed the source page to 513 px).
    source, _secret = source_create(owner=alice, name="Weather station")
    type(source).objects.filter(pk=source.pk).update(public_id="Q" * 32)
    source.refresh_from_db()
    return World(site=site, alice=alice, twin=twin, tag=tag, source=source)


def sign_in(page: Page, world: World) -> None:
    """A real session for alice, as the login form makes, set as the browser's cookie."""
    session = SessionStore()
    session[SESSION_KEY] = str(world.alice.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = world.alice.get_session_auth_hash()
    session.create()
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": world.site}])


def check(page: Page, *, taps: bool = False) -> None:
    # To look at the walk: WALK_SCREENSHOTS=1 pytest tests/browser/test_phone_walk.py (artifacts/browser/walk-*.png)
    if os.environ.get("WALK_SCREENSHOTS"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9]+", "_", page.url.split("//", 1)[-1].split("/", 1)[-1]).strip("_") or "home"
        page.screenshot(path=ARTIFACTS / f"walk-{name[:60]}.png", full_page=True)
    assert_axe_clean(page)
    assert_no_horizontal_scroll(page)
    if taps:
        assert_tap_targets(page, min_px=40)


def open_page(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response.status if response else None}"


def test_home(walk: Page, world: World):
    open_page(walk, f"{world.site}/")
    check(walk)


def test_sign_up_and_its_errors(walk: Page, world: World):
    open_page(walk, f"{world.site}/signup/")
    check(walk)
    walk.locator("#id_username").fill("alice")  # taken
    walk.locator("#id_email").fill("alice@example.org")
    walk.locator("#id_password1").fill("short")
    walk.locator("#id_password2").fill("different")
    walk.locator("form button[type=submit], form button:not([type])").last.click()
    walk.wait_for_selector("[role=alert]")
    check(walk)


def test_login(walk: Page, world: World):
    open_page(walk, f"{world.site}/login/")
    check(walk)


def test_cards(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/things/")
    check(walk, taps=True)


def test_thing_private_page(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/things/{world.twin.slug}/")
    check(walk, taps=True)


def test_readings(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/things/{world.twin.slug}/readings/")
    check(walk, taps=True)


def test_tag_page(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/things/{world.twin.slug}/tags/{world.tag.pk}/")
    check(walk, taps=True)


def test_finder_public_page(walk: Page, world: World):
    open_page(walk, f"{world.site}/t/{world.tag.token}")
    check(walk, taps=True)


def test_inbox(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/inbox/")
    check(walk)


def test_profile(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/profile/")
    check(walk)


def test_wallet(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/credentials/")
    check(walk)


def test_source_with_a_long_unbroken_id(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/sources/{world.source.public_id}/")
    check(walk)


def test_top_bar_keeps_log_out_beside_the_other_links(walk: Page, world: World):
    sign_in(walk, world)
    open_page(walk, f"{world.site}/things/")
    tops: Callable[[str], float] = lambda selector: walk.locator(selector).first.bounding_box()["y"]  # noqa: E731
    inbox = tops(".topbar nav a.inbox-link")
    log_out = tops(".topbar nav form button")
    assert abs(inbox - log_out) < 8, f"Log out wrapped onto its own line ({log_out} vs {inbox})"


def chart_texts(page: Page) -> list[str]:
    page.wait_for_selector("#chart text")
    return page.locator("#chart text").all_text_contents()


def test_readings_chart_has_values_between_min_and_max_dates_in_one_format_and_tooltips(walk: Page, world: World):
    """Issue 14, finding 9: no axis values between min and max, no tooltips, one day's two dates identical."""
    sign_in(walk, world)
    open_page(walk, f"{world.site}/")  # the first page sets the time zone cookie (static/js/tz.js)
    open_page(walk, f"{world.site}/things/{world.twin.slug}/")
    assert walk.locator("#readings").get_attribute("data-time-zone") == "Europe/Berlin"
    texts = chart_texts(walk)
    values = [float(text) for text in texts if re.fullmatch(r"-?\d+(\.\d+)?", text)]
    assert len(values) >= 4, texts  # round steps from the lowest to the highest reading, not just the two ends
    dates = [text for text in texts if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)]
    assert len(dates) >= 2 and len(set(dates)) == len(dates), texts  # the table's format, all different
    titles = walk.locator("#chart [data-point] title").all_text_contents()
    assert len(titles) == 90 and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}: \d+ setting", titles[0]), titles[:2]
    label = walk.locator("#chart").get_attribute("aria-label")
    assert "90 readings" in label and "lowest 10" in label and "highest 16" in label, label

    # Readings of one day: times on the axis, the date once.
    Reading.objects.filter(twin=world.twin).delete()
    morning = (timezone.now() - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    Reading.objects.bulk_create(
        [
            Reading(twin=world.twin, kind="grind", value=v, unit="setting", time=morning + timedelta(hours=h))
            for h, v in ((0, 12), (4, 14))
        ]
    )
    open_page(walk, f"{world.site}/things/{world.twin.slug}/")
    texts = chart_texts(walk)
    times = [text for text in texts if re.fullmatch(r"\d{2}:\d{2}", text)]
    assert len(times) >= 2 and len(set(times)) == len(times), texts
