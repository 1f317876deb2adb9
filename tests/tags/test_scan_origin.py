"""The finder's message form without a per-visitor CSRF token: a cross-site POST is still refused, by what the
browser says of the request's origin (Sec-Fetch-Site, else Origin, else Referer). docs/security.md explains it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from owners.models import Notification

pytestmark = pytest.mark.django_db

MESSAGE = {"message": "Found it at the station"}


@pytest.fixture
def browser() -> Client:
    # Enforcing, like a real browser's request: the test client otherwise skips CSRF checks.
    return Client(enforce_csrf_checks=True)


def _post(client: Client, tag, **headers: str):
    return client.post(reverse("tag-message", args=[tag.token]), MESSAGE, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://testserver"},  # a browser that sends Origin but not Sec-Fetch-Site
        {"Referer": "http://testserver/t/anything"},  # one that sends only a Referer
    ],
    ids=["fetch-metadata", "fetch-site-only", "origin-only", "referer-only"],
)
def test_a_message_sent_from_the_finders_page_is_relayed(browser, alice, grinder_tag, headers):
    assert _post(browser, grinder_tag, **headers).status_code == 200
    assert Notification.objects.filter(owner=alice, kind="message").count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.testserver"},
        # Sec-Fetch-Site decides when present, even if a forged-looking Origin matches.
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a data: URL
        {"Referer": "https://evil.example/page"},
        {},  # says nothing of where it came from
    ],
    ids=["cross-site", "same-site", "cross-own-origin", "foreign-origin", "null-origin", "foreign-referer", "none"],
)
def test_a_cross_site_post_is_refused_with_words_and_nothing_is_sent(browser, alice, grinder_tag, headers):
    response = _post(browser, grinder_tag, **headers)
    assert response.status_code == 403
    assert "Reload the page and send it again" in response.content.decode()
    assert not Notification.objects.filter(kind="message").exists()


def test_the_refusal_spends_no_message_budget(browser, settings, alice, grinder_tag):
    settings.RATE_MESSAGE_PER_CLIENT = "1/60"
    for _ in range(3):
        assert _post(browser, grinder_tag, Origin="https://evil.example").status_code == 403
    assert _post(browser, grinder_tag, Origin="http://testserver").status_code == 200


def test_a_trusted_origin_is_accepted(browser, settings, alice, grinder_tag):
    settings.CSRF_TRUSTED_ORIGINS = ["https://things.example.org"]
    assert _post(browser, grinder_tag, Origin="https://things.example.org").status_code == 200


def test_the_site_url_origin_is_accepted_behind_a_proxy(browser, settings, alice, grinder_tag):
    # TLS ends at the proxy: the request reaches Django as http, the browser's Origin is the public https one.
    settings.SITE_URL = "https://testserver"
    assert _post(browser, grinder_tag, Origin="https://testserver").status_code == 200
