"""The navigation's links are reversed once per URLconf and script prefix, and stay right for each."""

from __future__ import annotations

from django.test import RequestFactory
from django.urls import reverse, set_script_prefix

from core.nav import NavLink, nav, register_nav


def _urls(place: str) -> list[str]:
    return [link["url"] for link in nav(RequestFactory().get("/"))["nav"][place]]


def test_links_follow_the_script_prefix_they_are_served_under():
    plain = _urls("owner")
    assert plain and all(url.startswith("/") for url in plain)
    set_script_prefix("/things-app/")
    try:
        prefixed = _urls("owner")
    finally:
        set_script_prefix("/")
    assert prefixed == ["/things-app" + url for url in plain]
    assert _urls("owner") == plain


def test_a_link_registered_later_appears_in_the_next_answer():
    before = _urls("profile")
    link = NavLink(label="Zz test link", url_name="healthz", place="profile", order=10_000)
    register_nav(link)
    try:
        assert _urls("profile") == [*before, reverse("healthz")]
    finally:
        from core import nav as module

        del module._links[(link.place, link.url_name)]
        module._reversed.clear()
