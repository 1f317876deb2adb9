"""Reads of the transfer pages: the seller's offer and the buyer's view of it. Read only: opening either page
changes nothing (the writes are twins.transfer's services)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min
from django.http import Http404

from owners.models import Owner, OwnerKey
from owners.selectors import owner_keys_active
from twins.models import HistoryEntry, Reading, TransferOffer, Twin
from twins.selectors import twin_get
from twins.transfer import TransferRefused, acceptance_document, buyer_keys, offer_check_open, offer_check_viewable
from twins.verification import Verification, verify_twin


def offer_pending(*, twin: Twin) -> TransferOffer | None:
    """The twin's open or accepted offer, if any (at most one: a database constraint). `twin` is access-checked."""
    return TransferOffer.objects.filter(twin=twin).pending().select_related("buyer").first()


def sellers_offer_get(*, viewer: Owner, slug: str) -> tuple[Twin, TransferOffer]:
    """The viewer's twin and its pending offer; 404 for anyone else's twin or when there is no offer."""
    twin = twin_get(viewer=viewer, slug=slug)
    offer = offer_pending(twin=twin)
    if offer is None:
        raise Http404("No open offer.")
    return twin, offer


def history_kind_counts(*, twin: Twin) -> dict[str, int]:
    """How many entries of each kind the twin's history holds, not counting removed ones (what a sale may remove)."""
    entries = HistoryEntry.objects.filter(twin=twin, redacted=False)
    return dict(entries.values_list("kind").annotate(n=Count("pk")).order_by())


@dataclass(frozen=True)
class SellerPage:
    twin: Twin
    offer: TransferOffer | None
    counts: dict[str, int]
    seller_self_held: bool


def seller_page(*, viewer: Owner, slug: str) -> SellerPage:
    """The seller's transfer page of one of the viewer's things (404 otherwise)."""
    twin = twin_get(viewer=viewer, slug=slug)
    upcoming = owner_keys_active(owner=viewer).get(OwnerKey.Role.NEXT)
    return SellerPage(
        twin=twin,
        offer=offer_pending(twin=twin),
        counts=history_kind_counts(twin=twin),
        # A self-held next key signs the transfer itself: the page offers the download and upload steps.
        seller_self_held=upcoming is not None and upcoming.self_held,
    )


def offer_get(*, token: str) -> TransferOffer:
    """The offer behind a link, whoever holds it (it is the buyer's capability); an unknown token is a 404."""
    offer = TransferOffer.objects.select_related("twin", "seller").filter(token=token).first()
    if offer is None:
        raise Http404("No such offer.")
    return offer


@dataclass(frozen=True)
class ReadingsSummary:
    count: int
    first: datetime | None
    last: datetime | None
    low: float | None
    high: float | None
    latest: float | None
    unit: str
    removed_at_sale: bool


@dataclass(frozen=True)
class BuyerPage:
    offer: TransferOffer
    twin: Twin
    problem: str
    verification: Verification
    to_remove: int
    self_held: bool
    acceptance: dict[str, Any]
    # What a buyer judges the thing by: its readings, and what of its history goes at the sale, by kind.
    readings: ReadingsSummary | None = None
    removed_by_kind: list[tuple[str, int]] = field(default_factory=list)


def readings_summary(*, twin: Twin, removed_at_sale: bool) -> ReadingsSummary:
    """How many readings the thing has, over which time, their range and the latest (one aggregate query)."""
    totals = Reading.objects.filter(twin=twin, kind=twin.reading_kind).aggregate(
        count=Count("pk"), first=Min("time"), last=Max("time"), low=Min("value"), high=Max("value")
    )
    return ReadingsSummary(
        count=totals["count"],
        first=totals["first"],
        last=totals["last"],
        low=totals["low"],
        high=totals["high"],
        latest=twin.latest_value,
        unit=twin.reading_unit,
        removed_at_sale=removed_at_sale,
    )


def removal_by_kind(*, twin: Twin, kinds: list[str]) -> list[tuple[str, int]]:
    """What the sale removes, as (label, how many entries now) per kind the seller chose, in the form's order."""
    counts = history_kind_counts(twin=twin)
    labels = dict(HistoryEntry.Kind.choices)
    return [(labels.get(kind, kind), counts.get(kind, 0)) for kind in HistoryEntry.REDACTABLE if kind in kinds]


def offer_preview(*, token: str) -> TransferOffer | None:
    """The offer behind a link for someone not signed in (the login page says what waits): None unless open."""
    offer = TransferOffer.objects.select_related("twin", "seller").filter(token=token).first()
    if offer is None:
        return None
    try:
        offer_check_open(offer)
    except TransferRefused:
        return None
    return offer


def buyer_page(*, viewer: Owner, token: str) -> BuyerPage:
    """What the buyer sees before accepting: the thing, whether its history verifies, how many entries the sale
    removes, and the acceptance document to sign. Raises TransferRefused when the offer is closed to the viewer."""
    offer = offer_get(token=token)
    problem = offer_check_viewable(offer, buyer=viewer)
    twin = offer.twin
    current = owner_keys_active(owner=viewer).get(OwnerKey.Role.CURRENT)
    to_remove = 0
    if offer.redact_kinds:
        to_remove = HistoryEntry.objects.filter(twin=twin, redacted=False, kind__in=offer.redact_kinds).count()
    return BuyerPage(
        offer=offer,
        twin=twin,
        problem=problem,
        verification=verify_twin(twin),
        to_remove=to_remove,
        self_held=current is not None and current.self_held,
        acceptance=acceptance_document(offer=offer, keys=buyer_keys(viewer, twin)),
        readings=readings_summary(twin=twin, removed_at_sale=HistoryEntry.Kind.READING in offer.redact_kinds),
        removed_by_kind=removal_by_kind(twin=twin, kinds=offer.redact_kinds),
    )
