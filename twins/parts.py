"""The twins app's own share of a moving twin's package (twins.portability): the twin, its DID log, photo,
readings, journal and signed history. Registered from TwinsConfig.ready().

What moves and how:

- ``twin``: the Twin row's fields, slug and DID kept; the owner becomes the arrival's owner; the agent key travels
  UNSEALED (base64 of its seed) and is sealed again under this instance's key; the twin arrives ``arriving`` (not
  live, twins.moving.activate). Its creation time is kept. A thing coming back to a host it left arrives under a
  slug of its own beside the copy it left (``Arrival.copy_stays``); the copy gives way and the thing takes the slug
  when it goes live (twins.returning).
- ``did_log``: the lines exactly as signed. Verified here before anything is stored, and refused unless its last
  entry names this instance's DID domain (same path) and the arriving owner's current update key, and lists the
  travelling agent key: a log this instance could not serve, or that someone else controls, never lands.
- ``photo``: the file's bytes (base64), re-encoded on the way in as any upload is (twins.photos).
- ``readings``, ``journal``: every row, as compact lists, inserted in batches with their original ``created_at``
  (twins.attribution tells a previous owner's rows by it). ``added_by`` is kept when it was the owner (it becomes
  the arriving owner); another account (a keeper) does not exist here, so it is dropped.
- ``history``: every entry as signed, redacted ones without content and salt (their hashes stay); the chain is
  verified against the arriving DID log before it is stored, so it verifies here exactly as there. Restored after
  every other part (``after`` names ``*``) to map ``ref_id`` to the restored rows: readings and notes here, a
  feature's rows through ``arrival.remember("history.<kind>", old_pk, new_pk)``; a reference nobody mapped is
  dropped (it is informational; the entry's content still names the source's id).

Not moved: transfer offers. An open one stops a move (twins.moving.can_move); completed ones are the source's
record of past sales between accounts that do not exist here, and the history's transfer entries carry their
evidence (the buyer's signed acceptance).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils.dateparse import parse_datetime

from core.validators import is_storable_text
from core.vault import seal_key
from owners.keys import owner_holds_update_key, owner_keys_ensure
from ssi import history as chain
from ssi import webvh
from ssi.errors import SSIError
from ssi.keys import SigningKey
from twins.history import history_catch_up
from twins.identity import agent_key, did_path, log_state
from twins.models import DidLogEntry, HistoryEntry, JournalNote, Reading, Twin, new_public_id
from twins.photos import clean_photo
from twins.portability import ANY, Arrival, PackageError, Part, give_way, register
from twins.services import validate_attributes

BATCH = 1000
_SLUG = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")
# The Twin fields that travel as they are; the rest is the owner (the arrival's), the sealed agent key (travels
# unsealed), the photo (its own part), the row's times (kept by hand) and the move's own state.
_TWIN_SKIP = {
    "id",
    "owner",
    "agent_key_sealed",
    "photo",
    "created_at",
    "updated_at",
    "moved_to",
    "moved_at",
    "arriving",
    "leaving_to",
}
TWIN_FIELDS = tuple(f.name for f in Twin._meta.concrete_fields if f.name not in _TWIN_SKIP)
READING_COLUMNS = (
    "id",
    "kind",
    "value",
    "unit",
    "time",
    "source",
    "note",
    "created_at",
    "added_by_id",
    "device_signed",
    "device_key",
    "signature",
    "signed_content",
)
NOTE_COLUMNS = ("id", "title", "text", "time", "created_at", "updated_at", "added_by_id")
HISTORY_COLUMNS = ("seq", "kind", "time", "entry", "redacted", "ref_id")
_REF_LABELS = {HistoryEntry.Kind.READING: "twins.Reading", HistoryEntry.Kind.NOTE: "twins.JournalNote"}
_SOURCE_OWNER = "twins.parts:source-owner"
# The slug the thing has here once live: a return arrives under another until then (twins.returning).
_SLUG_HERE = "twins.parts:slug"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_when(raw: Any, what: str) -> datetime | None:
    if raw is None:
        return None
    moment = parse_datetime(raw) if isinstance(raw, str) else None
    if moment is None or moment.tzinfo is None:
        raise PackageError(f"the package's {what} has a time that is not an ISO 8601 time with a zone: {raw!r:.60}")
    return moment


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise PackageError(f"the package's {what} is not base64") from None


def _insert_as_is(model: type[models.Model], rows: list[models.Model]) -> None:
    """INSERT `rows` keeping every field as set, ``auto_now``/``auto_now_add`` ones included (a raw insert, as
    fixtures load: bulk_create would stamp them with now), in batches; sets each row's new primary key."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    pk = model._meta.pk
    for i in range(0, len(rows), BATCH):
        batch = rows[i : i + BATCH]
        returned = model._default_manager._insert(batch, fields=fields, returning_fields=[pk], raw=True)
        for row, values in zip(batch, returned, strict=True):
            row.pk = values[0]
            row._state.adding = False


