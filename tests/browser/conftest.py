"""Browser tests: Debian's Chromium through Playwright, against pytest-django's live server.

Playwright cannot download its own browser here, so every test drives /usr/bin/chromium (``make test``
installs it). A missing Chromium fails the tests with a clear message rather than skipping them.

On failure, a screenshot and the HTML of every open page go to ``artifacts/browser/<test name>/``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from django.db import connection

# Playwright's sync API runs an event loop in this thread; the ORM calls made by test bodies (and by
# fixtures) must not be refused as "called from an async context".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
# A phone: the tag pages are opened from a phone camera.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
    "locale": "en-GB",
    "timezone_id": "UTC",
}


def phone(browser):
    """A browser context of its own (its own cookies: another person) at a phone's viewport."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    return context


def log_in(page, site: str, username: str) -> None:
    """Sign in through the real login form and land on the cards page."""
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your things")).to_be_visible()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests drive Debian's Chromium "
            "(run `make chromium`, or `apt-get install -y chromium`; `playwright install` cannot download here). "
            "Set CHROMIUM=/path/to/chromium to use another build.",
            pytrace=False,
        )
    args = [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, **PHONE, "accept_downloads": True}


class BrowserRequestsOneAtATime:
    """The live server's app, for in-memory SQLite: the browser's requests run one at a time.

    pytest-django's live server hands every request thread the test thread's one in-memory SQLite connection. Two
    requests at once on one connection break each other: two pages of a test (a seller's and a buyer's) loading their
    users with the same SQL shared one prepared statement, and one got both rows ("get() returned more than one
    Owner", a 500: CI's SQLite pass, session 10's stop); before that, "bad parameter or other API misuse". So the
    requests Chromium sends take turns, their response bodies read in their turn (a streamed download touches the
    database too). Requests from anyone else are not held: the app calling this same server from inside a browser's
    request (the moves tests play both hosts on it) must not wait for the turn its caller holds. WebSocket upgrades
    are answered 404 here without Django: this WSGI server cannot serve them, and a live page retrying its socket
    would otherwise reach the database in the background while the test goes on."""

    def __init__(self, app) -> None:
        self.app = app
        self.turn = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/ws/"):
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        if "Chrome/" not in environ.get("HTTP_USER_AGENT", ""):
            return self.app(environ, start_response)
        with self.turn:
            response = self.app(environ, start_response)
            try:
                body = b"".join(response)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()
        return [body]


@pytest.fixture
def site(live_server, transactional_db) -> str:
    """The live server's base URL. Transactional: the server thread must see what the test writes."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        server = live_server.thread.httpd
        if not isinstance(server.get_app(), BrowserRequestsOneAtATime):
            server.set_app(BrowserRequestsOneAtATime(server.get_app()))
    return live_server.url


@pytest.fixture(autouse=True)
def _close_contexts_after_each_test(request: pytest.FixtureRequest):
    """Close the browser contexts a test opened itself (with :func:`phone`; the browser lives for the session).
    An open page of a finished test goes on talking to the live server, which lives for the session too (a live
    page's WebSocket reconnecting): on SQLite that request shares the server's one in-memory connection with the
    next test's requests, and SQLite refused one of them ("bad parameter or other API misuse": CI, session 10).
    Contexts that outlive a test by design (a module's shared context) were there before it and stay. Screenshots
    of a failure are taken before this runs."""
    browser = request.getfixturevalue("browser") if "browser" in request.fixturenames else None
    before = set(browser.contexts) if browser is not None else set()
    yield
    if browser is None:
        return
    for context in [context for context in browser.contexts if context not in before]:
        try:
            context.close()
        except Exception:  # already closed by its own fixture, or by the browser
            pass


@pytest.fixture(autouse=True)
def _default_timeouts(request: pytest.FixtureRequest) -> None:
    if "context" in request.fixturenames:
        context = request.getfixturevalue("context")
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(15_000)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150] or "test"


def _save_pages(item: pytest.Item) -> list[Path]:
    """Screenshot and HTML of every page of every context of the test's browser."""
    browser = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if browser is None:
        return []
    folder = ARTIFACTS / _safe_name(item.name)
    saved: list[Path] = []
    for c, context in enumerate(browser.contexts):
        for p, page in enumerate(context.pages):
            if page.is_closed():
                continue
            stem = folder / f"context{c}-page{p}"
            folder.mkdir(parents=True, exist_ok=True)
            try:
                page.screenshot(path=f"{stem}.png", full_page=True, timeout=5_000)
                saved.append(Path(f"{stem}.png"))
            except Exception as exc:  # a crashed page still gets its HTML saved
                Path(f"{stem}.screenshot-error.txt").write_text(repr(exc))
            try:
                Path(f"{stem}.html").write_text(f"<!-- {page.url} -->\n{page.content()}")
                saved.append(Path(f"{stem}.html"))
            except Exception as exc:
                Path(f"{stem}.html-error.txt").write_text(repr(exc))
    return saved


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    # "call": the pages are still open (fixtures are torn down after this report).
    if report.when == "call" and report.failed:
        try:
            saved = _save_pages(item)
        except Exception as exc:  # never hide the test's own failure
            report.sections.append(("browser artifacts", f"could not save pages: {exc!r}"))
        else:
            if saved:
                report.sections.append(("browser artifacts", "\n".join(str(path) for path in saved)))
