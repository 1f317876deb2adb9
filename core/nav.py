"""The site's navigation, contributed by the apps from their ``ready()``: the top bar for signed-in owners, the
top bar for visitors, and the links on the owner's profile page. A feature left out takes its links with it."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

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


def register_nav(link: NavLink) -> None:
    _links[(link.place, link.url_name)] = link


def nav(request: HttpRequest) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Context processor: `nav.owner`, `nav.visitor`, `nav.profile`, each a list of {label, url}."""
    places: dict[str, list[dict[str, str]]] = {OWNER: [], VISITOR: [], PROFILE: []}
    for link in sorted(_links.values(), key=lambda item: (item.order, item.label)):
        places.setdefault(link.place, []).append({"label": link.label, "url": reverse(link.url_name)})
    return {"nav": places}
