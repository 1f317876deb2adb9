"""The selection bar above the cards (twins.listing): the form the cards' checkboxes belong to, how many are
selected, "select all N matching" (the page's filters instead of the ticked things), and the action menu.

The page does not count the matching things: the bar asks only whether any of the viewer's own things match (one
LIMIT 1 query, which meets the first match early), and bulk.js fetches the number from `bulk-count` (matching())
after the page is shown. Counting took up to a third of a big owner's page (a COUNT over up to 10,000 matches on
every page: 36 ms for a common search word on a loaded machine); it now runs beside the page, not in it. Without
JavaScript the bar reads "Select all matching", and the confirmation step counts exactly before anything is done."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse

from bulk.actions import actions
from bulk.selection import Selection
from twins import listing, selectors

FORM_ID = "bulk-selection"
COUNT_CAP = 10_000
# A search box's matches are counted only to here ("1,000+"): a common word's count walks every match of every
# field the box searches (names, serials, attribute values, notes, groups), which alone took an owner of 100,000
# things past the page's 50 ms; the filters' count is an index range and stays at COUNT_CAP.
SEARCH_COUNT_CAP = 1_000


def matching(viewer: Any, filters: selectors.TwinFilters) -> tuple[int, str]:
    """How many of the viewer's own things `filters` match, counted up to a cap (COUNT_CAP, or SEARCH_COUNT_CAP
    with a search), and the bar's words for it ("2,143", "10,000+" past the cap). Raises ValidationError for a
    filter value the list refuses.

    Counted up to a cap: an owner with 100,000 things never waits for a full count; the confirmation step counts
    exactly, and "select all" acts on exactly what the filters match however far this counted. twin_count: without
    the list's tag-count join (only the number is needed); the sort does not change a count."""
    cap = SEARCH_COUNT_CAP if filters.query else COUNT_CAP
    found = selectors.twin_count(viewer=viewer, filters=filters, at_most=cap + 1)
    return found, f"{cap:,}+" if found > cap else f"{found:,}"


def selection_bar(request: Any, filters: Any) -> str:
    """Shown to an owner with things of their own matching the page's filters; "" otherwise (a keeper's list of
    kept things, a filter that matches none of yours)."""
    if not getattr(request.user, "is_authenticated", False):
        return ""
    selection = Selection.from_params(request.GET)
    try:
        # The page's own filters (what the cards were listed by), which the bar's query string carries whole
        # (every `attr`), so "select all" acts on exactly what the count endpoint counts.
        any_mine = selectors.twin_count(viewer=request.user, filters=filters, at_most=1)
    except ValidationError:
        return ""
    if not any_mine:
        return ""
    count_url = reverse("bulk-count") + (f"?{selection.query}" if selection.query else "")
    context = {
        "form_id": FORM_ID,
        "count_url": count_url,
        "query": selection.query,
        "filtered": bool(selection.query),
        "actions": actions(),
    }
    return render_to_string("bulk/_section.html", context, request=request)


def connect() -> None:
    listing.register_section("50-bulk", selection_bar)
    listing.register_selection_form(FORM_ID)
