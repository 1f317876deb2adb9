"""A thing in an open handover cannot also be offered on its own: twins' single offer asks this guard (and a
handover refuses a thing with an open single offer: handover.services.selection_problems)."""

from __future__ import annotations

from django.utils import timezone

from handover.models import HandoverThing
from twins.models import Twin
from twins.transfer import register_offer_guard


def in_open_handover(twin: Twin) -> str | None:
    """Why `twin` cannot be offered on its own now, or None. Asked with the twin locked (twins.transfer)."""
    if HandoverThing.objects.filter(twin=twin, open=True, handover__expires_at__gt=timezone.now()).exists():
        return f"{twin.name} is in an open handover of several things. Cancel that handover first."
    return None


def connect() -> None:
    register_offer_guard(in_open_handover)
