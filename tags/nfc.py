"""NFC taps: how a scan says it came from a chip, NTAG 424 DNA SUN verification against a tag's stored keys and its
read counter, the "genuine tap" a signed-in person carries in their session, and SUN key provisioning.

The crypto is tags.sun (no Django); this module adds what needs the database and the key vault. Nothing here is on
the path of a URL without a query string (the ordinary QR scan).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from core import vault
from ssi.vault import VaultError
from tags import sun
from tags.codes import format_short_code
from tags.models import Scan, SunKeys, Tag
from twins import events, leaving

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
    keys, with a read counter higher than any genuine tap before, under keys no previous owner of the thing held?
    If the tap verifies with a fresh counter the counter is stored (race-free: a conditional UPDATE, so of two
    requests with the same URL exactly one counts). Anything else is logged and answered as not genuine; the scan
    is then an ordinary view.

    While a replacement is pending (new keys issued, the chip not yet programmed with them) a tap is checked
    under the new keys first, then under the previous ones; the first verified tap under the new keys destroys
    the previous ones."""
    if marker.sun is None:
        return _refused(tag, marker.problem or "no SUN parameters")
    keys = SunKeys.objects.filter(tag=tag).first()
    if keys is None:
        return _refused(tag, "SUN parameters on a tag with no SUN keys")
    try:
        tap = sun.verify(meta_key=_unseal(keys.meta_read_key), file_key=_unseal(keys.file_read_key), params=marker.sun)
    except sun.SunError as exc:
        if keys.previous_meta_read_key is None:
            return _refused(tag, str(exc))
        return _previous_keys_check(tag, keys, marker.sun, problem=str(exc))
    except VaultError:
        return _keys_unavailable(tag)
    uid = tap.uid.hex().upper()
    if keys.uid and keys.uid != uid:
        return _refused(tag, f"UID {uid} is not the chip these keys were first seen on", counter=tap.counter)
    # The check values pin the key set this tap verified under: a replacement committed since the row was read
    # (new keys, this set moved to the previous ones) is not confirmed, nor its fresh counter spent, by it.
    fresh = SunKeys.objects.filter(
        Q(uid="") | Q(uid=uid),
        pk=keys.pk,
        meta_read_kcv=keys.meta_read_kcv,
        file_read_kcv=keys.file_read_kcv,
        last_counter__lt=tap.counter,
    ).update(last_counter=tap.counter, uid=uid, last_tap_at=timezone.now(), **_NO_PREVIOUS_KEYS)
    if not fresh:
        return _refused(tag, f"replay: read counter {tap.counter} is not above the last one seen", tap.counter)
    if keys.known_to_previous_owner:
        return _refused(tag, "keys known to a previous owner of the thing (re-key the chip)", tap.counter)
    return TapVerdict(True, counter=tap.counter)


# What confirming a replacement writes: the chip answered under its new keys, so the previous ones are destroyed.
_NO_PREVIOUS_KEYS: dict[str, object] = {
    "previous_master_key": None,
    "previous_meta_read_key": None,
    "previous_file_read_key": None,
    "previous_meta_read_kcv": "",
    "previous_file_read_kcv": "",
    "previous_uid": "",
    "previous_last_counter": -1,
    "previous_known_to_previous_owner": False,
    "replaced_at": None,
}


def _previous_keys_check(tag: Tag, keys: SunKeys, params: sun.SunParams, *, problem: str) -> TapVerdict:
    """A tap of a chip not yet programmed with its replacement keys: checked under the keys it still carries, with
    their own UID binding and counter. The conditional UPDATE names the previous set's check value, so a tap that
    races the confirming tap under the new keys (which destroys this set) does not count."""
    try:
        tap = sun.verify(
            meta_key=_unseal(keys.previous_meta_read_key), file_key=_unseal(keys.previous_file_read_key), params=params
        )
    except sun.SunError:
        return _refused(tag, problem)
    except VaultError:
        return _keys_unavailable(tag)
    uid = tap.uid.hex().upper()
    if keys.previous_uid and keys.previous_uid != uid:
        return _refused(tag, f"UID {uid} is not the chip the previous keys were seen on", counter=tap.counter)
    fresh = SunKeys.objects.filter(
        Q(previous_uid="") | Q(previous_uid=uid),
        pk=keys.pk,
        previous_meta_read_kcv=keys.previous_meta_read_kcv,
        previous_file_read_kcv=keys.previous_file_read_kcv,
        previous_last_counter__lt=tap.counter,
    ).update(previous_last_counter=tap.counter, previous_uid=uid, last_tap_at=timezone.now())
    if not fresh:
        return _refused(tag, f"replay: read counter {tap.counter} is not above the last one seen", tap.counter)
    if keys.previous_known_to_previous_owner:
        return _refused(tag, "keys known to a previous owner of the thing (re-key the chip)", tap.counter)
    logger.info("NFC tap of tag %s verified under its previous keys: the chip is not re-programmed yet", tag.pk)
    return TapVerdict(True, counter=tap.counter)


