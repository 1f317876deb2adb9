"""Whole-selection actions that answer the request itself: one printable label sheet for the selected things'
tags, and a zip of their verifiable bundles, streamed as it is made."""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify

from core import qr
from tags.models import Tag
from twins.models import Twin
from twins.verification import export_bundle

log = logging.getLogger(__name__)


def labels(request: HttpRequest, twins: QuerySet[Twin], params: Mapping[str, Any]) -> HttpResponse:
    """The label sheet of tags/views.py tag_labels for many things: every active tag of the selected things (one
    query, things in the cards page's order, each thing's tags oldest first), and the things that have none."""
    chosen = twins.order_by().values("pk")
    tags = list(
        Tag.objects.active()
        .filter(twin__in=chosen)
        .select_related("twin")
        .order_by("twin__name", "twin_id", "created_at", "id")
    )
    tagged = Tag.objects.active().filter(twin__isnull=False).values("twin_id")
    untagged = list(twins.exclude(pk__in=tagged).values_list("name", flat=True)[:50])
    context = {
        "labels": [(tag, qr.svg_inline(tag.url)) for tag in tags],
        "untagged": untagged,
        "site_host": settings.SITE_URL.split("://", 1)[-1],
        "things": len({tag.twin_id for tag in tags}),
    }
    return render(request, "bulk/labels.html", context)


class _Chunks:
    """A write-only file for zipfile that hands back what was written since the last take() (zipfile writes data
    descriptors when it cannot seek, so the archive streams)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def bundle_zip(twins: QuerySet[Twin]) -> Iterator[bytes]:
    """Each thing's bundle (twins.verification.export_bundle) as `<name>-<slug>.json`, one thing at a time."""
    sink = _Chunks()
    failed: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for twin in twins.iterator(chunk_size=200):
            try:
                body = json.dumps(export_bundle(twin), indent=2, ensure_ascii=False)
            except Exception:  # one thing's bundle must not cut the others' download short
                log.exception("bulk export: bundle of %s", twin.slug)
                failed.append(f"{twin.name} ({twin.slug})")
                continue
            archive.writestr(f"{slugify(twin.name) or 'thing'}-{twin.slug}.json", body)
            yield sink.take()
        if failed:
            archive.writestr("NOT-EXPORTED.txt", "These things' bundles could not be made:\n" + "\n".join(failed))
    yield sink.take()


def bundles(request: HttpRequest, twins: QuerySet[Twin], params: Mapping[str, Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(bundle_zip(twins), content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="thingstead-bundles-{stamp}.zip"'
    response["Cache-Control"] = "private, no-store"
    return response
