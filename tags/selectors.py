"""Reads of tags. The public resolver is anonymous by design; private reads are scoped to the viewer."""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404

from tags.codes import normalize_short_code
from tags.models import NfcSetting, Scan, SunKeys, Tag
from twins import attribution, panels
from twins.selectors import twin_get

# Tokens are URL-safe base64 (tags.codes.new_token); anything else cannot be one, so no query is spent on it.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,43}")


def is_token(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token))


def tag_resolve(*, token: str) -> Tag | None:
    """The tag behind a scanned URL with its twin and owner (one query), or None."""
    if not _TOKEN.fullmatch(token):
        return None
    return Tag.objects.select_related("twin", "twin__owner").filter(token=token).first()


class TagRetired(Exception):
    """The tag was retired by its owner: its URL says so (410) and shows nothing of the thing."""


class TagMoved(Exception):
    """The tag's thing lives on another Thingstead now (issue 18's move): its URLs answer there, at the same path."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.base_url = base_url


def is_live(twin) -> bool:
    """Not archived, and not still arriving from another instance (twins.not_live: until the old host lets go of
    it, its tags answer there, and here as an unknown tag would)."""
    return twin.archived_at is None and not twin.arriving


def moved_to(tag: Tag | None) -> str:
    """The base URL of the instance the tag's thing moved to, or "" (not moved, or no thing)."""
    twin = tag.twin if tag is not None else None
    return (twin.moved_to or "").rstrip("/") if twin is not None else ""


def tag_public_get(*, token: str) -> Tag:
    """The tag behind a public URL, attached to a live thing. Unknown, unattached tags and tags of archived things
    are a 404 alike; a retired tag raises TagRetired; a tag of a thing that moved away raises TagMoved."""
    tag = tag_resolve(token=token)
    if base_url := moved_to(tag):
        raise TagMoved(base_url)
    if tag is None or tag.twin is None or not is_live(tag.twin):
        raise Http404("No such tag.")
    if tag.status == Tag.Status.RETIRED:
        raise TagRetired
    return tag


def tag_public_page(*, tag: Tag) -> dict[str, Any]:
    """What the finder's page of an attached tag shows: only the fields its owner switched on, and non-empty."""
    twin = tag.twin
    return {
        "tag": tag,
        "twin": twin,
        "contact": twin.contact_card().public_contact(),
        "thing_name": twin.name if twin.show_thing_name else "",
        "description": twin.description if twin.show_description else "",
        "has_photo": bool(twin.show_photo and twin.photo),
        **panels.public_page_context(twin),
    }


def tag_by_code(*, typed: str) -> Tag | None:
    """The tag whose short code a person typed (lowercase, hyphens and O for 0 are fine), or None."""
    code = normalize_short_code(typed)
    if code is None:
        return None
    return Tag.objects.only("token").filter(code=code).first()


def tag_for_owner(*, viewer, slug: str, tag_id: int) -> Tag:
    """A tag of one of the viewer's things; anyone else's is a 404, like twin_get."""
    twin = twin_get(viewer=viewer, slug=slug)
    tag = Tag.objects.filter(pk=tag_id, twin=twin).first()
    if tag is None:
        raise Http404("No such tag.")
    tag.twin = twin
    return tag


def tag_list_active(*, twin) -> list[Tag]:
    """The thing's active tags, oldest first: the order they are printed on a label sheet."""
    return list(Tag.objects.filter(twin=twin).active().order_by("created_at", "id"))


# The tags panels of a thing's private page (twins.panels, registered in tags.apps); `twin` is the viewer's own.


def thing_tags_panel(request, twin) -> dict:
    tags = Tag.objects.filter(twin=twin)
    return {
        "tags": tags.exclude(status=Tag.Status.RETIRED),
        "retired_tags": tags.filter(status=Tag.Status.RETIRED),
        "rekey_tags": rekey_needed(twin=twin),
    }


def scan_actor(scan: Scan, twin) -> str:
    """Who scanned, as of when they scanned, for the current owner reading the list (twins.attribution, as for
    readings and notes): an owner's scan from before the twin changed hands was the previous owner's, not "you"
    (`by_owner` is true of whoever owned it then; a scan's `time` is the server's, set when it was stored)."""
    return attribution.acted_by(twin=twin, created_at=scan.time, by_owner=scan.by_owner)


def thing_scans_panel(request, twin) -> dict:
    scans = list(Scan.objects.filter(twin=twin).select_related("tag")[:10])
    return {"scans": [(scan, scan_actor(scan, twin)) for scan in scans]}


_KEY_FIELDS = (
    "master_key",
    "meta_read_key",
    "file_read_key",
    "previous_master_key",
    "previous_meta_read_key",
    "previous_file_read_key",
)


def genuine_tap_for_readings(*, twin) -> bool:
    """Does the thing's owner require a genuine tap for one-tap readings logged from a scan (tags.models.NfcSetting)?"""
    return NfcSetting.objects.filter(twin=twin, genuine_tap_for_readings=True).exists()


def rekey_needed(*, twin) -> list[Tag]:
    """The thing's active tags whose SUN keys a previous owner held (tags.nfc.on_transferred): re-key them."""
    return list(
        Tag.objects.filter(twin=twin, status=Tag.Status.ACTIVE, sun_keys__known_to_previous_owner=True).order_by(
            "created_at", "id"
        )
    )


def tag_sun_state(*, tag: Tag) -> SunKeys | None:
    """The tag's SUN key record (never its keys: they stay sealed), or None when it is not an NTAG 424 DNA tag."""
    return SunKeys.objects.defer(*_KEY_FIELDS).filter(tag=tag).first()


def tag_sun_rows(*, tags: list[Tag]) -> list[tuple[Tag, SunKeys | None]]:
    """Each tag with its SUN key record or None, for the NFC page (one query)."""
    states = {keys.tag_id: keys for keys in SunKeys.objects.defer(*_KEY_FIELDS).filter(tag__in=tags)}
    return [(tag, states.get(tag.pk)) for tag in tags]
