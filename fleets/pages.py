"""Fleets' parts of other pages: the thing page's "Groups" panel and the navigation link."""

from __future__ import annotations

from django.http import HttpRequest

from core.nav import PROFILE, NavLink, register_nav
from fleets.selectors import group_tree, groups_of
from twins import panels
from twins.models import Twin


def _thing_panel_context(request: HttpRequest, twin: Twin) -> dict:
    chosen = groups_of(twin=twin)
    return {
        "fleets_groups": [
            {"group": group, "depth": depth, "chosen": group.pk in chosen}
            for group, depth in group_tree(viewer=twin.owner)
        ]
    }


def connect() -> None:
    panels.register_panel(
        panels.Panel(
            key="fleets.groups",
            template="fleets/_panel_groups.html",
            slot=panels.AFTER_DETAILS,
            order=20,
            context=_thing_panel_context,
        )
    )
    register_nav(NavLink(label="Groups", url_name="fleets-groups", place=PROFILE, order=42))
