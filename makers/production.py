"""Production: a manufacturer makes the twins of a product model, one or a batch of serials at a time, each with
its tag and a claim code printed inside the box.

Every produced twin is owned by the organisation's account and is, in every respect a buyer or a verifier can
check, a twin made by `twins.services.twin_create` and given a tag by `tags.services.tag_create`:

- its did:webvh log starts with an inception entry signed by the account's current key, which is the first
  `updateKeys` entry, with `nextKeyHashes` committing to the account's next key (so the claim, a normal
  transfer, is signed by that next key);
- its signed history starts with a `created` entry ({"name": …}) and a `tag` entry ({"tag": code, "action":
  "attach"}), both signed by the twin's own agent key, chained from the SCID's genesis hash;
- `TwinCreated` is sent for it (with `for_claim`), so every feature reacts as for any new twin; the ownership
  credential comes with the claim, the first owner's transfer;
- the organisation's DID issues it an authenticity credential (makers.authenticity), which stays with the thing.

Made one by one that costs tens of milliseconds a twin (each append locks the twin and reads its head); a batch of
10,000 must fit in one request. So :func:`produce` builds the same rows in memory (the DID log entry through
`ssi.webvh.create`, the history through `ssi.history.append`, exactly the calls the one-by-one path makes) and
inserts each kind with one `bulk_create`. tests/makers/test_production.py verifies a produced twin's DID log and
history chain with the same verifiers as a twin_create'd one; bench/production.py compares the two paths.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F

from core.validators import is_storable_text
from credentials.authenticity import AuthenticityRefused
from makers import authenticity, gs1
from makers.claims import claim_code_hash, new_claim_code
from makers.models import ProducedThing, ProductDocument, ProductionBatch, ProductModel
from owners.models import Owner
from ssi import history as chain
from ssi import webvh
from ssi.keys import SigningKey
from tags.codes import new_short_code
from tags.models import Tag
from twins import events, panels
from twins.identity import creator_keys, twin_incept
from twins.models import ICONS, DidLogEntry, HistoryEntry, Twin

MAX_SERIALS = 10_000
# Rows per INSERT: well under SQLite's 32,766 bound variables and PostgreSQL's 65,535 parameters.
_CHUNK = 500
_TAG_ATTEMPTS = 5


class ProductionRefused(Exception):
    """The batch cannot be made as asked; nothing was written. `extra` names what is wrong (the duplicates)."""

    def __init__(self, message: str, *, extra: dict | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.status = status


# --- serials -----------------------------------------------------------------------------------------------------


def clean_serials(serials: list[str]) -> list[str]:
    """The serials as given, each checked against GS1 AI 21; duplicates within the list refused, naming them."""
    if not isinstance(serials, list) or not serials:
        raise ProductionRefused("Give at least one serial number.")
    if len(serials) > MAX_SERIALS:
        raise ProductionRefused(f"At most {MAX_SERIALS:,} serial numbers in one batch, not {len(serials):,}.")
    problems: list[str] = []
    for serial in serials:
        try:
            gs1.check_serial(serial)
        except gs1.GS1Error as exc:
            problems.append(str(exc))
            if len(problems) >= 10:
                break
    if problems:
        raise ProductionRefused(problems[0], extra={"serials": problems})
    seen: set[str] = set()
    duplicates: dict[str, None] = {}
    for serial in serials:
        if serial in seen:
            duplicates[serial] = None
        seen.add(serial)
    if duplicates:
        named = list(duplicates)
        raise ProductionRefused(
            f"These serial numbers appear more than once in the batch: {_listed(named)}.",
            extra={"duplicates": named},
        )
    return list(serials)


def serial_range(*, prefix: str, start: int, end: int, width: int = 0) -> list[str]:
    """`prefix` + each number from `start` to `end` inclusive, zero-padded to `width` digits."""
    if start < 0 or end < start:
        raise ProductionRefused("The range runs from a number to a larger (or equal) one, both 0 or more.")
    if end - start + 1 > MAX_SERIALS:
        raise ProductionRefused(f"At most {MAX_SERIALS:,} serial numbers in one batch.")
    return [f"{prefix}{number:0{width}d}" for number in range(start, end + 1)]


def _listed(items: list[str], most: int = 20) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _existing_serials(model: ProductModel, serials: list[str]) -> list[str]:
    found: list[str] = []
    for i in range(0, len(serials), _CHUNK):
        chunk = serials[i : i + _CHUNK]
        found += ProducedThing.objects.filter(model=model, serial__in=chunk).values_list("serial", flat=True)
    return sorted(found)


# --- production --------------------------------------------------------------------------------------------------


@dataclass
class _Made:
    twin: Twin
    agent: SigningKey
    state: webvh.LogState
    code: str = ""
    tag: Tag | None = None
    history: list[HistoryEntry] = field(default_factory=list)


def twin_fields(model: ProductModel) -> dict:
    """What a produced twin takes from its model."""
    kinds = model.reading_kinds or []
    first = kinds[0] if kinds and isinstance(kinds[0], dict) else {}
    return {
        "name": model.name,
        "icon": model.icon if model.icon in ICONS else "thing",
        "model_name": model.name,
        "reading_kind": (first.get("kind") or "reading")[:40],
        "reading_unit": (first.get("unit") or "")[:20],
    }


@transaction.atomic
def produce(*, model: ProductModel, serials: list[str], by: Owner | None) -> list[tuple[ProducedThing, str]]:
    """Make one twin per serial, owned by the model's organisation's account, each with an active tag and a claim
    code. Returns (produced row, claim code) per serial, in the order given; the codes exist nowhere else.

    All or nothing: a bad or duplicate serial (within `serials`, or already produced for the model) raises
    ProductionRefused naming them, before anything is written; a batch racing another for the same serial loses
    on the (model, serial) constraint and rolls back whole (ProductionRefused, 409)."""
    serials = clean_serials(serials)
    existing = _existing_serials(model, serials)
    if existing:
        raise ProductionRefused(
            f"These serial numbers were already produced for {model.name}: {_listed(existing)}.",
            extra={"duplicates": existing},
        )
    account = model.organisation.account
    fields = twin_fields(model)
    sample = Twin(owner=account, serial=serials[0], **fields)
    try:
        sample.full_clean(exclude=["owner", "photo"])
    except ValidationError as exc:
        raise ProductionRefused(" ".join(exc.messages)) from None
    batch = ProductionBatch.objects.create(model=model, created_by=by, count=len(serials))
    try:
        with transaction.atomic():
            made = _make(account, fields, serials)
            codes = [new_claim_code() for _ in made]
            produced = [
                ProducedThing(
                    twin=item.twin, model=model, serial=serial, batch=batch, claim_code_hash=claim_code_hash(code)
                )
                for item, serial, code in zip(made, serials, codes, strict=True)
            ]
            ProducedThing.objects.bulk_create(produced, batch_size=_CHUNK)
            # The maker's signed "we made this", one per serial, signed in this pass and inserted in bulk.
            authenticity.issue_for_produced(model, produced)
    except AuthenticityRefused as exc:
        raise ProductionRefused(exc.message, status=exc.status) from None
    except IntegrityError:
        raise ProductionRefused(
            "Another batch produced some of these serial numbers at the same moment; nothing was made. Try again.",
            status=409,
        ) from None
    for item in made:
        events.send(events.TwinCreated(twin_id=item.twin.pk, owner_id=account.pk, for_claim=True))
    return list(zip(produced, codes, strict=True))


def _make(account: Owner, fields: dict, serials: list[str]) -> list[_Made]:
    # Each twin's log names the account's per-thing keys (twins.identity), so a buyer of one thing cannot pick out
    # the maker's other things, nor its stock, by their logs; the roots are unsealed once for the batch.
    creator = creator_keys(account)
    made: list[_Made] = []
    for serial in serials:
        twin = Twin(owner=account, serial=serial, **fields)
        agent, state = twin_incept(twin, creator=creator)
        made.append(_Made(twin=twin, agent=agent, state=state))
    Twin.objects.bulk_create([item.twin for item in made], batch_size=_CHUNK)
    # twin_identity_create dates the ownership from the row's creation time, which the INSERT stamped.
    pks = [item.twin.pk for item in made]
    for i in range(0, len(pks), _CHUNK):
        Twin.objects.filter(pk__in=pks[i : i + _CHUNK]).update(owner_since=F("created_at"))
    for item in made:
        item.twin.owner_since = item.twin.created_at
    DidLogEntry.objects.bulk_create(
        [
            DidLogEntry(
                twin=item.twin,
                version_number=number,
                version_id=entry["versionId"],
                line=webvh.json_line(entry),
            )
            for item in made
            for number, entry in enumerate(item.state.entries, start=1)
        ],
        batch_size=_CHUNK,
    )
    _attach_tags(made)
    rows: list[HistoryEntry] = []
    for item in made:
        rows += _history(item)
    HistoryEntry.objects.bulk_create(rows, batch_size=_CHUNK)
    return made


def _attach_tags(made: list[_Made]) -> None:
    """One active tag per twin, as tags.services.tag_create makes it. Codes are 40 random bits: a clash with an
    existing tag is rare but possible, so clashes are drawn again before the INSERT, and a clash with a tag made
    at the same moment (the unique constraint) redraws the whole set."""
    for attempt in range(_TAG_ATTEMPTS):
        tags = [Tag(twin=item.twin, status=Tag.Status.ACTIVE, label="") for item in made]
        codes = [tag.code for tag in tags]
        taken = set()
        for i in range(0, len(codes), _CHUNK):
            taken |= set(Tag.objects.filter(code__in=codes[i : i + _CHUNK]).values_list("code", flat=True))
        seen: set[str] = set()
        for tag in tags:
            while tag.code in taken or tag.code in seen:
                tag.code = new_short_code()
            seen.add(tag.code)
        try:
            with transaction.atomic():
                Tag.objects.bulk_create(tags, batch_size=_CHUNK)
        except IntegrityError:
            if attempt == _TAG_ATTEMPTS - 1:
                raise
            continue
        for item, tag in zip(made, tags, strict=True):
            item.tag = tag
        return


def _history(item: _Made) -> list[HistoryEntry]:
    """The `created` entry twin_create appends and the `tag` entry tag_create appends, chained in memory."""
    scid = item.state.scid
    previous = None
    rows = []
    for kind, content in (
        (HistoryEntry.Kind.CREATED, {"name": item.twin.name}),
        (HistoryEntry.Kind.TAG, {"tag": item.tag.code, "action": "attach"}),
    ):
        time = datetime.now(UTC)
        entry = chain.append(previous, content=content, kind=str(kind), key=item.agent, scid=scid, time=time)
        rows.append(HistoryEntry(twin=item.twin, seq=entry["seq"], kind=str(kind), time=time, entry=entry))
        previous = entry
    return rows


# --- product models ------------------------------------------------------------------------------------------------

MAX_READING_KINDS = 10
MAX_LINKS = 20
DOCUMENT_MAX_BYTES = 10 * 1024 * 1024


def clean_reading_kinds(value: Any) -> list[dict[str, str]]:
    """[{"kind": "temperature", "unit": "°C"}, …]: what things of the model report (the first is the one-tap
    reading's kind)."""
    if not isinstance(value, list):
        raise ValidationError({"reading_kinds": 'Reading kinds are a list like [{"kind": "grams", "unit": "g"}].'})
    if len(value) > MAX_READING_KINDS:
        raise ValidationError({"reading_kinds": f"At most {MAX_READING_KINDS} reading kinds."})
    cleaned = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"kind", "unit"} or not isinstance(item.get("kind"), str):
            raise ValidationError({"reading_kinds": 'Each reading kind is {"kind": "…", "unit": "…"}.'})
        kind, unit = item["kind"].strip(), item.get("unit", "")
        if not isinstance(unit, str):
            raise ValidationError({"reading_kinds": f"The unit of {kind!r} must be text."})
        if not 1 <= len(kind) <= 40 or len(unit.strip()) > 20:
            raise ValidationError({"reading_kinds": "A kind is 1–40 characters, a unit at most 20."})
        if not is_storable_text(kind) or not is_storable_text(unit):
            raise ValidationError({"reading_kinds": "Kinds and units may not contain NUL or lone surrogates."})
        cleaned.append({"kind": kind, "unit": unit.strip()})
    return cleaned


