"""The cards page's links to import things and to export the ones it shows (its filters carried over)."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from twins import listing


def links_section(request: Any, filters: Any) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("after", None)
    # Without the request: the two links need nothing of it, and with it every context processor ran again.
    return render_to_string("imports/_cards_links.html", {"query": query.urlencode()})


def connect() -> None:
    listing.register_section("45-imports.links", links_section)  # above the selection bar ("50-bulk")
