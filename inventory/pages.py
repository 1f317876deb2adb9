"""The inventory's parts of other pages: the thing page's "where and labels" section and the navigation links."""

from __future__ import annotations

from django.http import HttpRequest

from core.nav import PROFILE, NavLink, register_nav
from inventory import labels, locations
from twins import panels
from twins.models import Twin


def _thing_panel_context(request: HttpRequest, twin: Twin) -> dict:
    return {**locations.panel_context(request, twin), **labels.panel_context(request, twin)}


def connect() -> None:
    panels.register_panel(
        panels.Panel(
            key="inventory.where",
            template="inventory/_panel_where.html",
            slot=panels.AFTER_DETAILS,
            order=10,
            context=_thing_panel_context,
        )
    )
    register_nav(NavLink(label="Places", url_name="inventory-locations", place=PROFILE, order=40))
    register_nav(NavLink(label="Labels", url_name="inventory-labels", place=PROFILE, order=41))
