"""Writes to twins, readings and the journal. Each is one atomic service and the one place for side effects."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.utils import timezone

from core.live import broadcast_after_commit
from core.validators import is_storable_text
from ssi import history as chain
from ssi import webvh
from ssi.jcs import MAX_SAFE_INTEGER, canonicalize
from twins import events, leaving
from twins.history import TwinDeactivated, history_append, history_redact, lock_twin
from twins.identity import creator_keys, twin_identity_create, twin_incept
from twins.latest import latest_advance
from twins.models import DidLogEntry, HistoryEntry, JournalNote, Reading, Twin
from twins.photos import clean_photo
from twins.pushes import note_event, reading_event

MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 60
MAX_ATTRIBUTE_VALUE = 500
# A reading may be back-dated freely but not dated far ahead (clock skew of a phone is fine).
MAX_FUTURE = timedelta(minutes=5)

EDITABLE_FIELDS = {
    "name",
    "icon",
    "model_name",
    "serial",
    "description",
    "reading_kind",
    "reading_unit",
    "attributes",
}
PUBLIC_FIELDS = {"use_profile_contact", *Twin.CONTACT_FIELDS, "show_thing_name", "show_photo", "show_description"}


def validate_attributes(value: Any) -> dict[str, str]:
    """Free key/values: a flat object of short strings."""
    if not isinstance(value, dict):
        raise ValidationError({"attributes": "Attributes must be an object of names to text values."})
    if len(value) > MAX_ATTRIBUTES:
        raise ValidationError({"attributes": f"At most {MAX_ATTRIBUTES} attributes."})
    cleaned: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_ATTRIBUTE_KEY:
            raise ValidationError({"attributes": f"Attribute names are 1–{MAX_ATTRIBUTE_KEY} characters."})
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ValidationError({"attributes": f"The value of {key!r} must be text or a number."})
        text = str(item)
        if len(text) > MAX_ATTRIBUTE_VALUE:
            raise ValidationError({"attributes": f"The value of {key!r} is longer than {MAX_ATTRIBUTE_VALUE}."})
        # The JSON column refuses NUL and lone surrogates on PostgreSQL (core.validators): a 400 here, not a 500.
        if not is_storable_text(key) or not is_storable_text(text):
            raise ValidationError(
                {"attributes": f"Attribute {key!r}: names and values may not contain NUL or lone surrogates."}
            )
        cleaned[key.strip()] = text
    return cleaned


def _save_validated(instance, *, update_fields: list[str] | None = None) -> None:
    # full_clean turns oversize text and bad choices into ValidationError before the database sees them.
    instance.full_clean(exclude=["owner", "twin", "photo"])
    instance.save(update_fields=update_fields)


@transaction.atomic
def twin_create(*, owner, name: str, photo: UploadedFile | None = None, **fields: Any) -> Twin:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if "attributes" in fields:
        fields["attributes"] = validate_attributes(fields["attributes"])
    twin = Twin(owner=owner, name=(name or "").strip(), **fields)
    if photo is not None:
        twin.photo = clean_photo(photo)
    _save_validated(twin)
    twin_identity_create(twin=twin, creator=owner)
    history_append(twin=twin, kind=HistoryEntry.Kind.CREATED, content={"name": twin.name})
    events.send(events.TwinCreated(twin_id=twin.pk, owner_id=twin.owner_id))
    return twin


@transaction.atomic
def twin_update(*, twin: Twin, **fields: Any) -> Twin:
    unknown = set(fields) - EDITABLE_FIELDS - PUBLIC_FIELDS
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    leaving.refuse_if_leaving(twin)
    if "attributes" in fields:
        fields["attributes"] = validate_attributes(fields["attributes"])
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
    for key, value in fields.items():
        setattr(twin, key, value)
    # Only what changed: a whole-row save of a twin loaded before a move's confirmation or cancel would write back
    # its stale move state (leaving_to, moved_to) along with the edit.
    _save_validated(twin, update_fields=[*fields, "updated_at"])
    return twin


@transaction.atomic
def twin_set_photo(*, twin: Twin, photo: UploadedFile | None) -> Twin:
    """Replace (or with None remove) the photo. The new file is validated before the old one goes."""
    leaving.refuse_if_leaving(twin)
    old = twin.photo.name if twin.photo else ""
    twin.photo = clean_photo(photo) if photo is not None else ""
    twin.save(update_fields=["photo", "updated_at"])
    if old:
        storage = twin.photo.storage
        transaction.on_commit(lambda: storage.delete(old))
    return twin


@transaction.atomic
def twin_set_archived(*, twin: Twin, archived: bool) -> Twin:
    leaving.refuse_if_leaving(twin)
    twin.archived_at = timezone.now() if archived else None
    twin.save(update_fields=["archived_at", "updated_at"])
    return twin


@transaction.atomic
def twin_set_lost(*, twin: Twin, lost: bool, reward: str = "") -> Twin:
    if len(reward) > 200:
        raise ValidationError({"lost_reward": "The reward text is at most 200 characters."})
    leaving.refuse_if_leaving(twin)
    if lost and not twin.lost:
        twin.lost_since = timezone.now()
    if not lost:
        twin.lost_since = None
    twin.lost = lost
    twin.lost_reward = reward.strip()
    twin.save(update_fields=["lost", "lost_reward", "lost_since", "updated_at"])
    return twin


def _clean_value(value: Any) -> float:
    if isinstance(value, bool):
        raise ValidationError({"value": "A reading is a number."})
    if isinstance(value, str):
        value = value.strip().replace(",", ".")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({"value": "A reading is a number, like 5.4."}) from None
    if not math.isfinite(number):
        raise ValidationError({"value": "A reading must be a finite number."})
    if not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        # Beyond this, JSON (and PostgreSQL's jsonb) cannot keep the value exactly: its history entry would not verify.
        raise ValidationError(
            {"value": f"A reading must be a number between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}."}
        )
    return number


@transaction.atomic
def reading_add(
    *,
    twin: Twin,
    value: Any,
    kind: str | None = None,
    unit: str | None = None,
    time: datetime | None = None,
    source: str = Reading.Source.MANUAL,
    note: str = "",
    by: Any = None,
) -> Reading:
    """Store one reading; move the twin's "latest" only if this reading is not older than the latest. `by`: who
    recorded it (the owner or a keeper), for twins.attribution."""
    now = timezone.now()
    time = time or now
    if timezone.is_naive(time):
        raise ValidationError({"time": "The time needs a time zone, like 2026-01-31T08:00:00Z."})
    if time > now + MAX_FUTURE:
        raise ValidationError({"time": "The time is in the future."})
    reading = Reading(
        twin=twin,
        kind=(kind or twin.reading_kind).strip(),
        value=_clean_value(value),
        unit=(twin.reading_unit if unit is None else unit).strip(),
        time=time,
        source=source,
        note=note,
        added_by=by,
    )
    reading.full_clean(exclude=["twin", "added_by"])
    reading.save()
    history_append(twin=twin, kind=HistoryEntry.Kind.READING, content=history_content([reading]), ref_id=reading.pk)
    # SECURITY 33: a late, older reading racing a newer one never moves "latest" backwards (twins.latest).
    moved = latest_advance(twin=twin, readings=[reading])
    broadcast_after_commit(
        owner_id=twin.owner_id, twin_id=twin.pk, event=reading_event(reading, twin=twin, latest=moved is not None)
    )
    events.send(events.ReadingsStored(twin_id=twin.pk, owner_id=twin.owner_id, reading_ids=(reading.pk,), count=1))
    return reading


@transaction.atomic
def note_create(*, twin: Twin, title: str, text: str = "", time: datetime | None = None, by: Any = None) -> JournalNote:
    """Add a journal note; `by`: who wrote it (the owner or a keeper), for twins.attribution."""
    note = JournalNote(twin=twin, title=(title or "").strip(), text=text, time=time or timezone.now(), added_by=by)
    _save_validated(note)
    _note_history(note, "create")
    _note_broadcast(note, "create")
    return note


def _note_broadcast(note: JournalNote, action: str) -> None:
    twin = note.twin
    broadcast_after_commit(owner_id=twin.owner_id, twin_id=twin.pk, event=note_event(note, action=action))
    events.send(events.JournalChanged(twin_id=twin.pk, owner_id=twin.owner_id, note_id=note.pk, action=action))


def _note_history(note: JournalNote, action: str) -> None:
    content = {"note": note.pk, "action": action}
    if action != "delete":
        content.update(title=note.title, text=note.text, time=note.time.isoformat())
    history_append(twin=note.twin, kind=HistoryEntry.Kind.NOTE, content=content, ref_id=note.pk)


@transaction.atomic
def note_update(*, note: JournalNote, **fields: Any) -> JournalNote:
    unknown = set(fields) - {"title", "text", "time"}
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for key, value in fields.items():
        setattr(note, key, value.strip() if key == "title" and isinstance(value, str) else value)
    _save_validated(note)
    _note_history(note, "edit")
    _note_broadcast(note, "edit")
    return note


@transaction.atomic
def note_delete(*, note: JournalNote) -> None:
    """Delete the note and redact what the history holds of it: its hashes stay, its words go."""
    history_redact(twin=note.twin, kinds=[HistoryEntry.Kind.NOTE], ref_id=note.pk)
    _note_history(note, "delete")
    _note_broadcast(note, "delete")
    note.delete()


@transaction.atomic
def twin_deactivate(*, twin: Twin) -> Twin:
    """End the twin's identity for good (the thing was destroyed): a final history entry, then a did:webvh
    deactivation entry signed by the owner's pre-committed next key. Nothing can be appended afterwards."""
    from owners.keys import SelfHeldKeyRequired, owner_log_signer
    from ssi import webvh
    from twins.identity import log_append, log_state

    twin = lock_twin(twin)
    if twin.deactivated_at is not None:
        raise TwinDeactivated(TwinDeactivated.message)
    state = log_state(twin)
    try:
        signer = owner_log_signer(owner=twin.owner, did=state.did, committed=state.next_key_hashes)
    except SelfHeldKeyRequired:
        raise ValidationError("Your keys are self-held: deactivation needs your signature (not offered yet).") from None
    if signer is None:
        raise ValidationError("Your key does not control this twin's log.")
    final = history_append(
        twin=twin, kind=HistoryEntry.Kind.DEACTIVATED, content={"reason": "deactivated by the owner"}
    )
    # versionTime has whole seconds: date the deactivation strictly after the final history entry, or that entry
    # would fall after the end of the twin key's validity and the chain would no longer verify.
    after = max(final.time.replace(microsecond=0), state.latest.time) + timedelta(seconds=1)
    entry = webvh.sign_entry(
        webvh.build_entry(
            state,
            params={"updateKeys": [signer.multibase], "nextKeyHashes": [], "deactivated": True},
            version_time=after,
        ),
        signer,
    )
    log_append(twin, state, [entry])
    twin.deactivated_at = timezone.now()
    twin.lost = False
    twin.save(update_fields=["deactivated_at", "lost", "updated_at"])
    events.send(events.Deactivated(twin_id=twin.pk, owner_id=twin.owner_id))
    return twin


