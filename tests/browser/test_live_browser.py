"""Live pages in a real browser: a reading stored elsewhere appears on the owner's open private page, no reload.

pytest-django's live_server is WSGI (no WebSockets), so these tests serve config.asgi.application through
Daphne, in a thread of the test process. In-process rather than a subprocess because the server must see the
test database: on SQLite that is an in-memory database (shared cache) that only this process can open, and
on PostgreSQL the same threads simply connect to the test database. Daphne's Twisted reactor cannot be
restarted, so the server starts once per session and stops at its end.

The reading is posted to the REST API over HTTP, as an integration would: the write, its commit and the
push all happen in the server, as in production (the test thread runs Playwright's event loop, where
async_to_sync cannot run).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import Page, expect
from rest_framework.authtoken.models import Token

from tests.browser.conftest import log_in
from twins import services
from twins.models import Reading

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def asgi_url() -> Iterator[str]:
    """Base URL of Daphne serving the ASGI application (HTTP and WebSockets) from this process."""
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server
    from twisted.internet import reactor

    from config.asgi import application

    # The server's worker threads open their own connections. Closing each after its request or consumer call
    # (as CONN_MAX_AGE=0 does) leaves none behind to block PostgreSQL's DROP DATABASE of the test database.
    database = connections.settings["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    server = Server(
        application=application,
        endpoints=build_endpoint_description_strings(host="127.0.0.1", port=0),
        signal_handlers=False,
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as exc:  # reported to the waiting fixture below
            errors.append(exc)

    thread = threading.Thread(target=run, name="daphne", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.listening_addresses:
        if errors or not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"Daphne did not start: {errors!r}")
        time.sleep(0.05)
    host, port = server.listening_addresses[0]
    yield f"http://{host}:{port}"
    reactor.callFromThread(reactor.stop)
    thread.join(timeout=10)
    database["CONN_MAX_AGE"] = max_age


@pytest.fixture
def asgi_site(asgi_url, transactional_db) -> str:
    """The Daphne URL for one test. Transactional: the server's threads must see what the test writes."""
    return asgi_url


def post_reading(site: str, owner, slug: str, payload: dict) -> dict:
    token = Token.objects.get_or_create(user=owner)[0].key
    request = urllib.request.Request(
        f"{site}/api/things/{slug}/readings/",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)


def test_a_reading_posted_elsewhere_appears_on_the_open_private_page(page: Page, asgi_site: str, alice):
    twin = services.twin_create(owner=alice, name="Coffee grinder", reading_kind="grind", reading_unit="setting")
    Reading.objects.create(twin=twin, kind="grind", unit="setting", value=11, time=timezone.now())
    log_in(page, asgi_site, "alice")
    page.goto(f"{asgi_site}/things/{twin.slug}/")
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    page.evaluate("window.__notReloaded = true")
    points_before = len(json.loads(page.locator("#chart-data").text_content()))

    post_reading(asgi_site, alice, twin.slug, {"value": 13.25})

    first_row = page.get_by_test_id("readings").locator("tr[data-time]").first
    expect(first_row).to_contain_text("13.25 setting")
    points = json.loads(page.locator("#chart-data").text_content())
    assert len(points) == points_before + 1 and points[-1]["v"] == 13.25
    assert page.locator("#chart path").count() == 1
    assert page.evaluate("window.__notReloaded") is True


def test_the_cards_page_shows_the_new_latest_value_and_the_first_chart_appears(page: Page, asgi_site: str, alice):
    twin = services.twin_create(owner=alice, name="Kettle", reading_kind="temperature", reading_unit="°C")
    log_in(page, asgi_site, "alice")
    card = page.get_by_test_id("card").filter(has_text="Kettle")
    expect(card).to_contain_text("No readings yet")
    expect(page.locator("html")).to_have_attribute("data-live", "open")

    post_reading(asgi_site, alice, twin.slug, {"value": 96})
    expect(card).to_contain_text("96 °C · just now")

    # A private page with no readings yet grows its table and chart from the first push.
    scale = services.twin_create(owner=alice, name="Scale", reading_kind="weight", reading_unit="kg")
    page.goto(f"{asgi_site}/things/{scale.slug}/")
    expect(page.get_by_text("No readings yet.")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    post_reading(asgi_site, alice, scale.slug, {"value": 71.5})
    expect(page.get_by_test_id("readings")).to_contain_text("71.5 kg")
    expect(page.locator("#chart path")).to_have_count(1)
