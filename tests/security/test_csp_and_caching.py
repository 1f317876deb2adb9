"""Content-Security-Policy on every page, no inline script anywhere, signed-in pages kept out of caches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


def test_every_page_sends_a_policy_that_allows_no_inline_script(client):
    policy = _policy(client.get(reverse("login")))
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


def test_the_public_tag_page_sends_the_policy(anon_client, grinder_tag):
    for _ in range(2):  # rendered, then from the page cache
        assert "script-src 'self'" in anon_client.get(grinder_tag.get_absolute_url())["Content-Security-Policy"]


def _effective_templates() -> set[Path]:
    """Every template the site renders: the project's and the apps' own, each name as the loader resolves it."""
    from django.apps import apps
    from django.template.loader import get_template

    folders = [TEMPLATES] + [
        Path(app.path) / "templates" for app in apps.get_app_configs() if "site-packages" not in app.path
    ]
    names = {str(path.relative_to(folder)) for folder in folders if folder.is_dir() for path in folder.rglob("*.html")}
    return {Path(get_template(name).origin.name) for name in names}


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in _effective_templates():
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text):
            offenders.append(str(path))
    assert offenders == []


def test_signed_in_pages_are_private_and_not_stored(alice):
    owner = client_for(alice)
    for url in (reverse("things"), reverse("profile"), reverse("inbox")):
        cache_control = owner.get(url)["Cache-Control"]
        assert "private" in cache_control and "no-store" in cache_control, url


def test_anonymous_pages_carry_no_private_cache_header(client):
    assert "no-store" not in client.get(reverse("home")).get("Cache-Control", "")


def test_api_token_is_shown_once_then_only_its_beginning(alice):
    owner = client_for(alice)
    response = owner.post(reverse("api-token"))
    key = Token.objects.get(user=alice).key
    assert response.status_code == 200 and key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    page = owner.get(reverse("profile")).content.decode()
    assert key not in page
    assert key[:6] in page and "Replace token" in page
