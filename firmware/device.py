"""What a thing's device fetches: `/twins/<slug>/firmware/latest` (the manifest its twin accepted) and
`/twins/<slug>/firmware/payload` (that release's payload; `?sequence=N` for an earlier accepted one).

Public, as the twin's DID log is: the manifest is signed (the device verifies it with ssi.firmware against its
maker's DID log, whoever served it), the payload is checked against the manifest's hash and size, and a twin's
slug is 128-bit random. Both answer with an ETag (If-None-Match: 304); the payload honours one `Range`
(206 with Content-Range, 416 for a range outside the file or one that makes no sense) and `If-Range`, so an
interrupted download resumes. Anything else is the site's one 404.

A withdrawn release (firmware.services.release_withdraw) is never served: `latest` of a twin whose accepted
release was withdrawn answers 404 with a message saying so (not the previous accepted one: a device that already
installed the withdrawn release would refuse an older sequence as a rollback, and one that did not still runs the
previous), and its payload answers 410 Gone (docs/firmware.md, "Withdrawing a release").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from firmware import services
from firmware.models import Release, TwinFirmware, UpdateCheck
from ssi import firmware as fw
from twins.models import Twin

# One byte range, ASCII digits only, no longer than any file's offset can be (RFC 9110 §14.1.2). Anything else (a
# multi-range, an inverted range, another unit) is ignored: the whole payload, as RFC 9110 §14.2 allows.
_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")
_SEQUENCE = re.compile(r"[0-9]{1,18}")


class Withdrawn(Exception):
    def __init__(self, release: Release) -> None:
        super().__init__(release.pk)
        self.release = release


def _withdrawn(release: Release, status: int) -> JsonResponse:
    message = (
        f"Firmware {release.version} (sequence {release.sequence}) was withdrawn by its maker; it is not served. "
        "Keep running what is installed until a later release is accepted."
    )
    response = JsonResponse({"message": message, "extra": {"reason": "withdrawn", "sequence": release.sequence}})
    response.status_code = status
    response["Cache-Control"] = "no-cache"
    return response


def _accepted(slug: str, sequence: str | None = None) -> tuple[Twin, Release]:
    twin = Twin.objects.filter(slug=slug, deactivated_at__isnull=True).first() if len(slug) <= 64 else None
    state = (
        TwinFirmware.objects.filter(twin=twin, accepted_at__isnull=False).select_related("release").first()
        if twin
        else None
    )
    if state is None or state.release is None:
        raise Http404("No firmware.")
    if sequence is None:
        if state.release.status == Release.Status.WITHDRAWN:
            raise Withdrawn(state.release)
        return twin, state.release
    if not _SEQUENCE.fullmatch(sequence):
        raise Http404("No firmware.")
    # Only a release this twin accepted at some time (its history says so), never another model's.
    release = Release.objects.filter(
        pk__in=UpdateCheck.objects.filter(twin=twin, outcome=UpdateCheck.Outcome.ACCEPTED).values("release_id"),
        sequence=int(sequence),
    ).first()
    if release is None:
        raise Http404("No firmware.")
    if release.status == Release.Status.WITHDRAWN:
        raise Withdrawn(release)
    return twin, release


@require_safe
def latest(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        twin, release = _accepted(slug)
    except Withdrawn as exc:
        return _withdrawn(exc.release, 404)
    manifest = services.device_manifest(release)
    body = json.dumps(manifest, ensure_ascii=False, separators=(",", ":"))
    etag = services.etag_of(body)
    payload_url = request.build_absolute_uri(reverse("firmware-payload", args=[twin.slug]))
    if _matches(etag, request.headers.get("If-None-Match", "")):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    response["Link"] = f'<{payload_url}?sequence={release.sequence}>; rel="payload"'
    return response


def _matches(etag: str, if_none_match: str) -> bool:
    """If-None-Match names this entity tag (weakly compared), or is `*` (RFC 9110 §13.1.2)."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",") if t.strip()}
    return "*" in tags or etag in tags


def _chunks(release: Release, start: int, length: int) -> Iterator[bytes]:
    with release.payload.open("rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(fw.CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def _range_error(size: int, message: str) -> HttpResponse:
    response = JsonResponse({"message": message, "extra": {"size": size}}, status=416)
    response["Content-Range"] = f"bytes */{size}"
    return response


@require_safe
def payload(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        _, release = _accepted(slug, request.GET.get("sequence"))
    except Withdrawn as exc:
        return _withdrawn(exc.release, 410)
    size = release.size
    etag = f'"{release.sha256}"'  # the content's own hash: a strong validator
    if _matches(etag, request.headers.get("If-None-Match", "")):
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    start, length, status = 0, size, 200
    raw = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    match = _RANGE.fullmatch(raw.strip()) if raw and (if_range is None or if_range.strip() == etag) else None
    first, last = (match.group(1), match.group(2)) if match else ("", "")
    if first or last:
        if first == "":
            n = int(last)
            if n == 0:
                return _range_error(size, "A suffix range of 0 bytes names nothing.")
            start = max(0, size - n)
            end = size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        if last and first and int(last) < start:
            start, end = 0, size - 1  # an invalid range: ignored (RFC 9110 §14.1.1)
        elif start >= size:
            return _range_error(size, f"The payload is {size} bytes; the range starts past its end.")
        else:
            length, status = end - start + 1, 206
    try:
        release.payload.storage.size(release.payload.name)
    except (FileNotFoundError, OSError):
        raise Http404("No firmware.") from None
    response = StreamingHttpResponse(
        _chunks(release, start, length), status=status, content_type="application/octet-stream"
    )
    response["Content-Length"] = str(length)
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'attachment; filename="{release.model.gtin}-{release.sequence}.bin"'
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    return response
