"""Icons are the app's own SVGs (static/icons through ``{% icon %}``), never emoji: emoji need an emoji font that
many machines lack, and showed as empty boxes (issue 14, finding 11)."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from twins import services as twin_services
from twins.models import ICONS

# Pictographs and dingbats (what a machine without an emoji font draws as boxes), and the emoji variation selector.
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")


def render(source: str, **context) -> str:
    return Template("{% load icons %}" + source).render(Context(context))


@pytest.mark.parametrize("name", sorted(ICONS))
def test_every_thing_icon_is_an_inline_svg_hidden_from_screen_readers(name):
    html = render("{% icon name %}", name=name)
    assert html.startswith("<svg ") and html.endswith("</svg>")
    assert 'aria-hidden="true"' in html and 'focusable="false"' in html
    assert f"icon-{name}" in html


def test_an_icon_with_a_label_says_it_in_words_and_a_hidden_label_is_for_screen_readers_only():
    assert render('{% icon "lock" "Locked" %}').endswith('<span class="icon-label">Locked</span>')
    assert render('{% icon "lock" "Locked" hidden_label=True %}').endswith(
        '<span class="visually-hidden">Locked</span>'
    )
    assert "&lt;b&gt;" in render("{% icon 'lock' label %}", label="<b>")


def test_an_unknown_or_hostile_name_draws_the_generic_box():
    assert "icon-thing" in render("{% icon name %}", name="rocket")
    assert "icon-thing" in render("{% icon name %}", name="../../config/settings")


def test_cards_and_thing_page_and_icon_choices_show_no_emoji(alice_client, alice):
    twin = twin_services.twin_create(owner=alice, name="Front door", icon="lock", reading_kind="opened")
    for url in ("/things/", f"/things/{twin.slug}/", "/things/new/", f"/things/{twin.slug}/edit/"):
        response = alice_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert not EMOJI.findall(page), (url, EMOJI.findall(page))
    assert "icon-lock" in alice_client.get(f"/things/{twin.slug}/").content.decode()
