"""What features contribute to a twin's private page and to the cards list, registered from their ``ready()``.

The twins app renders its own sections (details, readings, journal, public page) and leaves slots for the rest:

- a **panel** is a section of the private page: a template of the feature's, the context it needs (computed by
  the feature for the signed-in owner and the twin), a slot and an order within the slot;
- a **link** is an entry in a row of links (the page's header, the readings section);
- a **list annotation** is a value the cards list and the things API read on each twin (a tag count), computed in
  the list's one query.

The page works, with fewer sections, whichever features are installed.

Who sees a panel or a link of the private page: each declares the capability it `needs` (twins.access), or a
callable on the viewer's twins.access.Access. The default is OWNER, so a feature that says nothing shows its
section to the owner alone: a keeper or a service party sees only what a feature opened to them on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Expression, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from twins import access

# Slots of the private page (templates/twins/detail.html), top to bottom.
AFTER_DETAILS = "after_details"
AFTER_JOURNAL = "after_journal"
AFTER_PUBLIC = "after_public"
# The public page a finder sees (tags' page of a scanned tag): panels registered with register_public_panel.
PUBLIC = "public"
# The page the owner's own scan of a tag opens (tags' one-box reading form): panels for what a scan can do
# there (move the thing to the place being filled). Not part of the private page.
OWNER_SCAN = "owner_scan"
# Rows of links.
HEADER = "header"
READINGS = "readings"


# What a panel or a link needs of the viewer: a capability name (twins.access), or a test of their Access.
Needs = str | Callable[[access.Access], bool]


def allowed(needs: Needs, viewer_access: access.Access | None) -> bool:
    """Whether a viewer with `viewer_access` (None: no access at all) may see a section that `needs` this."""
    if viewer_access is None:
        return False
    if callable(needs):
        return bool(needs(viewer_access))
    return viewer_access.can(needs)


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    slot: str = AFTER_JOURNAL
    order: int = 100
    # context(request, twin) -> the names the template reads, merged into the page's context.
    context: Callable[[HttpRequest, Any], dict[str, Any]] = field(default=lambda request, twin: {})
    # Who sees it on the private page besides the owner (see the module's docstring). Owner-only by default.
    needs: Needs = access.OWNER


@dataclass(frozen=True)
class Link:
    label: str
    url_name: str  # reversed with the twin's slug
    slot: str = HEADER
    order: int = 100
    needs: Needs = access.OWNER


_panels: dict[str, Panel] = {}
_links: dict[tuple[str, str], Link] = {}
_annotations: dict[str, Callable[[], Expression]] = {}
_public_panels: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _panels[panel.key] = panel


def register_link(link: Link) -> None:
    _links[(link.slot, link.url_name)] = link


def register_list_annotation(name: str, expression: Callable[[], Expression]) -> None:
    """`expression()` is annotated as `name` on every twin of the cards list (twins.selectors.twin_list)."""
    _annotations[name] = expression


def page_context(request: HttpRequest, twin: Any) -> dict[str, Any]:
    """The features' part of a twin's private page: each slot's panels and links the viewer may see (by
    `twin.access`, set by twins.selectors.twin_get), and the context of those panels only: a panel the viewer
    may not see is not computed either."""
    viewer_access = getattr(twin, "access", None)
    context: dict[str, Any] = {}
    slots: dict[str, list[Panel]] = {}
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        if panel.slot == OWNER_SCAN or not allowed(panel.needs, viewer_access):
            continue
        slots.setdefault(panel.slot, []).append(panel)
        context.update(panel.context(request, twin))
    links: dict[str, list[dict[str, str]]] = {}
    for link in sorted(_links.values(), key=lambda item: (item.order, item.label)):
        if not allowed(link.needs, viewer_access):
            continue
        links.setdefault(link.slot, []).append({"label": link.label, "url": reverse(link.url_name, args=[twin.slug])})
    context["panels"] = {slot: [panel.template for panel in panels] for slot, panels in slots.items()}
    context["feature_links"] = links
    return context


def owner_scan_context(request: HttpRequest, twin: Any) -> dict[str, Any]:
    """The features' part of the page the owner's scan opens: `scan_panels` (templates) and their context. Only
    for the twin's owner (the caller checks)."""
    context: dict[str, Any] = {}
    templates = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        if panel.slot == OWNER_SCAN:
            context.update(panel.context(request, twin))
            templates.append(panel.template)
    context["scan_panels"] = templates
    return context


def register_public_panel(panel: Panel) -> None:
    """A section of the twin's public page (what anyone who scans it sees: a recall banner). Its context is
    called with `request` None and must show only what is public."""
    _public_panels[panel.key] = panel


def public_page_context(twin: Any) -> dict[str, Any]:
    """The features' part of a twin's public page: `public_panels` (templates) and every panel's context."""
    context: dict[str, Any] = {}
    templates = []
    for panel in sorted(_public_panels.values(), key=lambda p: (p.order, p.key)):
        context.update(panel.context(None, twin))
        templates.append(panel.template)
    context["public_panels"] = templates
    return context


# --- Printed labels: other public URLs a twin's tag labels may carry ---------------------------------------------

# key -> (label, link_of(twin) -> URL or None)
_print_links: dict[str, tuple[str, Callable[[Any], str | None]]] = {}


def register_print_link(key: str, label: str, link_of: Callable[[Any], str | None]) -> None:
    """Another public URL a twin's labels may carry instead of its tag's URL (a GS1 Digital Link): `link_of(twin)`
    returns it, or None when the twin has none."""
    _print_links[key] = (label, link_of)


def print_links(twin: Any) -> list[dict[str, str]]:
    """[{"key", "label", "url"}] of the twin's other printable links."""
    found = []
    for key, (label, link_of) in sorted(_print_links.items()):
        url = link_of(twin)
        if url:
            found.append({"key": key, "label": label, "url": url})
    return found


def annotate_list(qs: QuerySet) -> QuerySet:
    if not _annotations:
        return qs
    return qs.annotate(**{name: expression() for name, expression in _annotations.items()})
