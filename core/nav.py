"""The site's navigation, contributed by the apps from their ``ready()``: the top bar for signed-in owners, the
top bar for visitors, and the links on the owner's profile page. A feature left out takes its links with it."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse

OWNER = "owner"  # the top bar when signed in, after "Things"
VISITOR = "visitor"  # the top bar when signed out, before "Log in"
PROFILE = "profile"  # the profile page's row of links


@dataclass(frozen=True)
class NavLink:
    label: str
    url_name: str
    place: str
    order: int = 100


_links: dict[tuple[str, str], NavLink] = {}
# The links are the same for every request of one URLconf and script prefix: reversed once for each (a page that
# renders sections with its request runs this processor once per section).
_reversed: dict[tuple[object, str, int], list[tuple[str, str, str]]] = {}


def register_nav(link: NavLink) -> None:
    _links[(link.place, link.url_name)] = link
    _reversed.clear()


def _links_reversed() -> list[tuple[str, str, str]]:
    key = (get_urlconf(), get_script_prefix(), len(_links))
    found = _reversed.get(key)
    if found is None:
        ordered = sorted(_links.values(), key=lambda item: (item.order, item.label))
        found = _reversed[key] = [(link.place, link.label, reverse(link.url_name)) for link in ordered]
    return found


def nav(request: HttpRequest) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Context processor: `nav.owner`, `nav.visitor`, `nav.profile`, each a list of {label, url}."""
    places: dict[str, list[dict[str, str]]] = {OWNER: [], VISITOR: [], PROFILE: []}
    for place, label, url in _links_reversed():
        places.setdefault(place, []).append({"label": label, "url": url})
    return {"nav": places}
