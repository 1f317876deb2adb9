"""Receipts and manuals: private files of a thing, the owner's alone.

What is stored is checked, not trusted: the type comes from the file's first bytes (PDF, JPEG, PNG, WebP; an
image must also open as one), the size is capped, and the owner's file name is only ever a sanitised label for
the download (the file itself gets a random name under the media folder, which no URL serves). The one way out
is :func:`attachment_response`, called by views that checked access first.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse, Http404
from PIL import Image

from twins import events, leaving
from upkeep.models import Attachment

log = logging.getLogger(__name__)

# Under the request cap (settings.REQUEST_MAX_BYTES) with room for the form around the file.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
MAX_PER_THING = 100
ALLOWED = "PDF, JPEG, PNG or WebP"


def max_bytes() -> int:
    return getattr(settings, "UPKEEP_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES)


def sniff(head: bytes) -> str | None:
    """The content type the first bytes announce, of the four kinds kept; None for anything else."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


# Letters and digits of any script stay (a "Rechnung März" is a fine name); controls, format characters (a
# right-to-left override), quotes, slashes and the rest become "-".
_UNSAFE = re.compile(r"[^\w.()+ -]+")


def clean_filename(name: str, content_type: str) -> str:
    """A label for the download: the last path part (either slash), NFKC, only letters, digits and a few signs,
    no leading dots, at most 100 characters, and the extension of what the file really is."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = unicodedata.normalize("NFKC", base).lstrip(". ")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _UNSAFE.sub("-", stem).strip(" .-")[:90] or "file"
    return stem + Attachment.EXTENSIONS[content_type]


def _check(upload: UploadedFile) -> str:
    limit = max_bytes()
    if upload.size is None or upload.size > limit:
        raise ValidationError({"file": f"The file is larger than {limit // (1024 * 1024)} MB."})
    if upload.size == 0:
        raise ValidationError({"file": "The file is empty."})
    upload.seek(0)
    content_type = sniff(upload.read(16))
    if content_type is None:
        raise ValidationError({"file": f"Attach a {ALLOWED} file. This one is none of those."})
    if content_type.startswith("image/"):
        upload.seek(0)
        try:
            with Image.open(upload) as image:
                image.verify()
        except Exception:
            raise ValidationError({"file": "This image is damaged or not what its first bytes say."}) from None
    upload.seek(0)
    return content_type


@transaction.atomic
def attachment_add(
    *, twin: Any, upload: UploadedFile, kind: str = Attachment.Kind.RECEIPT, title: str = ""
) -> Attachment:
    """Store one checked file for the thing. On any failure nothing is kept, neither the row nor the file."""
    if kind not in Attachment.Kind.values:
        raise ValidationError({"kind": "Choose receipt, manual or other."})
    content_type = _check(upload)
    # Lock the thing's row: two uploads at once cannot both slip under the cap; and refuse a thing on its way to
    # another host (twins.leaving: its files travel).
    leaving.refuse_if_leaving(twin)
    if Attachment.objects.filter(twin_id=twin.pk).count() >= MAX_PER_THING:
        raise ValidationError({"file": f"A thing keeps at most {MAX_PER_THING} files. Delete one first."})
    attachment = Attachment(
        twin_id=twin.pk,
        kind=kind,
        title=(title or "").strip(),
        filename=clean_filename(upload.name, content_type),
        content_type=content_type,
        size=upload.size,
    )
    attachment.full_clean(exclude=["twin", "file"])
    attachment.file.save("ignored", upload, save=False)  # attachment_path names it
    try:
        attachment.save()
    except Exception:
        attachment.file.delete(save=False)
        raise
    # A rollback of an outer transaction would leave the file: the row is what counts, and no route serves a
    # file without its row.
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: Attachment) -> None:
    """Delete the row now and the file once that commits (a rolled-back delete keeps its file)."""
    leaving.refuse_if_any_leaving([attachment.twin_id])
    name, storage = attachment.file.name, attachment.file.storage
    attachment.delete()
    transaction.on_commit(lambda: _delete_file(storage, name))


def _delete_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        log.warning("attachment file %s could not be deleted", name)


def attachment_list(*, twin: Any):
    return Attachment.objects.filter(twin_id=twin.pk).order_by("-created_at", "-id")


def attachment_get(*, twin: Any, attachment_id: int) -> Attachment:
    attachment = Attachment.objects.filter(twin_id=twin.pk, pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such file.")
    return attachment


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file as a download, with its real type, a sanitised name and no chance of being run as a page."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle, content_type=attachment.content_type, as_attachment=True, filename=attachment.filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def on_transferred(event: events.Transferred) -> None:
    """Receipts and the seller's documents stay the seller's: the sale removes them (the files once it commits)."""
    for attachment in Attachment.objects.filter(twin_id=event.twin_id):
        attachment_delete(attachment=attachment)


def connect() -> None:
    events.subscribe(events.Transferred, on_transferred, in_transaction=True)
