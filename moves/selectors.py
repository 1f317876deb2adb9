"""Reads of moves, scoped to the viewer: someone else's move is a 404, never a 403."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.http import Http404

from moves.models import MoveIn, MoveOut
from owners.models import Owner
from twins import portability

# What each part of a package is, in words for the confirmation page (a part not named here shows its name).
PART_WORDS = {
    "twin": "the thing itself: its details, photo, keys and DID log",
    "history": "its signed history",
    "readings": "its readings",
    "journal": "its journal",
    "photos": "its photos",
    "tags": "its tags (printed tags keep working: they send people to the new host)",
    "credentials": "its credentials",
    "sharing": "who you share it with, and what was sent",
    "support": "its support cases",
    "inventory": "where it is kept",
    "upkeep": "its warranty, maintenance and attachments",
    "firmware": "its firmware",
    "makers": "its maker's records",
    "ingest": "its data sources",
    "fleets": "its groups",
    "imports": "where it was imported from",
    "didcomm": "its agent's connections (peers are told the new address)",
}


def moves_in(*, viewer: Owner) -> QuerySet[MoveIn]:
    return MoveIn.objects.filter(owner=viewer).select_related("twin").order_by("-created_at")


def move_in_get(*, viewer: Owner, move_id: str) -> MoveIn:
    move = moves_in(viewer=viewer).filter(public_id=move_id).first()
    if move is None:
        raise Http404("No such move among yours.")
    return move


def moves_out_waiting(*, viewer: Owner) -> QuerySet[MoveOut]:
    """Requests to move the viewer's things elsewhere that are still open (to confirm, or on their way)."""
    return (
        MoveOut.objects.filter(twin__owner=viewer, state__in=MoveOut.OPEN)
        .select_related("twin")
        .order_by("-created_at")
    )


def _move_out_visible_to(viewer: Owner) -> Q:
    """A request is its confirmer's once confirmed, whoever holds the thing now: a thing that moved away and came
    back (A -> B -> A) brings the old request's row along to the arriving twin (twins.portability.give_way), and
    if it changed hands on the way its new owner must not open the earlier owner's move. A request nobody confirmed
    is the thing's owner's: while it is open (to confirm or refuse), and once it ended only for an owner who held
    the thing when it was asked (not someone who bought the thing since)."""
    unconfirmed = Q(confirmed_by__isnull=True, twin__owner=viewer)
    asked_while_theirs = Q(twin__owner_since__isnull=True) | Q(twin__owner_since__lte=F("created_at"))
    return Q(confirmed_by=viewer) | (unconfirmed & (Q(state__in=MoveOut.OPEN) | asked_while_theirs))


def move_out_get(*, viewer: Owner, move_id: str) -> MoveOut:
    move = MoveOut.objects.filter(_move_out_visible_to(viewer), public_id=move_id).select_related("twin").first()
    if move is None:
        raise Http404("No such move request for a thing of yours.")
    return move


def what_moves() -> list[str]:
    """What goes with a thing, in words, from the parts installed here."""
    return [PART_WORDS.get(part.name, part.name) for part in portability.parts()]
