"""The rescuer's view in a real browser at phone size: the granted readings, live (a new reading of a granted kind
appears without a reload, one of another kind does not), and the view ends when the guardian ends the link.

Served by uvicorn in a thread (tests/asgi_thread.py): HTTP and WebSockets from this process, so the server sees
the test database. Not Daphne: its Twisted reactor starts once per process and test_live_browser.py owns it.
Readings are posted to the REST API over HTTP, as a device would; the write, commit and push all happen in the
server (the test thread runs Playwright's event loop, where async_to_sync cannot run).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from rest_framework.authtoken.models import Token

from credentials import emergency
from tests.asgi_thread import asgi_in_thread
from tests.browser.conftest import log_in, phone
from twins import services

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def emergency_server() -> Iterator[str]:
    from config.asgi import application

    with asgi_in_thread(application, lifespan="off", ws="websockets-sansio") as url:
        yield url


@pytest.fixture
def site(emergency_server, transactional_db) -> str:
    return emergency_server


def post(site: str, owner, path: str, payload: dict | None = None) -> int:
    token = Token.objects.get_or_create(user=owner)[0].key
    request = urllib.request.Request(
        f"{site}{path}",
        data=json.dumps(payload or {}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_the_rescuers_phone_shows_granted_readings_live_and_only_those(page: Page, browser, site: str, alice):
    watch = services.twin_create(owner=alice, name="Dad's watch", reading_kind="glucose", reading_unit="mmol/L")
    services.reading_add(twin=watch, value=5.4)
    services.reading_add(twin=watch, value=47.2631, kind="location", unit="lat")
    grant, token = emergency.emergency_grant_create(
        guardian=alice, recipient="Mountain rescue", twins=[watch], kinds=["location", "glucose"], hours=2
    )

    page.goto(f"{site}/emergency/{token}")
    glucose = page.locator('[data-testid="emergency-kind"][data-kind="glucose"]')
    location = page.locator('[data-testid="emergency-kind"][data-kind="location"]')
    expect(glucose.locator("[data-latest]")).to_have_text("5.4 mmol/L")
    expect(location.locator("[data-latest]")).to_have_text("47.2631 lat")
    expect(page.locator("html")).to_have_attribute("data-emergency", "open")
    # Phone-sized: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.evaluate("window.__notReloaded = true")

    assert post(site, alice, f"/api/things/{watch.slug}/readings/", {"value": 72, "kind": "pulse", "unit": "bpm"})
    assert post(site, alice, f"/api/things/{watch.slug}/readings/", {"value": 3.9})
    expect(glucose.locator("[data-latest]")).to_have_text("3.9 mmol/L")
    expect(glucose.locator("tr[data-time]")).to_have_count(2)
    # The pulse reading was stored before the glucose one and pushed before it: it would be here by now.
    expect(page.locator("body")).not_to_contain_text("bpm")
    assert page.locator('[data-kind="pulse"]').count() == 0
    assert page.evaluate("window.__notReloaded") is True

    # The guardian, on her own phone, sees the rescuer's opening in the log and ends it in one tap.
    guardian = phone(browser).new_page()
    log_in(guardian, site, "alice")
    guardian.goto(f"{site}/emergency/")
    entry = guardian.locator(f'[data-grant="{grant.public_id}"]')
    expect(entry.get_by_test_id("access-log-entry")).to_have_count(2)  # the page and its live connection
    entry.get_by_role("button", name="End it now").click()
    expect(guardian.locator(f'[data-grant="{grant.public_id}"] [data-testid="grant-status"]')).to_contain_text("ended")

    expect(page.get_by_test_id("emergency-ended")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-emergency", "ended")
    assert page.request.get(f"{site}/emergency/{token}").status == 404
