"""The upkeep part of a moving twin (issue 18): its purchase record, maintenance schedules and documents.

Documents (receipts, manuals) travel as their files' bytes (base64) and are stored here under new random names,
as an upload is (a content type upkeep does not accept, or a size that is not the file's, refuses the package).
The warranty and schedule reminder markers travel too, so a reminder already sent is not sent again.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from twins import events
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register
from upkeep.attachments import clean_filename, sniff
from upkeep.models import Attachment, Purchase, Schedule


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def export(twin: Twin) -> dict[str, Any] | None:
    purchase = Purchase.objects.filter(twin=twin).first()
    schedules = list(Schedule.objects.filter(twin=twin).order_by("created_at", "id"))
    attachments = list(Attachment.objects.filter(twin=twin).order_by("created_at", "id"))
    if purchase is None and not schedules and not attachments:
        return None
    documents = []
    for item in attachments:
        with item.file.open("rb") as handle:
            content = handle.read()
        documents.append(
            {
                "kind": item.kind,
                "title": item.title,
                "filename": item.filename,
                "content_type": item.content_type,
                "size": item.size,
                "content": base64.b64encode(content).decode(),
                "created_at": _iso(item.created_at),
            }
        )
    return {
        "purchase": None
        if purchase is None
        else {
            "purchased_on": _iso(purchase.purchased_on),
            "price": None if purchase.price is None else str(purchase.price),
            "currency": purchase.currency,
            "bought_from": purchase.bought_from,
            "warranty_ends": _iso(purchase.warranty_ends),
            "warranty_reminded_for": _iso(purchase.warranty_reminded_for),
            "updated_at": _iso(purchase.updated_at),
        },
        "schedules": [
            {
                "name": item.name,
                "every": item.every,
                "unit": item.unit,
                "last_done": _iso(item.last_done),
                "next_due": _iso(item.next_due),
                "reminded_for": _iso(item.reminded_for),
                "created_at": _iso(item.created_at),
            }
            for item in schedules
        ],
        "documents": documents,
    }


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    twin = arrival.twin
    purchase = data.get("purchase")
    if purchase:
        Purchase.objects.create(
            twin=twin,
            purchased_on=_day(purchase["purchased_on"]),
            price=None if purchase["price"] is None else Decimal(purchase["price"]),
            currency=purchase["currency"],
            bought_from=purchase["bought_from"],
            warranty_ends=_day(purchase["warranty_ends"]),
            warranty_reminded_for=_day(purchase["warranty_reminded_for"]),
        )
        Purchase.objects.filter(twin=twin).update(updated_at=_when(purchase["updated_at"]))
    for item in data.get("schedules") or []:
        schedule = Schedule.objects.create(
            twin=twin,
            name=item["name"],
            every=item["every"],
            unit=item["unit"],
            last_done=_day(item["last_done"]),
            next_due=_day(item["next_due"]),
            reminded_for=_day(item["reminded_for"]),
        )
        Schedule.objects.filter(pk=schedule.pk).update(created_at=_when(item["created_at"]))
    for item in data.get("documents") or []:
        content = base64.b64decode(item["content"])
        # As an upload is checked: the type from the file's own first bytes, the shown name cleaned.
        content_type = sniff(content[:16])
        if content_type is None or content_type != item["content_type"] or len(content) != item["size"]:
            name = str(item["filename"])[:100]
            raise PackageError(f"The document {name!r} of this thing is not what its record says.")
        document = Attachment(
            twin=twin,
            kind=item["kind"],
            title=item["title"],
            filename=clean_filename(str(item["filename"]), content_type),
            content_type=content_type,
            size=item["size"],
        )
        # The name is upload_to's (a random one under the twin's folder); the owner's file name is only shown.
        document.file.save("document", ContentFile(content), save=False)
        document.save()
        Attachment.objects.filter(pk=document.pk).update(created_at=_when(item["created_at"]))


def on_arrival_discarded(event: events.ArrivalDiscarded) -> None:
    """ArrivalDiscarded, in the discarding transaction (before the twin's rows go): the documents' files go too,
    once it commits (a rollback keeps them with their rows)."""
    for document in Attachment.objects.filter(twin_id=event.twin_id):
        name, storage = document.file.name, document.file.storage
        transaction.on_commit(lambda name=name, storage=storage: storage.delete(name), robust=True)


def restore(data: dict[str, Any], arrival: Arrival) -> None:
    """Restore the part; data not in the form this module writes is refused in words (nothing is written: the
    whole restore rolls back), never a server error."""
    try:
        _restore(data, arrival)
    except PackageError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise PackageError(f"The package's upkeep records cannot be read here ({type(exc).__name__}).") from None


register(
    Part(
        name="upkeep",
        export=export,
        restore=restore,
        after=("twin",),
        replaces=("upkeep.Purchase", "upkeep.Attachment", "upkeep.Schedule"),
    )
)
# Here rather than in apps.py: the move's share of upkeep in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.ArrivalDiscarded, on_arrival_discarded, in_transaction=True)