def _json_number(value: float) -> float | int:
    """The same JSON number, as an int when it is integral: JCS (RFC 8785) prints 20.0 and 20 alike, and plain
    ints let ssi.jcs take its fast path instead of its full serializer for the whole (up to 1,000-reading) entry."""
    return int(value) if value.is_integer() and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else value


def new_reading(**fields: Any) -> Reading:
    """An unsaved Reading without Model.__init__ (about 20 µs a reading, most of a 1,000-reading batch's
    Python time): every concrete field gets its default, then `fields`. For ingestion; no signals are sent
    (none are connected to Reading)."""
    reading = Reading.__new__(Reading)
    reading.__dict__ = {**_READING_DEFAULTS, **fields, "_state": ModelState()}  # one dict, built at once
    return reading


_READING_DEFAULTS = {
    "id": None,
    "twin_id": None,
    "added_by_id": None,
    "note": "",
    "source": Reading.Source.MANUAL,
    "unit": "",
    "created_at": None,
    "device_signed": False,
    "device_key": "",
    "signature": "",
    "signed_content": None,
}


def reading_content(reading: Reading) -> dict[str, Any]:
    content = {
        "reading": reading.pk,
        "kind": reading.kind,
        "value": _json_number(reading.value),
        "unit": reading.unit,
        "time": reading.time.isoformat(),
        # str(): a TextChoices member is a str subclass, which sends ssi.jcs down its slow path.
        "source": str(reading.source),
    }
    if reading.device_signed:
        # The device's provenance goes into the signed history too: key, signature and the object it signed.
        content["device"] = {
            "key": reading.device_key,
            "signature": reading.signature,
            "signed": reading.signed_content,
        }
    return content


