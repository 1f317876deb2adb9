"""The selection bar above the cards (twins.listing): the form the cards' checkboxes belong to, how many are
selected, "select all N matching" (the page's filters instead of the ticked things), and the action menu."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from bulk.actions import actions
from bulk.selection import Selection
from twins import listing, selectors

FORM_ID = "bulk-selection"
COUNT_CAP = 10_000
# A search box's matches are counted only to here ("1,000+"): a common word's count walks every match of every
# field the box searches (names, serials, attribute values, notes, groups), which alone took an owner of 100,000
# things past the page's 50 ms; the filters' count is an index range and stays at COUNT_CAP.
SEARCH_COUNT_CAP = 1_000


def selection_bar(request: Any, filters: Any) -> str:
    """Shown to an owner with things matching the page's filters; "" otherwise (a keeper's list of kept things)."""
    if not getattr(request.user, "is_authenticated", False):
        return ""
    selection = Selection.from_params(request.GET)
    cap = SEARCH_COUNT_CAP if getattr(filters, "query", "") else COUNT_CAP
    try:
        # Counted up to a cap: the cards page stays cheap for an owner with 100,000 things (keyset pages, no
        # full count); the confirmation step counts exactly, once, when asked, and "select all" acts on exactly what
        # the filters match however far the bar counted.
        # twin_count: without the list's tag-count join (the bar needs only the number). The page's own filters
        # (what the cards were listed by), which the bar's query string carries whole (every `attr`), so "select
        # all" acts on exactly what was counted; the sort does not change a count.
        matching = selectors.twin_count(viewer=request.user, filters=filters, at_most=cap + 1)
    except ValidationError:
        return ""
    if not matching:
        return ""
    context = {
        "form_id": FORM_ID,
        "matching": matching,
        "matching_text": f"{cap:,}+" if matching > cap else f"{matching:,}",
        "query": selection.query,
        "filtered": bool(selection.query),
        "actions": actions(),
    }
    return render_to_string("bulk/_section.html", context, request=request)


def connect() -> None:
    listing.register_section("50-bulk", selection_bar)
    listing.register_selection_form(FORM_ID)