_https = URLValidator(schemes=["https"])


def clean_links(value: Any) -> dict[str, str]:
    """{"gs1:instructions": "https://…", …}: GS1 link types a maker may set, each to an https URL."""
    if not isinstance(value, dict):
        raise ValidationError({"links": 'Links are an object like {"gs1:instructions": "https://…"}.'})
    if len(value) > MAX_LINKS:
        raise ValidationError({"links": f"At most {MAX_LINKS} links."})
    cleaned: dict[str, str] = {}
    for key, url in value.items():
        try:
            link_type = gs1.clean_link_type(key if isinstance(key, str) else "")
        except gs1.GS1Error as exc:
            raise ValidationError({"links": str(exc)}) from None
        if not isinstance(url, str) or len(url) > 500:
            raise ValidationError(
                {"links": f"The link for {link_type} must be an https URL of at most 500 characters."}
            )
        try:
            _https(url.strip())
        except ValidationError:
            raise ValidationError({"links": f"The link for {link_type} must be an https:// URL."}) from None
        cleaned[link_type] = url.strip()
    return cleaned


def clean_gtin(value: Any) -> str:
    try:
        return gs1.normalise_gtin(value if isinstance(value, str) else "")
    except gs1.GS1Error as exc:
        raise ValidationError({"gtin": str(exc)}) from None


