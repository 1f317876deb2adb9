"""The finder's shortcut (tags.middleware): a stranger's plain scan of a kept page answers before the rest of the
stack, exactly as the full path would, and everything else is left to the full path."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
from django.conf import settings as django_settings
from django.test import Client

from owners.models import Notification
from tags import scan_buffer, services
from tags.history import scans_of
from tags.models import Scan
from tests.conftest import client_for
from twins.models import HistoryEntry

pytestmark = pytest.mark.django_db

SHORTCUT = "tags.middleware.FinderScanMiddleware"
PHONE = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"


@pytest.fixture
def full_path(monkeypatch):
    """Counts the requests the full path answered (its view asks tags.services.scan_open)."""
    calls = []
    real = services.scan_open

    def spy(**kwargs):
        calls.append(kwargs["token"])
        return real(**kwargs)

    monkeypatch.setattr(services, "scan_open", spy)
    return calls


def without_shortcut(settings) -> None:
    assert SHORTCUT in settings.MIDDLEWARE
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != SHORTCUT]


def test_the_shortcut_is_in_the_stack_below_the_security_headers_and_above_sessions():
    stack = django_settings.MIDDLEWARE
    position = stack.index(SHORTCUT)
    assert stack.index("django.middleware.security.SecurityMiddleware") < position
    assert stack.index("django.middleware.csp.ContentSecurityPolicyMiddleware") < position
    assert position < stack.index("django.contrib.sessions.middleware.SessionMiddleware")


def _headers(response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers.items()}


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("cookies", ["", "tz=Europe/Berlin"], ids=["no-cookie", "time-zone-cookie"])
def test_the_shortcut_answers_what_the_full_path_answers_header_by_header(
    scan_redis, settings, full_path, grinder_tag, secure, cookies
):
    settings.SECURE_HSTS_SECONDS = 31536000  # production's: HSTS on the HTTPS answer
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    url = grinder_tag.get_absolute_url()
    request = {"secure": secure, "headers": {"User-Agent": PHONE, **({"Cookie": cookies} if cookies else {})}}
    with_shortcut = Client()
    first = with_shortcut.get(url, **request)  # not kept yet: the full path renders it and keeps it
    assert first.status_code == 200 and full_path == [grinder_tag.token]
    shortcut = with_shortcut.get(url, **request)
    assert full_path == [grinder_tag.token]  # the shortcut answered: the view never ran
    without_shortcut(settings)
    full = Client().get(url, **request)  # served from the same kept page by the view
    assert full_path == [grinder_tag.token] * 2

    assert (shortcut.status_code, shortcut.content) == (full.status_code, full.content) == (200, first.content)
    assert not shortcut.cookies and not full.cookies
    ours, theirs = _headers(shortcut), _headers(full)
    # Expires is "now" (never_cache): the same second, or the next one if the clock ticked between the requests
    # (the shortcut answered first, so the full path's is the later one).
    expires = parsedate_to_datetime(theirs.pop("expires")) - parsedate_to_datetime(ours.pop("expires"))
    assert 0 <= expires.total_seconds() <= 1
    assert ours == theirs
    for name in ("content-security-policy", "x-frame-options", "referrer-policy", "vary", "cache-control"):
        assert name in ours, name
    assert ("strict-transport-security" in ours) is secure
    # Both scans the full path and the shortcut served, and the first one, are buffered alike.
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 3


def test_a_shortcut_scan_is_counted_buffered_and_flushed_like_any_other(
    scan_redis, settings, full_path, alice, grinder, grinder_tag, django_capture_on_commit_callbacks
):
    client = Client()
    for _ in range(3):
        assert client.get(grinder_tag.get_absolute_url(), headers={"User-Agent": PHONE}).status_code == 200
    assert len(full_path) == 1
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_buffer.flush_scan_buffer.call() == 3
    assert (
        list(Scan.objects.values_list("user_agent", "source", "by_owner")) == [("Android · Chrome", "link", False)] * 3
    )
    assert Notification.objects.get(owner=alice, kind="scan").count == 3
    (entry,) = HistoryEntry.objects.filter(twin=grinder, kind="scan")
    assert sorted(scan["scan"] for scan in scans_of(entry.entry)) == sorted(Scan.objects.values_list("pk", flat=True))


def test_the_owners_scan_takes_the_full_path_and_gets_the_reading_form(scan_redis, full_path, alice, grinder_tag):
    Client().get(grinder_tag.get_absolute_url())  # kept
    response = client_for(alice).get(grinder_tag.get_absolute_url())
    assert response.status_code == 200 and len(full_path) == 2
    assert "tags/owner_scan.html" in [t.name for t in response.templates]
    assert Scan.objects.filter(by_owner=True).count() == 1


def test_a_stale_session_cookie_takes_the_full_path_which_deletes_it(scan_redis, full_path, grinder_tag):
    Client().get(grinder_tag.get_absolute_url())
    client = Client()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = "gone"
    response = client.get(grinder_tag.get_absolute_url())
    assert response.status_code == 200 and len(full_path) == 2
    assert response.cookies[django_settings.SESSION_COOKIE_NAME].value == ""  # the full path's deletion


def test_a_csrf_cookie_takes_the_full_path(scan_redis, full_path, grinder_tag):
    Client().get(grinder_tag.get_absolute_url())
    client = Client()
    client.cookies[django_settings.CSRF_COOKIE_NAME] = "not-a-token"
    assert client.get(grinder_tag.get_absolute_url()).status_code == 200
    assert len(full_path) == 2


def test_a_client_over_its_budget_gets_the_full_paths_429_with_retry_after(
    scan_redis, settings, full_path, grinder_tag
):
    settings.RATE_SCAN_PER_CLIENT = "2/60"
    client = Client()
    assert [client.get(grinder_tag.get_absolute_url()).status_code for _ in range(2)] == [200, 200]
    assert len(full_path) == 1  # the first kept the page; the second was the shortcut's, and counted
    refused = client.get(grinder_tag.get_absolute_url())
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 61
    assert len(full_path) == 2 and "Too many tag lookups" in refused.content.decode()
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 2


def test_while_redis_is_down_the_full_path_shows_the_page_and_writes_the_scan(
    full_path, alice, grinder_tag, redis_down
):
    response = Client().get(grinder_tag.get_absolute_url())
    assert response.status_code == 200 and "Coffee grinder" in response.content.decode()
    assert len(full_path) == 1
    assert Scan.objects.filter(by_owner=False).count() == 1


def test_a_moved_things_kept_page_is_not_served_the_full_path_sends_the_308(
    scan_redis, full_path, grinder, grinder_tag
):
    Client().get(grinder_tag.get_absolute_url())
    grinder.moved_to = "https://things.example.net"
    grinder.save(update_fields=["moved_to"])  # drops the kept page
    response = Client().get(grinder_tag.get_absolute_url())
    assert response.status_code == 308 and response["Location"].startswith("https://things.example.net/t/")
    assert len(full_path) == 2
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 1  # the first scan only


@pytest.mark.parametrize(
    "suffix", ["?nfc=1", "?picc_data=" + "0" * 32 + "&cmac=" + "0" * 16, "?from=poster"], ids=["nfc", "sun", "other"]
)
def test_a_query_string_takes_the_full_path(scan_redis, full_path, grinder_tag, suffix):
    Client().get(grinder_tag.get_absolute_url())
    assert Client().get(grinder_tag.get_absolute_url() + suffix).status_code == 200
    assert len(full_path) == 2


def test_head_takes_the_full_path(scan_redis, full_path, grinder_tag):
    Client().get(grinder_tag.get_absolute_url())
    assert Client().head(grinder_tag.get_absolute_url()).status_code == 405  # the view's require_GET
    assert len(full_path) == 1  # refused before the view
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 1


def test_an_unknown_token_gets_the_full_paths_404(scan_redis, full_path):
    assert Client().get("/t/" + "A" * 22).status_code == 404
    assert Client().get("/t/not-a-token!").status_code == 404
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 0


def test_a_host_not_allowed_gets_the_full_paths_400(scan_redis, full_path, grinder_tag):
    Client().get(grinder_tag.get_absolute_url())
    assert Client().get(grinder_tag.get_absolute_url(), headers={"Host": "evil.example"}).status_code == 400
    assert len(full_path) == 1 and scan_redis.llen(scan_buffer.BUFFER_KEY) == 1
