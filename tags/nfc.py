"""NFC taps: how a scan says it came from a chip, NTAG 424 DNA SUN verification against a tag's stored keys and its
read counter, the "genuine tap" a signed-in person carries in their session, and SUN key provisioning.

The crypto is tags.sun (no Django); this module adds what needs the database and the key vault. Nothing here is on
the path of a URL without a query string (the ordinary QR scan).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from core import vault
from ssi.vault import VaultError
from tags import sun
from tags.models import Scan, SunKeys, Tag

logger = logging.getLogger("tags.nfc")

# How long a genuine tap lets its signed-in holder do what requires one (require_genuine_tap).
GENUINE_TAP_SECONDS = 10 * 60
_SESSION_KEY = "tags.genuine_taps"
_SESSION_MAX_TWINS = 20


@dataclass(frozen=True)
class NfcMarker:
    """What a tag URL's query string says about how it was opened. `sun` holds well-formed SUN parameters;
    `problem` says why SUN parameters that were there could not be read (the scan is then an ordinary one)."""

    source: str = Scan.Source.LINK
    sun: sun.SunParams | None = None
    problem: str = ""


LINK = NfcMarker()


def read_marker(query: str) -> NfcMarker:
    """`?nfc=1` (what an ordinary chip's URL carries, tags.models.Tag.nfc_url) or SUN parameters mark a tap; any
    other query string is an ordinary link. Never raises."""
    if not query:
        return LINK
    try:
        params = sun.parse_query(query)
    except sun.SunError as exc:
        return NfcMarker(Scan.Source.NFC, problem=str(exc))
    if params is not None:
        return NfcMarker(Scan.Source.NFC, sun=params)
    if ("nfc", "1") in parse_qsl(query, max_num_fields=20, keep_blank_values=True):
        return NfcMarker(Scan.Source.NFC)
    return LINK


@dataclass(frozen=True)
class TapVerdict:
    genuine: bool
    counter: int | None = None
    reason: str = ""


def _unseal(sealed: bytes | memoryview) -> bytes:
    return vault.unseal(sealed)


def sun_tap_check(*, tag: Tag, marker: NfcMarker) -> TapVerdict:
    """Is this tap genuine: SUN parameters that verify under the tag's keys, from the chip first seen with these
    keys, with a read counter higher than any genuine tap before? If so the counter is stored (race-free: a
    conditional UPDATE, so of two requests with the same URL exactly one is genuine). Anything else is logged
    and answered as not genuine; the scan is then an ordinary view."""
    if marker.sun is None:
        return _refused(tag, marker.problem or "no SUN parameters")
    keys = SunKeys.objects.filter(tag=tag).first()
    if keys is None:
        return _refused(tag, "SUN parameters on a tag with no SUN keys")
    try:
        tap = sun.verify(meta_key=_unseal(keys.meta_read_key), file_key=_unseal(keys.file_read_key), params=marker.sun)
    except sun.SunError as exc:
        return _refused(tag, str(exc))
    except VaultError:
        logger.error("SUN keys of tag %s do not open with this KEY_ENCRYPTION_KEY", tag.pk)
        return TapVerdict(False, reason="keys unavailable")
    uid = tap.uid.hex().upper()
    if keys.uid and keys.uid != uid:
        return _refused(tag, f"UID {uid} is not the chip these keys were first seen on", counter=tap.counter)
    fresh = SunKeys.objects.filter(Q(uid="") | Q(uid=uid), pk=keys.pk, last_counter__lt=tap.counter).update(
        last_counter=tap.counter, uid=uid, last_tap_at=timezone.now()
    )
    if not fresh:
        return _refused(tag, f"replay: read counter {tap.counter} is not above the last one seen", tap.counter)
    return TapVerdict(True, counter=tap.counter)


def _refused(tag: Tag, reason: str, counter: int | None = None) -> TapVerdict:
    # The tag's id, never its token (a bearer secret) nor the URL; the reason names no key material.
    logger.warning("NFC tap of tag %s not genuine: %s", tag.pk, reason)
    return TapVerdict(False, counter=counter, reason=reason)


# The genuine tap a signed-in person carries for a while (the session is theirs; a URL is not proof of anything).


def remember_genuine_tap(request: HttpRequest, *, twin_id: int) -> None:
    if not request.user.is_authenticated:
        return
    taps = dict(request.session.get(_SESSION_KEY, {}))
    taps[str(twin_id)] = time.time()
    # A session is small: keep the newest taps only.
    request.session[_SESSION_KEY] = dict(sorted(taps.items(), key=lambda item: item[1])[-_SESSION_MAX_TWINS:])


def has_genuine_tap(request: HttpRequest, *, twin_id: int, within: int = GENUINE_TAP_SECONDS) -> bool:
    """Did the signed-in person open this twin's SUN tag with a genuine tap in the last `within` seconds?"""
    if not request.user.is_authenticated:
        return False
    tapped = request.session.get(_SESSION_KEY, {}).get(str(twin_id))
    return isinstance(tapped, int | float) and 0 <= time.time() - tapped <= within


GENUINE_TAP_REQUIRED = (
    "This needs the thing in hand: tap its NFC tag with your phone (signed in), then try again within "
    f"{GENUINE_TAP_SECONDS // 60} minutes."
)


class GenuineTapRequired(PermissionDenied):
    """403: the action requires a recent genuine tap of the thing's SUN tag (e.g. a keeper's check-in)."""


def require_genuine_tap(request: HttpRequest, *, twin_id: int, within: int = GENUINE_TAP_SECONDS) -> None:
    """For an action that proves presence: call after the view's own access check (so strangers still get its
    404). Raises GenuineTapRequired (403, with a message that says what to do) without a recent genuine tap."""
    if not has_genuine_tap(request, twin_id=twin_id, within=within):
        raise GenuineTapRequired(GENUINE_TAP_REQUIRED)


# Provisioning: fresh keys for a batch of chips, shown once.


@dataclass(frozen=True)
class ProvisionedTag:
    """A tag with the keys its chip must be programmed with. The only time the keys exist in the clear outside a
    request that verifies a tap."""

    tag: Tag
    # Out of repr: a traceback or a log line that prints this object shows no key.
    master_key: bytes = field(repr=False)
    meta_read_key: bytes = field(repr=False)
    file_read_key: bytes = field(repr=False)


def _sealed(key: bytes) -> bytes:
    # Defence in depth: new_key never draws one, but nothing weak is ever stored (SECURITY 18).
    if sun.is_weak_key(key):
        raise ValidationError("Refused an all-zero, factory or published example key.")
    return vault.seal(key)


MAX_PROVISION = 1000


@transaction.atomic
def sun_provision(*, tags: list[Tag], replace: bool = False) -> list[ProvisionedTag]:
    """Fresh SUN keys for each tag (keys 0, 1 and 2 of an NTAG 424 DNA). A tag that has keys already is refused
    unless `replace`: new keys reset the chip binding and the counter, and the chip must be programmed again."""
    if not 1 <= len(tags) <= MAX_PROVISION:
        raise ValidationError(f"Choose 1 to {MAX_PROVISION} tags.")
    if any(tag.status == Tag.Status.RETIRED for tag in tags):
        raise ValidationError("A retired tag cannot be programmed.")
    existing = set(SunKeys.objects.filter(tag__in=tags).values_list("tag_id", flat=True))
    if existing and not replace:
        codes = ", ".join(tag.display_code for tag in tags if tag.pk in existing)
        raise ValidationError(f"These tags have SUN keys already: {codes}. Choose to replace them, or leave them out.")
    SunKeys.objects.filter(tag_id__in=existing).delete()
    provisioned = []
    for tag in tags:
        master, meta, file = sun.new_key(), sun.new_key(), sun.new_key()
        SunKeys.objects.create(
            tag=tag,
            master_key=_sealed(master),
            meta_read_key=_sealed(meta),
            file_read_key=_sealed(file),
            meta_read_kcv=sun.key_check_value(meta),
            file_read_kcv=sun.key_check_value(file),
        )
        provisioned.append(ProvisionedTag(tag, master, meta, file))
    return provisioned


def weak_sun_keys() -> int:
    """How many stored key sets have a factory, all-zero or published example key (by key check value)."""
    weak = sun.WEAK_KEY_CHECK_VALUES
    return SunKeys.objects.filter(Q(meta_read_kcv__in=weak) | Q(file_read_kcv__in=weak)).count()
