"""The support section of a twin's private page: "Get help from <party>" for each party the thing (or its owner,
about it) is connected to, and the owner's cases about it; and the Support link on the profile page (every case
of the owner's, and the queues of their organisations)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.nav import PROFILE, NavLink, register_nav
from support import selectors, services
from twins import panels
from twins.models import Twin


def panel_context(request: HttpRequest, twin: Twin) -> dict[str, Any]:
    # Shown to the owner alone (panels' default need): the viewer is the thing's owner.
    return {
        "support_parties": services.help_connections(twin=twin),
        "support_cases": list(selectors.cases_of_twin(viewer=twin.owner, twin=twin)[:5]),
    }


def connect() -> None:
    register_nav(NavLink("Support", "support-cases", PROFILE))
    panels.register_panel(panels.Panel("support", "support/_panel.html", panels.AFTER_PUBLIC, 30, panel_context))
    panels.register_link(panels.Link("Get help", "thing-support", panels.HEADER, 60))
