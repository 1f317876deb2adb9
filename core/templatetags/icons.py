"""``{% icon "name" %}``: the app's own SVG icons (static/icons/<name>.svg), inlined, instead of emoji.

Emoji need an emoji font, which many Linux desktops and headless browsers lack: they showed as empty boxes. An
inline SVG draws in ``currentColor`` with no font and no extra request. The drawing is decorative
(``aria-hidden``): the words carry the meaning, either the text next to it or the label given to the tag,
``{% icon "lock" "Locked" %}`` (shown) or ``{% icon "lock" "Locked" hidden_label=True %}`` (for screen readers).
An unknown name draws the generic "thing" box, so a stored value that no longer has an icon still renders.
"""

from __future__ import annotations

import re
from functools import cache

from django import template
from django.contrib.staticfiles import finders
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
FALLBACK = "thing"


@cache
def _svg(name: str) -> str:
    path = finders.find(f"icons/{name}.svg") if NAME.match(name) else None
    if not path:
        if name == FALLBACK:
            raise template.TemplateSyntaxError("static/icons/thing.svg is missing")
        return _svg(FALLBACK)
    with open(path, encoding="utf-8") as file:
        svg = file.read().strip()
    return svg.replace("<svg ", f'<svg class="icon icon-{name}" aria-hidden="true" focusable="false" ', 1)


@register.simple_tag
def icon(name: str, label: str = "", *, hidden_label: bool = False) -> SafeString:
    """The icon ``name`` as inline SVG, hidden from assistive technology, followed by ``label`` if given."""
    svg = mark_safe(_svg(str(name or FALLBACK)))  # noqa: S308 - our own static file; the name only picks it
    if not label:
        return svg
    css = "visually-hidden" if hidden_label else "icon-label"
    return format_html('{}<span class="{}">{}</span>', svg, css, label)