def history_content(readings: list[Reading]) -> dict[str, Any]:
    """The content of ONE history entry committing to `readings`: a single reading's own content (exactly the
    entry `reading_add` makes), several readings' contents listed under "readings"."""
    if len(readings) == 1:
        return reading_content(readings[0])
    return {"readings": [reading_content(reading) for reading in readings]}


def history_content_jcs(readings: list[Reading]) -> bytes:
    """The JCS (RFC 8785) bytes of :func:`history_content`, equal to ``ssi.jcs.canonicalize`` of it (a property
    test holds them equal), built as text in one loop: on a 1,000-reading batch, building the dicts and then
    encoding them cost several times more. Readings the loop cannot vouch for (a value JCS prints differently
    from repr, a lone surrogate) go through ``ssi.jcs.canonicalize`` and raise what it raises."""
    # Members in JCS order: device, kind, reading, source, time, unit, value. The text around the id, the time
    # and the value depends only on kind, source and unit, the same for most readings of a message.
    around: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    items = []
    append = items.append
    for r in readings:
        pk, kind, unit, source, value, time = r.pk, r.kind, r.unit, r.source, r.value, r.time
        parts = around.get((kind, source, unit))
        if parts is None:
            if not (kind.isascii() or not _SURROGATE.search(kind)) or not (
                unit.isascii() or not _SURROGATE.search(unit)
            ):
                return canonicalize(history_content(readings))
            parts = around[(kind, source, unit)] = (
                '{"kind":' + _quote(kind) + ',"reading":',
                ',"source":' + _quote(str(source)) + ',"time":"',
                '","unit":' + _quote(unit) + ',"value":',
            )
        if type(pk) is not int:
            return canonicalize(history_content(readings))
        # ECMAScript and repr print a number alike as an integer in the safe range (20.0 is "20") or a
        # non-integral float with 1e-4 <= |x| < 1e16 (ssi.jcs's module docstring); anything else: the full encoder.
        if value.is_integer():
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                return canonicalize(history_content(readings))
            number = int(value).__repr__()
        elif 1e-4 <= abs(value) < 1e16:
            number = float(value).__repr__()
        else:
            return canonicalize(history_content(readings))
        # isoformat of an aware datetime costs three times that of a naive one, most of it for the offset.
        iso = time.replace(tzinfo=None).isoformat() + "+00:00" if time.tzinfo is UTC else time.isoformat()
        if r.device_signed:
            key, signature = r.device_key, r.signature
            if not (key.isascii() and signature.isascii()):
                return canonicalize(history_content(readings))
            # The signed object is the sender's JSON: canonicalized on its own, as a JCS member is.
            signed = canonicalize(r.signed_content).decode("utf-8")
            device = f'{{"device":{{"key":{_quote(key)},"signature":{_quote(signature)},"signed":{signed}}},'
            append(f"{device}{parts[0][1:]}{pk}{parts[1]}{iso}{parts[2]}{number}}}")
        else:
            append(f"{parts[0]}{pk}{parts[1]}{iso}{parts[2]}{number}}}")
    text = items[0] if len(items) == 1 else '{"readings":[' + ",".join(items) + "]}"
    return text.encode("utf-8")