def _storable(row: models.Model, names: tuple[str, ...], what: str) -> None:
    """Texts every database here can store (PostgreSQL refuses NUL and lone surrogates): refused the same way on
    each."""
    for name in names:
        value = getattr(row, name)
        if not isinstance(value, str) or not is_storable_text(value):
            raise PackageError(f"{what} has a {name} this host cannot store (not text, or a NUL or lone surrogate)")


def _owner_or_none(added_by_id: Any, arrival: Arrival) -> Any:
    """The arriving owner for a row the source's owner recorded; None for anyone else (not an account here)."""
    source_owner = arrival.lookup(_SOURCE_OWNER, "id")
    return arrival.owner.pk if added_by_id is not None and added_by_id == source_owner else None


# --- twin ----------------------------------------------------------------------------------------------------


def export_twin(twin: Twin) -> dict[str, Any]:
    fields = {}
    for name in TWIN_FIELDS:
        value = getattr(twin, name)
        fields[name] = _when(value) if isinstance(value, datetime) else value
    return {
        "fields": fields,
        "agent_key": _b64(agent_key(twin).seed) if twin.agent_key_sealed else None,
        "created_at": _when(twin.created_at),
        "owner_id": twin.owner_id,
    }


def _returning_to(slug: str, arrival: Arrival) -> Twin | None:
    """The copy a returning twin replaces, or None when ``slug`` is free here. PackageError for anything else.

    A twin that moved away from here and now comes back arrives under its old slug, and the copy it left behind
    gives way: only if that copy moved away, and the arriving DID log (verified here, not what the package
    claims) has the copy's SCID and extends the copy's log (the same entries, then more). A package that merely
    claims someone's DID must not take their slug."""
    existing = Twin.objects.filter(slug=slug).first()
    if existing is None:
        return None
    # The same words as any other collision (twins.portability): which ids exist here is not the sender's business.
    refused = PackageError("the thing's id conflicts with data on this host")
    if not existing.moved_to or existing.arriving:
        raise refused
    lines = arrival.given.get("did_log")
    if not isinstance(lines, list) or not all(isinstance(line, str) and line.strip() for line in lines):
        raise refused
    try:
        state = webvh.verify_log([line.strip() for line in lines])
        copy_state = log_state(existing)
    except SSIError:
        raise refused from None
    stored = [entry["versionId"] for entry in copy_state.entries]
    arriving = [entry["versionId"] for entry in state.entries]
    if state.scid != copy_state.scid or len(arriving) <= len(stored) or arriving[: len(stored)] != stored:
        raise refused
    return existing


def _replace(copy: Twin, twin: Twin) -> None:
    """The copy left here gives way to the same thing come back (twins.portability.give_way): what the package
    brings back of the thing's own goes with the copy, every other account's record about it (a recall notice, an
    inbox item, a past sale, the maker's row, a previous holder's credential) now points at the arriving ``twin``.
    A row that still keeps the copy (a PROTECT nobody re-pointed) refuses the arrival."""
    try:
        with transaction.atomic():
            give_way(copy, twin)
            copy.delete()
    except (ProtectedError, RestrictedError):
        raise PackageError("this thing's earlier copy on this host still has records that keep it here") from None


