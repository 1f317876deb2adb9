"""Device keys and device-signed readings.

A device (or its firmware) holds an Ed25519 key registered on its thing. It signs each reading it sends: a
detached signature over the JCS (RFC 8785) form of the signed object, which ingest.mapping defines (the members
thing, kind, value, unit, time the reading gives, values exactly as sent; time is required). A reading whose
signature verifies under a registered, non-revoked key of its thing is stored device-signed, with the key, the
signature and the signed object, so anyone can re-check it later with ssi alone (and at most once per thing: see
ALREADY_STORED)::

    keys.verify_signature(r["device_key"], jcs.canonicalize(r["signed_content"]), keys.decode_signature(r["signature"]))
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ingest.mapping import PayloadError, RawReading
from ingest.models import DeviceKey
from ssi import jcs
from ssi.errors import EncodingError, KeyError_, SignatureError
from ssi.keys import VerifyKey
from ssi.multibase import b64url_decode, b64url_encode, multibase_decode
from twins import leaving
from twins.models import Reading, Twin

MAX_KEYS_PER_TWIN = 20

# One device key per thing. A reading that does not sign `thing` (a source that feeds one thing lets a device leave
# it out) names no thing in what its device signed: were its key on two things, anyone holding a source of the other
# thing could store it there, device-signed. A key revoked on the other thing counts too (what it signed there while
# active could be replayed). The other thing is not named: it may be another account's.
ON_ANOTHER_THING = (
    "This key is registered on another thing already: one device key per thing, so that a reading signed for one"
    " cannot be stored on another. Generate a new key on the device for this thing (the reference client makes one"
    " with `python -m device init` in a new --home) and register that one."
)
SHARED_KEY_UNSIGNED_THING = (
    "This device key is registered on more than one thing: its readings must give `thing`, and the device must sign"
    " it. Better: give each thing's device a key of its own."
)


def clean_public_key(text: str) -> str:
    text = (text or "").strip()
    try:
        return VerifyKey.from_multibase(text).multibase
    except (KeyError_, EncodingError, ValueError):
        raise ValidationError({"public_key": "An Ed25519 public key is a Multikey, z6Mk…"}) from None


@transaction.atomic
def device_key_add(*, twin: Twin, public_key: str, label: str = "") -> DeviceKey:
    """Register a device key of `twin` (owner-only: the caller has checked ownership). Refused while the thing is on
    its way to another host or after it moved (twins.leaving: its keys travelled in the package already)."""
    leaving.refuse_if_leaving(twin)
    public_key = clean_public_key(public_key)
    label = (label or "").strip()
    if len(label) > 120:
        raise ValidationError({"label": "A label is at most 120 characters."})
    if DeviceKey.objects.filter(twin=twin, public_key=public_key).exists():
        raise ValidationError({"public_key": "This key is already registered for this thing."})
    if DeviceKey.objects.filter(public_key=public_key).exclude(twin=twin).exists():
        raise ValidationError({"public_key": ON_ANOTHER_THING})
    if DeviceKey.objects.filter(twin=twin).active().count() >= MAX_KEYS_PER_TWIN:
        raise ValidationError({"public_key": f"A thing has at most {MAX_KEYS_PER_TWIN} active device keys."})
    return DeviceKey.objects.create(twin=twin, public_key=public_key, label=label)


@transaction.atomic
def device_key_revoke(*, key: DeviceKey) -> DeviceKey:
    """From now on the key verifies nothing; readings it signed before keep their provenance. Refused while the
    thing is on its way to another host or after it moved (twins.leaving): a revocation here would not reach the
    keys that travelled; it is made on the new host."""
    leaving.refuse_if_leaving(Twin(pk=key.twin_id))
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def twin_set_require_device_signature(*, twin: Twin, required: bool) -> Twin:
    """Whether the thing's readings must be device-signed; refused like any change of its own fields while it is
    leaving or after it moved (twins.leaving)."""
    leaving.refuse_if_leaving(twin)
    twin.require_device_signature = required
    twin.save(update_fields=["require_device_signature", "updated_at"])
    return twin


def decode_signature(text: str) -> bytes:
    """Multibase (`z…` base58btc, `u…` base64url) or plain base64url (padding allowed) → 64 bytes.

    Multibase is tried first: a plain base64url string that starts with z or u practically never decodes as
    multibase to exactly 64 bytes (it would need seven leading '1's), while a base58 signature with leading zero
    bytes can be as short as a base64url one, so length alone cannot tell them apart.
    """
    raw = b""
    if text[:1] in ("z", "u"):
        try:
            raw = multibase_decode(text)
        except (EncodingError, ValueError):
            raw = b""
    if len(raw) != 64:
        try:
            raw = b64url_decode(text.rstrip("="))
        except (EncodingError, ValueError):
            raise SignatureError("bad signature encoding") from None
    if len(raw) != 64:
        raise SignatureError("an Ed25519 signature is 64 bytes")
    return raw


def signed_message(signed: dict[str, Any]) -> bytes:
    return jcs.canonicalize(signed)


class ThingKeys(dict[str, VerifyKey]):
    """A thing's active device keys by Multikey; `shared`: those of them registered on another thing too (revoked
    there or not), from before device_key_add refused that or brought by a moved thing. They keep working, for
    readings whose signed object names the thing (check_reading)."""

    shared: frozenset[str] = frozenset()


def active_keys(twin_ids: list[int]) -> dict[int, ThingKeys]:
    """The active device keys of each of `twin_ids`, one query (each key's "on another thing too" is a probe of
    the public_key index)."""
    keys: dict[int, ThingKeys] = {pk: ThingKeys() for pk in twin_ids}
    shared: dict[int, set[str]] = {}
    elsewhere = DeviceKey.objects.filter(public_key=OuterRef("public_key")).exclude(twin_id=OuterRef("twin_id"))
    rows = (
        DeviceKey.objects.active()
        .filter(twin_id__in=twin_ids)
        .annotate(elsewhere=Exists(elsewhere))
        .values_list("twin_id", "public_key", "elsewhere")
    )
    for twin_id, public_key, on_another_thing in rows:
        keys[twin_id][public_key] = VerifyKey.from_multibase(public_key)
        if on_another_thing:
            shared.setdefault(twin_id, set()).add(public_key)
    for twin_id, public_keys in shared.items():
        keys[twin_id].shared = frozenset(public_keys)
    return keys


def check_reading(*, item: RawReading, reading: Reading, twin: Twin, keys: dict[str, VerifyKey]) -> None:
    """Mark `reading` device-signed if `item` carries a valid signature by one of `keys` (the twin's active
    device keys, active_keys's ThingKeys) over a signed object that gives the reading's time, and its thing when the
    key is on another thing too; raise PayloadError naming the bad field otherwise (the time's or the thing's
    pointer when it is missing), or when the twin requires a signature."""
    if item.signature is None:
        if twin.require_device_signature:
            raise PayloadError(item.signature_pointer, "This thing accepts only device-signed readings.")
        return
    try:
        signature = decode_signature(item.signature)
    except SignatureError as exc:
        raise PayloadError(item.signature_pointer, f"The device signature is malformed: {exc}.") from None
    if item.time is None:
        # Without a signed time a captured reading could be sent again and stored at each new time of receipt, the
        # old value becoming the thing's latest (review finding 3). With it, a replay lands at the one moment the
        # device signed, where signatures_stored finds it stored already.
        raise PayloadError(
            item.field_pointer("time"), "A device-signed reading must give its time, and the device must sign it."
        )
    if item.key is not None:
        key = keys.get(item.key)
        if key is None:
            raise PayloadError(item.key_pointer, "This key is not an active device key of the thing.")
        candidates = [(item.key, key)]
    else:
        candidates = list(keys.items())
        if not candidates:
            raise PayloadError(item.signature_pointer, "The thing has no active device keys to check this signature.")
    try:
        message = signed_message(item.signed or {})
    except (EncodingError, TypeError, ValueError):
        raise PayloadError(item.signature_pointer, "The signed reading cannot be put in JCS form.") from None
    for public_key, key in candidates:
        try:
            key.verify(message, signature)
        except SignatureError:
            continue
        if public_key in getattr(keys, "shared", ()) and "thing" not in (item.signed or {}):
            # The signed object names no thing, and the key is on another thing too: the same bytes would verify
            # there. The signed `thing` resolved to this twin through this source, so with it the reading is this
            # thing's only.
            raise PayloadError(item.thing_pointer, SHARED_KEY_UNSIGNED_THING)
        reading.device_signed = True
        reading.device_key = public_key
        reading.signature = "u" + b64url_encode(signature)
        reading.signed_content = item.signed
        return
    raise PayloadError(item.signature_pointer, "The device signature does not verify.")


# --- Each device signature stored once per thing (review finding 3) ---------------------------------------------

# A device-signed reading is the device's statement "this value, at this time": stored once, it needs no second
# row. A relay (the source's cloud, anyone holding the source's secret) that sends a captured reading again, or a
# gateway that delivers at least once under new webhook-ids, gets a 2xx that stores nothing for it and names it in
# `refused` with this reason: the sender has nothing to fix, and an honest retry must not turn into a 4xx that makes
# a device set its queue aside. The signed time is required (check_reading), so a replay is always at the time the
# device signed, and is found by the thing's (twin, time) index without an index of its own on the readings table.
ALREADY_STORED = "This device-signed reading is stored already (the same signature for this thing): not stored again."

Signed = tuple[int, datetime, str]  # (twin id, time, signature as stored: "u" + base64url)


# PostgreSQL: one probe of the thing's (twin_id, time) index per reading (LATERAL ... LIMIT 1 keeps it a probe, never a
# join over the table), the readings as one JSON parameter (parsed in C; 500 readings cost ~2 ms of client CPU this
# way, ~7 ms as the ORM's IN lists, measured on the loaded machine).
_STORED = f"""
SELECT r.n FROM jsonb_to_recordset(%s::jsonb) AS r(n int, twin_id bigint, time timestamptz, signature text)
CROSS JOIN LATERAL (
    SELECT 1 FROM {Reading._meta.db_table} x
    WHERE x.twin_id = r.twin_id AND x.time = r.time AND x.signature = r.signature LIMIT 1
) AS found
"""  # noqa: S608


def signatures_stored(readings: Iterable[Any]) -> set[Signed]:
    """Those of `readings` (device-signed ones count, others are ignored) whose signature is stored already for
    their thing at their time: one query for all of them. Before the write and without a lock: the store's own
    check under the things' locks (ingest.store) settles two deliveries racing each other."""
    wanted = list({(r.twin_id, r.time, r.signature) for r in readings if r.device_signed})
    if not wanted:
        return set()
    if connection.vendor == "postgresql":
        rows = [{"n": n, "twin_id": w[0], "time": w[1].isoformat(), "signature": w[2]} for n, w in enumerate(wanted)]
        with connection.cursor() as cursor:
            cursor.execute(_STORED, [json.dumps(rows)])
            return {wanted[n] for (n,) in cursor.fetchall()}
    found = Reading.objects.filter(
        twin_id__in={w[0] for w in wanted},
        time__in={w[1] for w in wanted},
        signature__in={w[2] for w in wanted},
    ).values_list("twin_id", "time", "signature")
    chosen = set(wanted)
    return {row for row in found if row in chosen}


def leave_out_repeats(
    readings: dict[Twin, list[Any]], raw: list[RawReading], stored: set[Signed]
) -> list[dict[str, str]]:
    """Take out of `readings` (ingest.services.resolve_readings's answer, changed in place) each device-signed
    reading whose signature is in `stored` or came earlier in the same message, and drop a thing left with none;
    the ``{"pointer", "thing", "reason"}`` entries naming them (the pointer: the reading's signature), for the
    answer's `refused`. `raw`: the message's readings as given, where the pointers come from (only worked out when
    something is left out)."""
    seen: set[Signed] = set()
    repeats: list[tuple[Twin, str, bool]] = []  # (thing, signature, stored before this message)
    for twin in list(readings):
        kept = []
        for reading in readings[twin]:
            if reading.device_signed:
                signed = (reading.twin_id, reading.time, reading.signature)
                if signed in stored or signed in seen:
                    repeats.append((twin, reading.signature, signed in stored))
                    continue
                seen.add(signed)
            kept.append(reading)
        if not kept:
            del readings[twin]
        elif len(kept) != len(readings[twin]):
            readings[twin] = kept
    if not repeats:
        return []
    # Each signature's occurrences in the message, in order: one stored before is left out at every occurrence,
    # one repeated within the message at every occurrence but its first.
    places: dict[str, list[str]] = {}
    for item in raw:
        if item.signature is not None:
            try:
                text = "u" + b64url_encode(decode_signature(item.signature))
            except SignatureError:
                continue
            places.setdefault(text, []).append(item.signature_pointer)
    left_out: dict[str, int] = {}
    refused = []
    for twin, signature, before in repeats:
        n = left_out[signature] = left_out.get(signature, 0 if before else 1) + 1
        found = places.get(signature) or [""]
        refused.append({"pointer": found[min(n - 1, len(found) - 1)], "thing": twin.slug, "reason": ALREADY_STORED})
    return refused
