"""SECURITY 25: every state-changing request of owners, twins, tags and ingest without a CSRF token gets 403."""

from __future__ import annotations

import importlib

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

pytestmark = pytest.mark.django_db

APPS = ("owners", "twins", "tags", "ingest")
# Signed by the sender instead (Standard Webhooks: SECURITY 29): no cookie, no CSRF.
EXEMPT = {"hook"}
# Without Django's token, checked by the browser's Origin / Sec-Fetch-Site instead (docs/security.md, "The finder's
# message form"): still walked by the refusal test below.
ORIGIN_CHECKED = {"tag-message"}
VALUES = {"int": "1", "string": "x", "slug": "x", "path": "x"}


def _sample_path(pattern: URLPattern) -> str:
    converters = pattern.pattern.converters.items()
    return reverse(
        pattern.name,
        kwargs={name: VALUES[type(c).__name__.removesuffix("Converter").lower()] for name, c in converters},
    )


def _routes() -> list[tuple[str, str]]:
    routes = []
    for app in APPS:
        for pattern in importlib.import_module(f"{app}.urls").urlpatterns:
            assert not isinstance(pattern, URLResolver), "walk nested includes too"
            if pattern.name not in EXEMPT:
                routes.append((pattern.name, _sample_path(pattern)))
    return routes


def test_the_walk_covers_every_route_of_the_four_apps():
    assert len(_routes()) > 40


@pytest.mark.parametrize("signed_in", [True, False])
def test_every_post_without_a_csrf_token_is_refused(alice, signed_in):
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(alice)
    accepted = {}
    for name, path in _routes():
        if path.startswith("/api/"):  # JSON, so the parser does not refuse it (415) before CSRF is checked
            response = client.post(path, {"name": "x"}, content_type="application/json")
        else:
            response = client.post(path, {"name": "x"})
        if response.status_code != 403:
            accepted[name] = response.status_code
    assert accepted == {}


def test_exempt_routes_are_only_the_signed_webhook():
    from django.urls import resolve

    exempt = []
    for app in APPS:
        for pattern in importlib.import_module(f"{app}.urls").urlpatterns:
            if getattr(pattern.callback, "csrf_exempt", False) and pattern.name:
                view = resolve(_sample_path(pattern)).func
                # DRF marks every APIView exempt and enforces CSRF itself for session users (tested above).
                if not hasattr(view, "cls"):
                    exempt.append(pattern.name)
    assert set(exempt) <= EXEMPT | ORIGIN_CHECKED
