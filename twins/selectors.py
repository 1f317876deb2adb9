"""Reads that enforce access: every query is scoped to the viewer, so no view can forget it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404

from twins.models import JournalNote, Reading, Twin
from twins.panels import annotate_list


@dataclass(frozen=True)
class TwinFilters:
    query: str = ""
    lost: bool | None = None
    archived: bool = False


def twin_list(*, viewer, filters: TwinFilters | None = None) -> QuerySet[Twin]:
    """The viewer's things, with the features' list annotations (twins.panels: a tag count) computed in the same
    query (one query per page, however many things)."""
    filters = filters or TwinFilters()
    if not getattr(viewer, "is_authenticated", False):
        return Twin.objects.none()
    qs = Twin.objects.owned_by(viewer)
    qs = qs.archived() if filters.archived else qs.active()
    if filters.query:
        qs = qs.filter(name__icontains=filters.query)
    if filters.lost is not None:
        qs = qs.filter(lost=filters.lost)
    return annotate_list(qs).order_by("name", "id")


def twin_get(*, viewer, slug: str) -> Twin:
    """One of the viewer's things, archived ones included; anyone else's is a 404, never a 403."""
    if not getattr(viewer, "is_authenticated", False):
        raise Http404("No such thing.")
    try:
        return Twin.objects.select_related("owner").get(slug=slug, owner=viewer)
    except Twin.DoesNotExist:
        raise Http404("No such thing.") from None


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