def _keys_unavailable(tag: Tag) -> TapVerdict:
    logger.error("SUN keys of tag %s do not open with this KEY_ENCRYPTION_KEY", tag.pk)
    return TapVerdict(False, reason="keys unavailable")


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
NO_SUN_TAG = (
    "This needs a genuine tap of the thing's NFC tag, and it has no NTAG 424 DNA tag: its owner can program one "
    "on the thing's NFC tags page (Tags, then NFC tags)."
)
KEYS_KNOWN_TO_PREVIOUS_OWNER = (
    "The thing's NFC tag still has the keys its previous owner knew, so a tap cannot prove the thing is in hand. "
    "Its owner must re-key the tag on the thing's NFC tags page (Tags, then NFC tags), program the chip with the "
    "new file, then tap it."
)


class GenuineTapRequired(PermissionDenied):
    """403: the action requires a recent genuine tap of the thing's SUN tag (e.g. a keeper's check-in)."""


class TapState(StrEnum):
    """Whether a thing's tags can give a genuine tap at all."""

    NO_SUN_TAG = "none"  # no active tag with SUN keys
    KEYS_KNOWN = "known"  # every SUN tag's keys were held by a previous owner: re-key first
    READY = "ready"


def tap_state(*, twin_id: int) -> TapState:
    """Can a tap of this thing's tags be genuine now? (One query; reads no key.)"""
    known = list(
        SunKeys.objects.filter(tag__twin_id=twin_id, tag__status=Tag.Status.ACTIVE).values_list(
            "known_to_previous_owner", flat=True
        )
    )
    if not known:
        return TapState.NO_SUN_TAG
    return TapState.KEYS_KNOWN if all(known) else TapState.READY


def require_genuine_tap(request: HttpRequest, *, twin_id: int, within: int = GENUINE_TAP_SECONDS) -> None:
    """For an action that proves presence: call after the view's own access check (so strangers still get its
    404). Raises GenuineTapRequired (403, with a message that says what to do) unless the thing has a SUN tag whose
    keys no previous owner held and the signed-in person tapped it, genuinely, in the last `within` seconds."""
    state = tap_state(twin_id=twin_id)
    if state == TapState.NO_SUN_TAG:
        raise GenuineTapRequired(NO_SUN_TAG)
    if state == TapState.KEYS_KNOWN:
        raise GenuineTapRequired(KEYS_KNOWN_TO_PREVIOUS_OWNER)
    if not has_genuine_tap(request, twin_id=twin_id, within=within):
        raise GenuineTapRequired(GENUINE_TAP_REQUIRED)


def on_transferred(event: events.Transferred) -> None:
    """The thing changed hands (in the transfer's transaction): the seller saw its tags' SUN keys when they were
    provisioned, so none of them proves anything to the buyer until the chip is re-keyed."""
    SunKeys.objects.filter(tag__twin_id=event.twin_id).update(
        known_to_previous_owner=True, previous_known_to_previous_owner=True
    )
    # A genuine tap remembered in a session from before the sale counts no more either: require_genuine_tap
    # refuses while every SUN tag of the thing has keys a previous owner held (tap_state).


# Provisioning: fresh keys for a batch of chips, shown once.


@dataclass(frozen=True)
class KeySet:
    """Keys 0, 1 and 2 of an NTAG 424 DNA. Out of repr: a traceback or a log line that prints one shows no key."""

    master_key: bytes = field(repr=False)
    meta_read_key: bytes = field(repr=False)
    file_read_key: bytes = field(repr=False)


@dataclass(frozen=True)
class ProvisionedTag:
    """A tag with the keys its chip must be programmed with. The only time the keys exist in the clear outside a
    request that verifies a tap.

    For a replacement, `chip_keys` are the keys the chip carries now (a programming tool needs them to
    authenticate and to ChangeKey), shown this once more; None for a chip still at its factory keys. When an
    earlier replacement was never confirmed by a tap, `unconfirmed_keys` are that replacement's keys, which the
    chip carries instead if it was programmed from that file and not tapped since."""

    tag: Tag
    master_key: bytes = field(repr=False)
    meta_read_key: bytes = field(repr=False)
    file_read_key: bytes = field(repr=False)
    chip_keys: KeySet | None = None
    unconfirmed_keys: KeySet | None = None


def _sealed(key: bytes) -> bytes:
    # Defence in depth: new_key never draws one, but nothing weak is ever stored (SECURITY 18).
    if sun.is_weak_key(key):
        raise ValidationError("Refused an all-zero, factory or published example key.")
    return vault.seal(key)


MAX_PROVISION = 1000


