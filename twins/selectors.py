"""Reads that enforce access: every query is scoped to the viewer, so no view can forget it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.db.models import Case, Q, QuerySet, Value, When
from django.http import Http404

from core.errors import NotFoundExplained
from twins import access
from twins.listing import apply_filters, filter_params, search_condition
from twins.models import JournalNote, Reading, TransferOffer, Twin
from twins.panels import annotate_list


@dataclass(frozen=True)
class TwinFilters:
    query: str = ""
    lost: bool | None = None
    archived: bool = False
    # The features' filters (twins.listing): (query parameter, raw value) pairs, applied for the viewer.
    extra: tuple[tuple[str, str], ...] = ()

    # The query parameters these filters read (the features' own come from twins.listing).
    PARAMS: ClassVar[tuple[str, ...]] = ("q", "lost", "archived")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TwinFilters:
        """The cards page's (and a selection's) filters from query parameters: one parser for every list."""
        return cls(
            query=str(params.get("q", "")).strip()[:120],
            lost={"yes": True, "no": False}.get(str(params.get("lost", ""))),
            archived=str(params.get("archived", "")) == "1",
            extra=filter_params(params),
        )


def twin_list(*, viewer, filters: TwinFilters | None = None, include_kept: bool = False) -> QuerySet[Twin]:
    """The viewer's things, with the features' list annotations (twins.panels: a tag count) computed in the same
    query (one query per page, however many things).

    `include_kept`: also the things other owners let the viewer look after (twins.access providers: a keeper
    credential), each with `access_role` set to its badge ("keeper"); the viewer's own have none. Off by default:
    callers that act on the listed things (attach a tag, pick a thing for a connection) must see only their own.
    Costs one query per provider to find the kept things (none kept: the owner's query is exactly as before)."""
    filters = filters or TwinFilters()
    if not getattr(viewer, "is_authenticated", False):
        return Twin.objects.none()
    kept = access.kept_twins(viewer) if include_kept else {}
    if kept:
        badges: dict[str, list[int]] = {}
        for twin_id, badge in kept.items():
            badges.setdefault(badge, []).append(twin_id)
        qs = Twin.objects.filter(Q(owner=viewer) | Q(pk__in=list(kept))).annotate(
            access_role=Case(
                When(owner=viewer, then=Value("")),
                *(When(pk__in=ids, then=Value(badge)) for badge, ids in badges.items()),
                default=Value(""),
            )
        )
    else:
        qs = Twin.objects.owned_by(viewer)
    qs = qs.archived() if filters.archived else qs.active()
    if filters.query:
        qs = qs.filter(search_condition(filters.query, viewer))
    if filters.lost is not None:
        qs = qs.filter(lost=filters.lost)
    if filters.extra:
        qs = apply_filters(qs, filters.extra, viewer)
    return annotate_list(qs).order_by("name", "id")


def twin_get(*, viewer, slug: str, need: str = access.OWNER) -> Twin:
    """One of the viewer's things, archived ones included; anyone else's is a 404, never a 403.

    `need`: a capability (twins.access) a non-owner may hold through a feature's credential (a keeper adds
    readings); the default, OWNER, keeps the route the owner's alone. The twin comes back with `access` (a
    twins.access.Access) saying what the viewer may do. One query for the owner; the providers are asked only
    when the viewer is not the owner, on every call (a revoked credential fails the next request)."""
    if not getattr(viewer, "is_authenticated", False):
        raise Http404("No such thing.")
    if need == access.OWNER:
        try:
            twin = Twin.objects.select_related("owner").get(slug=slug, owner=viewer)
        except Twin.DoesNotExist:
            raise _not_found(viewer, slug) from None
        twin.access = access.OWNER_ACCESS
        return twin
    twin = Twin.objects.select_related("owner").filter(slug=slug).first()
    granted = access.access_for(viewer, twin) if twin is not None else None
    if granted is None or not granted.can(need):
        raise _not_found(viewer, slug)
    twin.access = granted
    return twin


def _not_found(viewer, slug: str) -> Http404:
    """The 404 for a thing the viewer may not open: a former owner (who sold or gave it away) is told so, on the
    project's page; anyone else learns nothing (the same 404 as for a slug that does not exist)."""
    sold = (
        TransferOffer.objects.filter(twin__slug=slug, seller=viewer, status=TransferOffer.Status.COMPLETED)
        .select_related("twin")
        .first()
    )
    if sold is None:
        return Http404("No such thing.")
    when = f" on {sold.completed_at:%Y-%m-%d}" if sold.completed_at else ""
    return NotFoundExplained(
        f"You handed “{sold.twin.name}” to its new owner{when}: it is no longer yours, so its page, readings "
        "and tags are theirs now. Your own things are under Things."
    )


def reading_list(
    *, twin: Twin, kind: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Reading]:
    """Readings of one (already access-checked) twin, newest first, optionally of one kind within [since, until)."""
    qs = Reading.objects.filter(twin=twin)
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(time__gte=since)
    if until is not None:
        qs = qs.filter(time__lt=until)
    return qs.order_by("-time", "-id")


def chart_points(*, twin: Twin, limit: int = 500) -> list[dict]:
    """The most recent readings of the twin's main kind, oldest first, for the private page chart."""
    rows = list(reading_list(twin=twin, kind=twin.reading_kind).values_list("time", "value").order_by("-time")[:limit])
    rows.reverse()
    return [{"t": time.isoformat(), "v": value} for time, value in rows]


def note_get(*, twin: Twin, note_id: int) -> JournalNote:
    try:
        return JournalNote.objects.get(twin=twin, pk=note_id)
    except (JournalNote.DoesNotExist, ValueError, TypeError):
        raise Http404("No such note.") from None
