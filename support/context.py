"""What a thing can attach to a support case, and building exactly what the owner ticked (nothing else goes).

Each item has a key: ``model``, ``serial``, ``firmware``, ``photo``, ``readings:<kind>`` (the latest
:data:`READINGS_PER_KIND` readings of that kind) and ``journal:<id>`` (one journal entry). The owner ticks keys;
:func:`build` turns them into the message's ``context`` and its RFC 0017 attachments.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from PIL import Image

from makers.models import ProducedThing
from support import protocol
from twins.models import JournalNote, Reading, Twin

READINGS_PER_KIND = 50
JOURNAL_CHOICES = 20
# Attribute names a thing's firmware version goes by (twin attributes, set by hand or by an import).
FIRMWARE_ATTRIBUTES = ("firmware", "firmware_version", "firmware version", "fw")


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    detail: str = ""


def _produced(twin: Twin) -> ProducedThing | None:
    return ProducedThing.objects.select_related("model").filter(twin=twin).first()


def model_of(twin: Twin) -> dict[str, str]:
    produced = _produced(twin)
    if produced is not None:
        return {"name": produced.model.name, "gtin": produced.model.gtin}
    return {"name": twin.model_name} if twin.model_name else {}


def serial_of(twin: Twin) -> str:
    produced = _produced(twin)
    return produced.serial if produced is not None else twin.serial


def firmware_of(twin: Twin) -> str:
    attributes = twin.attributes if isinstance(twin.attributes, dict) else {}
    lowered = {str(name).lower(): value for name, value in attributes.items()}
    for name in FIRMWARE_ATTRIBUTES:
        value = lowered.get(name)
        if value not in (None, ""):
            return str(value)[:120]
    return ""


def reading_kinds(twin: Twin) -> list[str]:
    return sorted(set(Reading.objects.filter(twin=twin).values_list("kind", flat=True).distinct()))


def choices(twin: Twin) -> list[Item]:
    """What the owner may tick for this thing (only what it has)."""
    items = []
    model = model_of(twin)
    if model:
        items.append(Item("model", "Model", " ".join(v for v in (model.get("name", ""), model.get("gtin", "")) if v)))
    serial = serial_of(twin)
    if serial:
        items.append(Item("serial", "Serial number", serial))
    firmware = firmware_of(twin)
    if firmware:
        items.append(Item("firmware", "Firmware version", firmware))
    for kind in reading_kinds(twin):
        items.append(Item(f"readings:{kind}", f"Recent readings: {kind}", f"the latest {READINGS_PER_KIND}"))
    if twin.photo:
        items.append(Item("photo", "Photo of the thing"))
    for note in JournalNote.objects.filter(twin=twin).order_by("-time", "-id")[:JOURNAL_CHOICES]:
        items.append(Item(f"journal:{note.pk}", f"Journal: {note.title}", note.time.strftime("%Y-%m-%d")))
    return items


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def build(twin: Twin, keys: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``context`` and ``~attach`` for the ticked ``keys``; a key the thing does not offer is a
    ValidationError (a stale form, or a forged one), so nothing unticked or foreign can go."""
    offered = {item.key for item in choices(twin)}
    unknown = [key for key in keys if key not in offered]
    if unknown:
        raise ValidationError(
            f"This thing has nothing to attach as {unknown[0][:60]!r}; reload the page and tick again."
        )
    keys = list(dict.fromkeys(keys))
    # What the other side takes (support.protocol): at most MAX_ASKS kinds, MAX_CONTEXT_ITEMS readings and journal
    # entries together: each ticked kind gets an equal share of what the journal entries leave.
    kinds = [key for key in keys if key.startswith("readings:")]
    if len(kinds) > protocol.MAX_ASKS:
        raise ValidationError(f"Tick at most {protocol.MAX_ASKS} kinds of readings for one message.")
    notes = sum(key.startswith("journal:") for key in keys)
    if notes > protocol.MAX_CONTEXT_ITEMS:
        raise ValidationError(f"Tick at most {protocol.MAX_CONTEXT_ITEMS} journal entries for one message.")
    per_kind = min(READINGS_PER_KIND, (protocol.MAX_CONTEXT_ITEMS - notes) // len(kinds)) if kinds else 0
    context: dict[str, Any] = {}
    attachments: list[dict[str, Any]] = []
    for key in keys:
        if key == "model":
            context["model"] = model_of(twin)
        elif key == "serial":
            context["serial"] = serial_of(twin)
        elif key == "firmware":
            context["firmware"] = firmware_of(twin)
        elif key == "photo":
            twin.photo.open("rb")
            try:
                data = twin.photo.read()
            finally:
                twin.photo.close()
            attachments.append(
                protocol.attachment_inline(
                    attach_id="photo",
                    mime_type="image/jpeg",
                    filename="photo.jpg",
                    data=fit_photo(data, protocol.MAX_INLINE_SENT_BYTES // 2),
                    description="Photo of the thing",
                )
            )
        elif key.startswith("readings:"):
            kind = key.split(":", 1)[1]
            rows = Reading.objects.filter(twin=twin, kind=kind).order_by("-time", "-id")[:per_kind]
            context.setdefault("readings", {})[kind] = [
                {"time": _iso(r.time), "value": r.value, "unit": r.unit} for r in reversed(list(rows))
            ]
        elif key.startswith("journal:"):
            note = JournalNote.objects.get(twin=twin, pk=int(key.split(":", 1)[1]))
            context.setdefault("journal", []).append({"title": note.title, "text": note.text, "time": _iso(note.time)})
    return context, attachments


def upload_attachment(upload) -> dict[str, Any]:
    """A photo the owner adds to a message: checked and re-encoded without metadata (twins.photos), inline."""
    from twins.photos import clean_photo

    cleaned = clean_photo(upload)
    data = fit_photo(cleaned.read(), protocol.MAX_INLINE_SENT_BYTES // 2)
    return protocol.attachment_inline(attach_id="upload", mime_type="image/jpeg", filename="photo.jpg", data=data)


def fit_photo(data: bytes, limit: int) -> bytes:
    """A JPEG of at most `limit` bytes: the photo as it is if it fits, else smaller and plainer until it does (a
    case's two photos, the thing's and a new one, then fit one message however large the originals)."""
    if len(data) <= limit:
        return data
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        side = max(image.size)
        quality = 80
        while True:
            side = int(side * 0.75)
            image.thumbnail((side, side))
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() <= limit or side < 64:
                return out.getvalue()
            quality = max(50, quality - 10)