def _take_place(twin: Twin, slug: str, arrival: Arrival) -> None:
    """A return goes live: the copy that stood beside the arrived ``twin`` (checked again: still moved away, its
    log extended by the arriving one) gives way to it, and ``twin`` takes the slug. A copy gone meanwhile leaves
    the slug free."""
    copy = _returning_to(slug, arrival)
    if copy is not None:
        _replace(copy, twin)
    Twin.objects.filter(pk=twin.pk).update(slug=slug)
    twin.slug = slug


def restore_twin(data: Any, arrival: Arrival) -> None:
    try:
        given = dict(data["fields"])
        unknown = sorted(set(given) - set(TWIN_FIELDS))
        if unknown:
            names = ", ".join(unknown)
            raise PackageError(f"this host does not know the thing's {names} (it runs an older version)")
        slug, did = given.get("slug"), given.get("did")
        if not isinstance(slug, str) or not _SLUG.match(slug) or not isinstance(did, str):
            raise PackageError("the package's thing has no usable id")
        if "attributes" in given:
            given["attributes"] = validate_attributes(given["attributes"])
        values = {}
        for name, raw in given.items():
            field = Twin._meta.get_field(name)
            values[name] = _parse_when(raw, "thing") if isinstance(field, models.DateTimeField) else raw
        seed = _unb64(data.get("agent_key"), "agent key")
        if len(seed) != 32:
            raise PackageError("the package's agent key is not an Ed25519 key")
        created_at = _parse_when(data.get("created_at"), "thing")
        source_owner = data.get("owner_id")
    except ValidationError as exc:
        raise PackageError(f"the package's thing does not fit here: {'; '.join(exc.messages)[:300]}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PackageError(f"the package's thing is malformed ({type(exc).__name__})") from None
    arrival.remember(_SLUG_HERE, "slug", slug)
    if arrival.twin is not None:  # a return going live: the twin arrived beside its copy (twins.moving.activate)
        _take_place(arrival.twin, slug, arrival)
        arrival.remember(_SOURCE_OWNER, "id", source_owner)
        return
    copy = _returning_to(slug, arrival)
    if copy is not None:
        values["slug"] = new_public_id()  # until the copy has given way (slugs are unique)
        if arrival.copy_stays:
            values["did"] = ""  # and no DID here until then either (restore_did_log)
    twin = Twin(owner=arrival.owner, **values)
    twin.agent_key_sealed = seal_key(SigningKey.from_seed(seed))
    twin.arriving = True
    try:
        twin.full_clean(exclude=["owner", "photo"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise PackageError(f"the package's thing does not fit here: {'; '.join(exc.messages)[:300]}") from None
    twin.save()
    if copy is not None and not arrival.copy_stays:
        _replace(copy, twin)
        Twin.objects.filter(pk=twin.pk).update(slug=slug)
        twin.slug = slug
    if created_at is not None:
        Twin.objects.filter(pk=twin.pk).update(created_at=created_at)
        twin.created_at = created_at
    arrival.twin = twin
    arrival.remember(_SOURCE_OWNER, "id", source_owner)


# --- DID log -------------------------------------------------------------------------------------------------


def export_did_log(twin: Twin) -> list[str]:
    return list(DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True))


def restore_did_log(data: Any, arrival: Arrival) -> None:
    twin = arrival.twin
    if not isinstance(data, list) or not all(isinstance(line, str) and line.strip() for line in data):
        raise PackageError("the package's DID log is not a list of log lines")
    lines = [line.strip() for line in data]
    try:
        state = webvh.verify_log(lines)
    except SSIError as exc:
        raise PackageError(f"the thing's DID log does not verify: {exc}") from None
    slug = arrival.lookup(_SLUG_HERE, "slug") or twin.slug
    here = webvh.make_did(state.scid, settings.DID_DOMAIN, did_path(Twin(slug=slug)))
    if state.did != here:
        raise PackageError(f"the thing's DID log ends at {state.did}, not on this host ({here})")
    if state.deactivated:
        raise PackageError("the thing's DID is deactivated")
    owner_keys_ensure(owner=arrival.owner)
    if len(state.update_keys) != 1 or not owner_holds_update_key(
        owner=arrival.owner, did=state.did, update_keys=state.update_keys
    ):
        raise PackageError("the thing's DID log does not name your update key: it would not be yours here")
    if agent_key(twin).multibase not in webvh.assertion_keys(state.document):
        raise PackageError("the thing's agent key is not the one its DID document names")
    DidLogEntry.objects.bulk_create(
        [
            DidLogEntry(twin=twin, version_number=n, version_id=entry["versionId"], line=line)
            for n, (entry, line) in enumerate(zip(state.entries, lines, strict=True), start=1)
        ],
        batch_size=BATCH,
    )
    if not arrival.copy_stays:
        # A return beside its copy has no DID here until it goes live: the copy still answers for it (lookups by
        # DID or SCID find one thing), and the log it arrived with is in its rows.
        twin.did = state.did
        twin.save(update_fields=["did"])


# --- photo ---------------------------------------------------------------------------------------------------


def export_photo(twin: Twin) -> dict[str, str] | None:
    if not twin.photo:
        return None
    try:
        with twin.photo.open("rb") as handle:
            data = handle.read()
    except (FileNotFoundError, OSError):
        return None  # the file is gone here already: nothing to carry
    return {"name": twin.photo.name.rsplit("/", 1)[-1], "data": _b64(data)}


def restore_photo(data: Any, arrival: Arrival) -> None:
    if not isinstance(data, dict):
        raise PackageError("the package's photo is malformed")
    raw = _unb64(data.get("data"), "photo")
    try:
        photo = clean_photo(SimpleUploadedFile(str(data.get("name") or "photo.jpg")[:100], raw))
    except ValidationError as exc:
        raise PackageError(f"the thing's photo: {' '.join(exc.messages)}") from None
    twin = arrival.twin
    twin.photo = photo
    twin.save(update_fields=["photo"])


# --- readings and journal ------------------------------------------------------------------------------------


def _rows(qs: models.QuerySet, columns: tuple[str, ...]) -> Iterator[list[Any]]:
    for row in qs.order_by("id").values_list(*columns).iterator(chunk_size=BATCH):
        yield [_when(v) if isinstance(v, datetime) else v for v in row]


def export_readings(twin: Twin) -> dict[str, Any] | None:
    rows = list(_rows(Reading.objects.filter(twin=twin), READING_COLUMNS))
    return {"columns": list(READING_COLUMNS), "rows": rows} if rows else None


def _table(data: Any, columns: tuple[str, ...], what: str) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise PackageError(f"the package's {what} are malformed")
    given = data.get("columns")
    if given != list(columns):
        raise PackageError(f"the package's {what} have columns this host does not know: {given!r:.200}")
    out = []
    for row in data["rows"]:
        if not isinstance(row, list) or len(row) != len(columns):
            raise PackageError(f"the package's {what} are malformed")
        out.append(dict(zip(columns, row, strict=True)))
    return out


def restore_readings(data: Any, arrival: Arrival) -> None:
    twin = arrival.twin
    rows, olds = [], []
    for row in _table(data, READING_COLUMNS, "readings"):
        try:
            reading = Reading(
                twin=twin,
                kind=row["kind"],
                value=float(row["value"]),
                unit=row["unit"],
                time=_parse_when(row["time"], "readings"),
                source=row["source"],
                note=row["note"],
                created_at=_parse_when(row["created_at"], "readings"),
                added_by_id=_owner_or_none(row["added_by_id"], arrival),
                # Device-signed only where the signature holds here: the ingest part, which has the thing's device
                # keys, checks each one and marks it (the package is the old host's word; kept for the record).
                device_signed=False,
                device_key=row["device_key"],
                signature=row["signature"],
                signed_content=row["signed_content"],
            )
            if not math.isfinite(reading.value):
                raise ValueError("value")
            _storable(reading, ("kind", "unit", "note", "device_key", "signature"), "a reading")
            reading.clean_fields(exclude=["twin", "added_by"])
        except (TypeError, ValueError) as exc:
            raise PackageError(f"the package's readings are malformed ({type(exc).__name__})") from None
        except ValidationError as exc:
            raise PackageError(f"a reading does not fit here: {'; '.join(exc.messages)[:300]}") from None
        rows.append(reading)
        olds.append(row["id"])
        if len(rows) >= BATCH:
            _insert_and_remember(Reading, rows, olds, arrival)
            rows, olds = [], []
    _insert_and_remember(Reading, rows, olds, arrival)


def _insert_and_remember(model: type[models.Model], rows: list, olds: list, arrival: Arrival) -> None:
    if not rows:
        return
    _insert_as_is(model, rows)
    label = model._meta.label
    for old, row in zip(olds, rows, strict=True):
        arrival.remember(label, old, row.pk)


def export_journal(twin: Twin) -> dict[str, Any] | None:
    rows = list(_rows(JournalNote.objects.filter(twin=twin), NOTE_COLUMNS))
    return {"columns": list(NOTE_COLUMNS), "rows": rows} if rows else None


def restore_journal(data: Any, arrival: Arrival) -> None:
    rows, olds = [], []
    for row in _table(data, NOTE_COLUMNS, "journal notes"):
        try:
            note = JournalNote(
                twin=arrival.twin,
                title=row["title"],
                text=row["text"],
                time=_parse_when(row["time"], "journal"),
                created_at=_parse_when(row["created_at"], "journal"),
                updated_at=_parse_when(row["updated_at"], "journal"),
                added_by_id=_owner_or_none(row["added_by_id"], arrival),
            )
            _storable(note, ("title", "text"), "a journal note")
            note.clean_fields(exclude=["twin", "added_by"])
        except (TypeError, ValueError) as exc:
            raise PackageError(f"the package's journal notes are malformed ({type(exc).__name__})") from None
        except ValidationError as exc:
            raise PackageError(f"a journal note does not fit here: {'; '.join(exc.messages)[:300]}") from None
        rows.append(note)
        olds.append(row["id"])
    _insert_and_remember(JournalNote, rows, olds, arrival)


# --- signed history ------------------------------------------------------------------------------------------


def export_history(twin: Twin) -> dict[str, Any] | None:
    history_catch_up(twin=twin)  # what the catch-ups hold back (ingested readings) belongs in it
    qs = HistoryEntry.objects.filter(twin=twin).order_by("seq").values_list(*HISTORY_COLUMNS)
    rows = [[seq, kind, _when(time), entry, redacted, ref] for seq, kind, time, entry, redacted, ref in qs]
    return {"columns": list(HISTORY_COLUMNS), "rows": rows} if rows else None


def _ref(kind: str, old: Any, arrival: Arrival) -> int | None:
    found = arrival.lookup(_REF_LABELS.get(kind, f"history.{kind}"), old)
    return getattr(found, "pk", found) if found is not None else None


def restore_history(data: Any, arrival: Arrival) -> None:
    twin = arrival.twin
    rows = _table(data, HISTORY_COLUMNS, "history entries")
    entries = [row["entry"] for row in rows]
    try:
        state = log_state(twin)
        chain.verify_chain(entries, chain.KeySchedule.from_log(state), scid=state.scid)
    except SSIError as exc:
        raise PackageError(f"the thing's signed history does not verify: {exc}") from None
    made = []
    for row, entry in zip(rows, entries, strict=True):
        redacted = "content" not in entry
        if row["redacted"] is not redacted or row["seq"] != entry["seq"] or row["kind"] != entry["kind"]:
            raise PackageError(f"the thing's history entry {entry['seq']} does not match its row")
        made.append(
            HistoryEntry(
                twin=twin,
                seq=entry["seq"],
                kind=entry["kind"],
                time=_parse_when(row["time"], "history"),
                entry=entry,
                redacted=redacted,
                ref_id=_ref(entry["kind"], row["ref_id"], arrival),
            )
        )
    HistoryEntry.objects.bulk_create(made, batch_size=BATCH)


PARTS = (
    Part("twin", export_twin, restore_twin),
    Part("did_log", export_did_log, restore_did_log, after=("twin",), replaces=("twins.DidLogEntry",)),
    Part("photo", export_photo, restore_photo, after=("twin",)),
    Part("readings", export_readings, restore_readings, after=("twin",), replaces=("twins.Reading",)),
    Part("journal", export_journal, restore_journal, after=("twin",), replaces=("twins.JournalNote",)),
    Part(
        "history",
        export_history,
        restore_history,
        after=("twin", "did_log", "readings", "journal", ANY),
        replaces=("twins.HistoryEntry",),
    ),
)


def register_parts() -> None:
    for part in PARTS:
        register(part)
