"""Handover's parts of other pages: a thing's page says when the thing waits in an open handover, and the
profile page links to the seller's handovers."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from core.nav import PROFILE, NavLink, register_nav
from handover.models import Handover
from twins import panels
from twins.models import Twin


def _thing_panel_context(request: HttpRequest, twin: Twin) -> dict:
    """The open handover the thing is in, if any (one at most: a database constraint)."""
    handover = (
        Handover.objects.pending()
        .filter(things__twin=twin, things__open=True, expires_at__gt=timezone.now())
        .only("public_id", "expires_at")
        .first()
    )
    return {"handover_open": handover}


def connect() -> None:
    panels.register_panel(
        panels.Panel(
            key="handover.open",
            template="handover/_panel_open.html",
            slot=panels.AFTER_DETAILS,
            order=5,
            context=_thing_panel_context,
        )
    )
    register_nav(NavLink(label="Handovers", url_name="handovers", place=PROFILE, order=45))
