"""The navigation's links are reversed once per URLconf and script prefix, and stay right for each."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse, set_script_prefix

from core import nav as module
from core.nav import NavLink, nav, register_nav


def _urls(place: str) -> list[str]:
    return [link["url"] for link in nav(RequestFactory().get("/"))["nav"][place]]


@pytest.fixture
def health_link():
    """A link of the core's own (the features' links are absent when the architecture test leaves them out)."""
    link = NavLink(label="Zz test link", url_name="healthz", place="profile", order=10_000)
    register_nav(link)
    yield link
    del module._links[(link.place, link.url_name)]
    module._reversed.clear()


def test_links_follow_the_script_prefix_they_are_served_under(health_link):
    plain = _urls("profile")
    assert plain[-1] == reverse("healthz")
    set_script_prefix("/things-app/")
    try:
        prefixed = _urls("profile")
    finally:
        set_script_prefix("/")
    assert prefixed == ["/things-app" + url for url in plain]
    assert _urls("profile") == plain


def test_a_link_registered_later_appears_in_the_next_answer():
    before = _urls("profile")
    link = NavLink(label="Zz later link", url_name="healthz", place="profile", order=10_001)
    register_nav(link)
    try:
        assert _urls("profile") == [*before, reverse("healthz")]
    finally:
        del module._links[(link.place, link.url_name)]
        module._reversed.clear()