MODEL_FIELDS = {"name", "gtin", "icon", "description", "reading_kinds", "links"}


def _apply_model_fields(model: ProductModel, fields: dict[str, Any]) -> None:
    unknown = set(fields) - MODEL_FIELDS
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if "gtin" in fields:
        fields["gtin"] = clean_gtin(fields["gtin"])
        clash = ProductModel.objects.filter(gtin=fields["gtin"]).exclude(pk=model.pk).first()
        if clash is not None:
            raise ValidationError({"gtin": f"GTIN {fields['gtin']} is already registered for another model."})
        if model.pk and model.gtin != fields["gtin"] and model.things.exists():
            raise ValidationError({"gtin": "Things of this model have been produced: its GTIN can no longer change."})
    if "icon" in fields and fields["icon"] not in ICONS:
        raise ValidationError({"icon": f"Choose an icon among: {', '.join(ICONS)}."})
    if "reading_kinds" in fields:
        fields["reading_kinds"] = clean_reading_kinds(fields["reading_kinds"])
    if "links" in fields:
        fields["links"] = clean_links(fields["links"])
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
    for key, value in fields.items():
        setattr(model, key, value)
    model.full_clean(exclude=["organisation"])


@transaction.atomic
def model_create(*, organisation, **fields: Any) -> ProductModel:
    """A product model of `organisation`. GTIN-8/12/13/14 are kept as GTIN-14, the check digit verified."""
    if not fields.get("name"):
        raise ValidationError({"name": "A model needs a name."})
    if "gtin" not in fields:
        raise ValidationError({"gtin": "A model needs its GTIN."})
    model = ProductModel(organisation=organisation)
    _apply_model_fields(model, dict(fields))
    try:
        with transaction.atomic():
            model.save()
    except IntegrityError:
        raise ValidationError({"gtin": f"GTIN {model.gtin} is already registered for another model."}) from None
    return model


