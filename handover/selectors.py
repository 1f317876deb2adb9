"""Reads of the handover pages: the seller's handovers, the selection they start from, and the buyer's view. Read
only: opening any of these pages changes nothing (the writes are handover.services)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from handover.models import Handover, HandoverThing
from handover.services import (
    MAX_THINGS,
    acceptance_document,
    buyer_keys,
    handover_check_open,
    selection_problems,
    seller_self_held,
)
from owners.models import Owner, OwnerKey
from owners.selectors import owner_keys_active
from twins.models import HistoryEntry, Twin
from twins.transfer_selectors import removal_by_kind
from twins.verification import Verification, verify_twin


def handover_list(*, viewer: Owner) -> QuerySet[Handover]:
    """The handovers the viewer made, newest first."""
    return Handover.objects.filter(seller=viewer).order_by("-created_at", "-pk")


def handover_get(*, viewer: Owner, public_id: str) -> Handover:
    """One of the viewer's own handovers; 404 for anyone else's (and for ids that do not exist)."""
    handover = Handover.objects.filter(public_id=public_id, seller=viewer).first()
    if handover is None:
        raise Http404("No such handover.")
    return handover


def handover_of_token(*, token: str) -> Handover:
    """The handover behind a link, whoever holds it (it is the buyer's capability); unknown: 404."""
    handover = Handover.objects.select_related("seller", "buyer").filter(token=token).first()
    if handover is None:
        raise Http404("No such offer.")
    return handover


def thing_name_for(item: HandoverThing, *, viewer_id: int) -> str | None:
    """The name of a handover's thing as `viewer_id` may read it: the current one while the thing is theirs; once it
    is not (sold by this handover or since), the name it had when this handover sold it, or None (not known, or it
    left the viewer otherwise). A later owner's renaming is theirs, never the seller's to read here."""
    offer = item.transfer_offer
    if offer is None:
        return item.twin.name if item.twin.owner_id == viewer_id else None
    offer.twin = item.twin  # the same thing, loaded already
    return offer.name_for(viewer_id)  # its name at the sale is set only when the sale completes


def handover_items(handover: Handover, *, viewer: Owner) -> list[HandoverThing]:
    """The handover's things in the offer's order, each with its `thing_name` for the viewer (thing_name_for) and
    whether it is `yours` (the viewer's now)."""
    items = list(
        HandoverThing.objects.filter(handover=handover).select_related("twin", "transfer_offer").order_by("position")
    )
    for item in items:
        item.yours = item.twin.owner_id == viewer.pk
        item.thing_name = thing_name_for(item, viewer_id=viewer.pk)
    return items


@dataclass(frozen=True)
class Selection:
    """The things a seller picked, as the new-handover page shows them before the offer is made."""

    twins: list[Twin]
    problems: list[str]
    too_many: bool
    self_held: bool

    @property
    def can_offer(self) -> bool:
        return bool(self.twins) and not self.problems and not self.too_many


def selection(*, viewer: Owner, slugs: Sequence[str]) -> Selection:
    """The viewer's own things among `slugs`, in that order, with what stands in the way of offering them."""
    slugs = list(dict.fromkeys(slugs))
    too_many = len(slugs) > MAX_THINGS
    found = {twin.slug: twin for twin in Twin.objects.filter(owner=viewer, slug__in=slugs[: MAX_THINGS + 1])}
    twins = [found[slug] for slug in slugs if slug in found]
    return Selection(
        twins=twins,
        problems=selection_problems(seller=viewer, twins=twins),
        too_many=too_many,
        self_held=seller_self_held(viewer),
    )


@dataclass(frozen=True)
class OfferedThing:
    twin: Twin
    # As the viewer may read it (_offered_name): after the sale, a buyer who sold it on sees it by the name it had
    # when they bought it; None: not theirs to read.
    name: str | None
    verification: Verification
    removed_by_kind: list[tuple[str, int]]


@dataclass(frozen=True)
class BuyerPage:
    handover: Handover
    things: list[OfferedThing]
    # For the buyer who already tried: what happened (a failure's reason, or that the things are theirs).
    note: str
    self_held: bool
    acceptance: dict[str, Any]
    removed_total: int


def _offered_name(handover: Handover, item: HandoverThing) -> str | None:
    """A thing's name on the buyer's page: once the handover completed, as the buyer may read it (thing_name_for);
    before (open, awaiting the seller, failed), the seller's name for it while it is still the seller's."""
    if handover.status == Handover.Status.COMPLETED:
        return item.thing_name
    return item.twin.name if item.twin.owner_id == handover.seller_id else None


def buyer_page(*, viewer: Owner, token: str) -> BuyerPage:
    """What the buyer sees before accepting: each thing, whether its history verifies, what the sale removes,
    and the one acceptance document to sign. Raises HandoverRefused when the offer is closed to the viewer."""
    handover = handover_of_token(token=token)
    note = ""
    if handover.buyer_id == viewer.pk and handover.status == Handover.Status.FAILED:
        note = f"Your acceptance failed and nothing moved: {handover.failure}"
    elif handover.buyer_id == viewer.pk and handover.status == Handover.Status.AWAITING_SELLER:
        note = "You accepted this offer. The things become yours when the seller signs."
    elif handover.buyer_id == viewer.pk and handover.status == Handover.Status.COMPLETED:
        note = "You accepted this offer: these things are yours."
    else:
        handover_check_open(handover, buyer=viewer)
    items = handover_items(handover, viewer=viewer)
    twins = [item.twin for item in items]
    removed_total = 0
    if handover.redact_kinds:
        removed_total = HistoryEntry.objects.filter(
            twin__in=twins, redacted=False, kind__in=handover.redact_kinds
        ).count()
    current = owner_keys_active(owner=viewer).get(OwnerKey.Role.CURRENT)
    return BuyerPage(
        handover=handover,
        things=[
            OfferedThing(
                twin=item.twin,
                name=_offered_name(handover, item),
                verification=verify_twin(item.twin),
                removed_by_kind=removal_by_kind(twin=item.twin, kinds=handover.redact_kinds),
            )
            for item in items
        ],
        note=note,
        self_held=current is not None and current.self_held,
        acceptance=acceptance_document(
            handover=handover, twins=twins, keys=buyer_keys(viewer, handover=handover, twins=twins)
        ),
        removed_total=removed_total,
    )