def _opened(master: bytes | memoryview, meta: bytes | memoryview, file: bytes | memoryview, tag: Tag) -> KeySet:
    try:
        return KeySet(_unseal(master), _unseal(meta), _unseal(file))
    except VaultError:
        raise ValidationError(
            f"The keys of tag {tag.display_code} do not open with this server's KEY_ENCRYPTION_KEY, so the chip's "
            "current keys cannot be given for re-keying it. Restore the key the keys were sealed under."
        ) from None


@transaction.atomic
def sun_provision(*, tags: list[Tag], replace: bool = False) -> list[ProvisionedTag]:
    """Fresh SUN keys for each tag (keys 0, 1 and 2 of an NTAG 424 DNA). A tag that has keys already is refused
    unless `replace`.

    A replacement keeps the keys the chip carries as the tag's previous keys: they are in the result (the
    programming tool authenticates with them), taps under them are still checked (tags.nfc.sun_tap_check) and the
    first verified tap under the new keys destroys them. The new keys start with no chip binding and no counter,
    and with no previous owner having seen them."""
    if not 1 <= len(tags) <= MAX_PROVISION:
        raise ValidationError(f"Choose 1 to {MAX_PROVISION} tags.")
    if any(tag.status == Tag.Status.RETIRED for tag in tags):
        raise ValidationError("A retired tag cannot be programmed.")
    # Keys made here for a thing on its way to another host would stay behind: the chip would fail there.
    leaving.refuse_if_any_leaving(tag.twin_id for tag in tags if tag.twin_id)
    # Locked: two replacements at once must not both take the same keys as the chip's.
    existing = {keys.tag_id: keys for keys in SunKeys.objects.select_for_update().filter(tag__in=tags)}
    if existing and not replace:
        codes = ", ".join(tag.display_code for tag in tags if tag.pk in existing)
        raise ValidationError(f"These tags have SUN keys already: {codes}. Choose to replace them, or leave them out.")
    provisioned = []
    now = timezone.now()
    for tag in tags:
        master, meta, file = sun.new_key(), sun.new_key(), sun.new_key()
        fresh = {
            "master_key": _sealed(master),
            "meta_read_key": _sealed(meta),
            "file_read_key": _sealed(file),
            "meta_read_kcv": sun.key_check_value(meta),
            "file_read_kcv": sun.key_check_value(file),
            "uid": "",
            "last_counter": -1,
            "last_tap_at": None,
            "provisioned_at": now,
            "known_to_previous_owner": False,
        }
        old = existing.get(tag.pk)
        if old is None:
            SunKeys.objects.create(tag=tag, **fresh)
            provisioned.append(ProvisionedTag(tag, master, meta, file))
            continue
        unconfirmed = None
        if old.previous_meta_read_key is not None:
            # An earlier replacement no tap has confirmed: the chip most likely still carries the keys before it,
            # which stay the previous keys; the unconfirmed ones are given once more, then forgotten.
            chip = _opened(old.previous_master_key, old.previous_meta_read_key, old.previous_file_read_key, tag)
            unconfirmed = _opened(old.master_key, old.meta_read_key, old.file_read_key, tag)
            previous: dict = {}
        else:
            chip = _opened(old.master_key, old.meta_read_key, old.file_read_key, tag)
            previous = {
                "previous_master_key": old.master_key,
                "previous_meta_read_key": old.meta_read_key,
                "previous_file_read_key": old.file_read_key,
                "previous_meta_read_kcv": old.meta_read_kcv,
                "previous_file_read_kcv": old.file_read_kcv,
                "previous_uid": old.uid,
                "previous_last_counter": old.last_counter,
                "previous_known_to_previous_owner": old.known_to_previous_owner,
            }
        weak = _weak(chip)
        if weak:
            # Weak keys prove nothing (SECURITY 18): the tool still gets them to authenticate, but no tap under
            # them counts, and they are not kept (so replacing them also clears the startup refusal at once).
            previous = dict(_NO_PREVIOUS_KEYS)
        SunKeys.objects.filter(pk=old.pk).update(**{"replaced_at": None if weak else now, **fresh, **previous})
        provisioned.append(ProvisionedTag(tag, master, meta, file, chip_keys=chip, unconfirmed_keys=unconfirmed))
    return provisioned


def _weak(keys: KeySet) -> bool:
    return any(
        sun.is_weak_key(key) or sun.key_check_value(key) in sun.WEAK_KEY_CHECK_VALUES
        for key in (keys.meta_read_key, keys.file_read_key)
    )


def weak_sun_keys() -> list[str]:
    """The display codes of the tags whose stored keys (current, or previous while a replacement is pending) include
    a factory, all-zero or published example key, by key check value: no key is unsealed."""
    weak = sun.WEAK_KEY_CHECK_VALUES
    found = SunKeys.objects.filter(
        Q(meta_read_kcv__in=weak)
        | Q(file_read_kcv__in=weak)
        | Q(previous_meta_read_kcv__in=weak)
        | Q(previous_file_read_kcv__in=weak)
    )
    return sorted(format_short_code(code) for code in found.values_list("tag__code", flat=True))
