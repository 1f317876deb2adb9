"""Moving things from a phone: open a place's "move things here" page (its printed QR), start moving, then scan
each thing's tag: the owner's scan page offers "Move here" while the move is open.

The open move lives in the owner's session (which place, until when), written only by the POST that starts it,
so a scanned QR never changes anything by being opened. It ends when the owner says so or after MOVE_MINUTES.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone

from inventory.locations import placement_of
from inventory.models import Location
from twins import panels
from twins.models import Twin

SESSION_KEY = "inventory.move"
MOVE_MINUTES = 30


def move_start(request: HttpRequest, *, location: Location) -> None:
    until = timezone.now() + timedelta(minutes=MOVE_MINUTES)
    request.session[SESSION_KEY] = {"location": location.public_id, "until": until.isoformat()}


def move_end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def move_open(request: HttpRequest) -> Location | None:
    """The place the owner is moving things into now, or None (no move, expired, or the place is gone)."""
    move = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(move, dict):
        return None
    try:
        until = datetime.fromisoformat(str(move.get("until")))
    except ValueError:
        return None
    if until <= timezone.now():
        return None
    return Location.objects.filter(public_id=str(move.get("location")), owner_id=request.user.pk).first()


def _scan_panel_context(request: HttpRequest, twin: Twin) -> dict:
    target = move_open(request)
    if target is None:
        return {"inventory_move": None}
    current = placement_of(twin)
    return {"inventory_move": {"target": target, "already": current is not None and current.pk == target.pk}}


def connect() -> None:
    panels.register_panel(
        panels.Panel(
            key="inventory.move",
            template="inventory/_scan_move.html",
            slot=panels.OWNER_SCAN,
            context=_scan_panel_context,
        )
    )
