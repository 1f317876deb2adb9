"""What features contribute to a twin's private page and to the cards list, registered from their ``ready()``.

The twins app renders its own sections (details, readings, journal, public page) and leaves slots for the rest:

- a **panel** is a section of the private page: a template of the feature's, the context it needs (computed by
  the feature for the signed-in owner and the twin), a slot and an order within the slot;
- a **link** is an entry in a row of links (the page's header, the readings section);
- a **list annotation** is a value the cards list and the things API read on each twin (a tag count), computed in
  the list's one query.

The page works, with fewer sections, whichever features are installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Expression, QuerySet
from django.http import HttpRequest
from django.urls import reverse

# Slots of the private page (templates/twins/detail.html), top to bottom.
AFTER_JOURNAL = "after_journal"
AFTER_PUBLIC = "after_public"
# Rows of links.
HEADER = "header"
READINGS = "readings"


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    slot: str = AFTER_JOURNAL
    order: int = 100
    # context(request, twin) -> the names the template reads, merged into the page's context.
    context: Callable[[HttpRequest, Any], dict[str, Any]] = field(default=lambda request, twin: {})


@dataclass(frozen=True)
class Link:
    label: str
    url_name: str  # reversed with the twin's slug
    slot: str = HEADER
    order: int = 100


_panels: dict[str, Panel] = {}
_links: dict[tuple[str, str], Link] = {}
_annotations: dict[str, Callable[[], Expression]] = {}


def register_panel(panel: Panel) -> None:
    _panels[panel.key] = panel


def register_link(link: Link) -> None:
    _links[(link.slot, link.url_name)] = link


def register_list_annotation(name: str, expression: Callable[[], Expression]) -> None:
    """`expression()` is annotated as `name` on every twin of the cards list (twins.selectors.twin_list)."""
    _annotations[name] = expression


def page_context(request: HttpRequest, twin: Any) -> dict[str, Any]:
    """The features' part of a twin's private page: each slot's panels and links, and every panel's context."""
    context: dict[str, Any] = {}
    slots: dict[str, list[Panel]] = {}
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        slots.setdefault(panel.slot, []).append(panel)
        context.update(panel.context(request, twin))
    links: dict[str, list[dict[str, str]]] = {}
    for link in sorted(_links.values(), key=lambda item: (item.order, item.label)):
        links.setdefault(link.slot, []).append({"label": link.label, "url": reverse(link.url_name, args=[twin.slug])})
    context["panels"] = {slot: [panel.template for panel in panels] for slot, panels in slots.items()}
    context["feature_links"] = links
    return context


def annotate_list(qs: QuerySet) -> QuerySet:
    if not _annotations:
        return qs
    return qs.annotate(**{name: expression() for name, expression in _annotations.items()})