# RFC 8785 §3.2.2.2 string escaping is CPython's json string encoder's without ASCII escaping (ssi.jcs).
_quote = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring
# A lone surrogate cannot be encoded (canonicalize says so); any other character is written as it is.
_SURROGATE = re.compile("[\\ud800-\\udfff]")


# Redactors (twins.history.register_redactor, from TwinsConfig.ready): the rows behind removed history kinds.


def readings_remove(twin: Twin) -> None:
    Reading.objects.filter(twin=twin).delete()
    twin.latest_value, twin.latest_unit, twin.latest_at = None, "", None


def notes_remove(twin: Twin) -> None:
    JournalNote.objects.filter(twin=twin).delete()


@transaction.atomic
def twins_create_many(*, owner, items: list[dict[str, Any]], send_events: bool = True) -> list[Twin]:
    """Several twins at once, each as :func:`twin_create` leaves it (a DID log incepted by the owner's current key
    and committing to the next, a signed `created` history entry), built in memory and inserted in bulk, as
    makers.production does: one INSERT per kind instead of a locked append per twin. `items`: twin_create's
    keyword arguments (`name` and EDITABLE_FIELDS; no photo), each validated before anything is written (a bad
    one raises ValidationError and nothing is made).

    `send_events=False`: the caller sends TwinCreated for each twin itself, in this transaction, once it has added
    what it issues in bulk (imports issues the ownership credentials of a batch at once first)."""
    twins: list[Twin] = []
    for item in items:
        fields = dict(item)
        name = fields.pop("name", "")
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
        if "attributes" in fields:
            fields["attributes"] = validate_attributes(fields["attributes"])
        twin = Twin(owner=owner, name=(name or "").strip(), **fields)
        # Each field's own checks, in memory (an empty name is refused here: the field is not blank=True). Not
        # full_clean's per-row queries, a SELECT for the slug's uniqueness and one for the name's check constraint
        # (a third of a batch's time): the random 128-bit slug and the constraint are the database's to enforce,
        # on the whole batch at once (IntegrityError: nothing made).
        twin.full_clean(exclude=["owner", "twin", "photo"], validate_unique=False, validate_constraints=False)
        twins.append(twin)
    if not twins:
        return []
    creator = creator_keys(owner)  # the roots unsealed once; each twin's log names its own per-thing keys
    made = []
    for twin in twins:
        agent, state = twin_incept(twin, creator=creator)
        made.append((twin, agent, state))
    chunk = 500  # rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits
    Twin.objects.bulk_create(twins, batch_size=chunk)
    # twin_identity_create dates the ownership from the row's creation time, which the INSERT stamped.
    pks = [twin.pk for twin in twins]
    for i in range(0, len(pks), chunk):
        Twin.objects.filter(pk__in=pks[i : i + chunk]).update(owner_since=F("created_at"))
    for twin in twins:
        twin.owner_since = twin.created_at
    DidLogEntry.objects.bulk_create(
        [
            DidLogEntry(
                twin=twin,
                version_number=number,
                version_id=entry["versionId"],
                line=webvh.json_line(entry),
            )
            for twin, _, state in made
            for number, entry in enumerate(state.entries, start=1)
        ],
        batch_size=chunk,
    )
    history = []
    for twin, agent, state in made:
        time = datetime.now(UTC)
        entry = chain.append(
            None,
            content={"name": twin.name},
            kind=str(HistoryEntry.Kind.CREATED),
            key=agent,
            scid=state.scid,
            time=time,
        )
        history.append(
            HistoryEntry(twin=twin, seq=entry["seq"], kind=str(HistoryEntry.Kind.CREATED), time=time, entry=entry)
        )
    HistoryEntry.objects.bulk_create(history, batch_size=chunk)
    if send_events:
        for twin in twins:
            events.send(events.TwinCreated(twin_id=twin.pk, owner_id=twin.owner_id))
    return twins
