"""The cards page's links to import things and to export the ones it shows (its filters carried over)."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from twins import listing


def links_section(request: Any, filters: Any) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("after", None)
    return render_to_string("imports/_cards_links.html", {"query": query.urlencode()}, request=request)


def connect() -> None:
    listing.register_section("45-imports.links", links_section)  # above the selection bar ("50-bulk")