@transaction.atomic
def model_update(*, model: ProductModel, **fields: Any) -> ProductModel:
    _apply_model_fields(model, dict(fields))
    try:
        with transaction.atomic():
            model.save()
    except IntegrityError:
        raise ValidationError({"gtin": f"GTIN {model.gtin} is already registered for another model."}) from None
    return model


def clean_pdf(upload: UploadedFile) -> UploadedFile:
    """A PDF by its content (the `%PDF-` header, RFC 8118 §3), not by its name or the browser's media type, and
    at most DOCUMENT_MAX_BYTES."""
    if upload.size is not None and upload.size > DOCUMENT_MAX_BYTES:
        raise ValidationError({"file": f"A document is at most {DOCUMENT_MAX_BYTES // (1024 * 1024)} MB."})
    upload.seek(0)
    head = upload.read(1024)
    upload.seek(0)
    if b"%PDF-" not in head:
        raise ValidationError({"file": "Only PDF documents can be uploaded, and this file is not a PDF."})
    return upload


@transaction.atomic
def document_add(*, model: ProductModel, kind: str, title: str, upload: UploadedFile) -> ProductDocument:
    if kind not in ProductDocument.Kind.values:
        raise ValidationError({"kind": "Choose manual, safety sheet or document."})
    title = (title or "").strip() or ProductDocument.Kind(kind).label
    clean_pdf(upload)
    document = ProductDocument(model=model, kind=kind, title=title[:200])
    document.file.save(f"{model.gtin}-{secrets.token_hex(8)}.pdf", upload, save=False)
    document.save()
    return document


@transaction.atomic
def document_remove(*, document: ProductDocument) -> None:
    name, storage = document.file.name, document.file.storage
    document.delete()
    transaction.on_commit(lambda: storage.delete(name))


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready): the claim panel on a twin's public page,
    and the GS1 Digital Link as a twin's printable link (tags' label sheet offers its QR)."""
    from makers.claims import claim_panel_context, gs1_link_of

    panels.register_public_panel(
        panels.Panel("claim", "makers/_claim_panel.html", panels.PUBLIC, 10, claim_panel_context)
    )
    panels.register_print_link("gs1", "GS1 Digital Link", gs1_link_of)
