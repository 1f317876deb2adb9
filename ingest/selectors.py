"""Reads that enforce access: a source is its owner's; anyone else gets the one 404."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.http import Http404

from ingest.models import DeviceKey, Source, SourceThing


def source_list(*, viewer) -> QuerySet[Source]:
    if not getattr(viewer, "is_authenticated", False):
        return Source.objects.none()
    return Source.objects.owned_by(viewer).annotate(thing_count=Count("links")).order_by("name", "id")


def source_get(*, viewer, public_id: str) -> Source:
    if not getattr(viewer, "is_authenticated", False):
        raise Http404("No such source.")
    try:
        return Source.objects.get(public_id=public_id, owner=viewer)
    except Source.DoesNotExist:
        raise Http404("No such source.") from None


def source_links(*, source: Source) -> QuerySet[SourceThing]:
    return SourceThing.objects.filter(source=source).select_related("twin").order_by("twin__name", "id")


def link_get(*, source: Source, link_id: int) -> SourceThing:
    try:
        return SourceThing.objects.select_related("twin").get(pk=link_id, source=source)
    except SourceThing.DoesNotExist:
        raise Http404("No such link.") from None


def device_keys(*, twin) -> QuerySet[DeviceKey]:
    """A thing's device keys (the caller has the thing from twins.selectors.twin_get), active and revoked."""
    return DeviceKey.objects.filter(twin=twin).order_by("-created_at", "-id")


def device_key_get(*, twin, key_id: int) -> DeviceKey:
    try:
        return DeviceKey.objects.get(pk=key_id, twin=twin)
    except DeviceKey.DoesNotExist:
        raise Http404("No such device key.") from None
