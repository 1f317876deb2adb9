"""A thing's readings, all of them: a paged table and a CSV export, for whoever may read its readings (the owner,
or a keeper or service party holding readings.read). The private page shows the latest 20 and links here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, tzinfo

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core import csvsafe
from twins import access, attribution, selectors

PER_PAGE = 50


@login_required
@require_GET
def readings_page(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.READINGS_READ)
    page = Paginator(selectors.reading_list(twin=twin), PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = attribution.attribute(page.object_list, twin=twin, viewer_id=request.user.pk)
    return render(request, "twins/readings.html", {"twin": twin, "page": page})


def _csv_rows(twin, zone: tzinfo) -> Iterator[str]:
    # Kind and unit are whoever wrote the reading's text (a keeper, a device's payload): guarded, as every CSV is.
    # The value goes as a number (never a formula), so a negative one stays a number in the spreadsheet.
    writer = csvsafe.line_writer()
    yield writer.writerow(["time_utc", "time_local", "time_zone", "kind", "value", "unit", "device_signed"])
    for reading in selectors.reading_list(twin=twin).iterator(chunk_size=2000):
        yield writer.writerow(
            [
                reading.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                reading.time.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                str(zone),
                reading.kind,
                reading.value if reading.value is not None else "",
                reading.unit,
                "yes" if reading.device_signed else "no",
            ]
        )


@login_required
@require_GET
def readings_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """Every reading, newest first, streamed (a year of readings never sits in memory)."""
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.READINGS_READ)
    # The zone is taken now: the rows are written after the middleware has put the request's time zone away.
    zone = timezone.get_current_timezone()
    response = StreamingHttpResponse(_csv_rows(twin, zone), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="readings-{twin.slug}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
