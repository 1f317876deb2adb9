"""How firmware plugs into the twins' seams: the private page's panel and the cards' "update available" badge."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from firmware import selectors
from twins import listing, panels


def panel_context(request: HttpRequest, twin: Any) -> dict[str, Any]:
    return {"firmware": selectors.twin_status(twin)}


def card_badges(viewer: Any, twins: list[Any]) -> dict[int, list[listing.Badge]]:
    return {
        twin_id: [listing.Badge("Update available", kind="firmware-update")]
        for twin_id in selectors.updates_available([t.pk for t in twins])
    }


def connect() -> None:
    panels.register_panel(
        panels.Panel(
            key="firmware", template="firmware/_panel.html", slot=panels.AFTER_DETAILS, order=60, context=panel_context
        )
    )
    listing.register_card_badges("firmware", card_badges)
