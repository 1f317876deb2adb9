"""Upkeep's part of the demo data (`load_demo`, twins.demo seam), so each feature has something to show:

- the coffee grinder: a purchase whose warranty ends in 12 days, "Descale" due in 2 days, a receipt (PDF);
- Bessie: lost, with a reward, and a year of daily weights (bulk inserted: one history entry per month);
- a neighbour (an account nobody can log in to) offering the demo owner a road bike: a pending transfer offer,
  announced in the demo owner's inbox with a link to it.

Fast on purpose (`make run` loads the demo each time): readings go in with one INSERT, not one service call each.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from owners.models import Notification, Owner
from owners.services import notify
from twins import services as twin_services
from twins.demo import register_demo_step
from twins.history import history_append
from twins.latest import latest_advance
from twins.models import HistoryEntry, Reading
from twins.transfer import offer_create
from upkeep import attachments, maintenance, warranty
from upkeep.models import Attachment

NEIGHBOUR = "demo-neighbour"


def demo_upkeep(twin: Any) -> None:
    """twins.demo step: runs for each demo thing when load_demo creates it."""
    if twin.icon == "coffee":
        _grinder(twin)
        _offer_from_neighbour(twin.owner)
    elif twin.icon == "animal":
        twin_services.twin_set_lost(twin=twin, lost=True, reward="A basket of apples, and our thanks")
        _year_of_weights(twin)


def _grinder(twin: Any) -> None:
    today = timezone.localdate()
    warranty_ends = today + timedelta(days=12)
    warranty.purchase_set(
        twin=twin,
        purchased_on=warranty_ends.replace(year=warranty_ends.year - 2),
        price="139.00",
        currency="EUR",
        bought_from="Kitchen Supply Co., Berlin",
        warranty_ends=warranty_ends,
    )
    maintenance.schedule_create(
        twin=twin,
        name="Descale",
        every=3,
        unit="months",
        last_done=today - timedelta(days=88),
        next_due=today + timedelta(days=2),
    )
    maintenance.schedule_create(
        twin=twin, name="Clean the burrs", every=1, unit="months", last_done=today - timedelta(days=10)
    )
    attachments.attachment_add(
        twin=twin,
        upload=SimpleUploadedFile("receipt-baratza-encore.pdf", receipt_pdf("Baratza Encore, 139.00 EUR")),
        kind=Attachment.Kind.RECEIPT,
        title="Receipt",
    )


def _year_of_weights(twin: Any) -> None:
    """A reading a day for the past year, in one INSERT; the history commits to them a month per entry."""
    now = timezone.now()
    start = (now - timedelta(days=365)).replace(hour=6, minute=0, second=0, microsecond=0)
    rows = [
        twin_services.new_reading(
            twin_id=twin.pk,
            kind=twin.reading_kind,
            unit=twin.reading_unit,
            value=round(470 + 115 * day / 365 + 4 * math.sin(day / 9), 1),
            time=start + timedelta(days=day),
            source=Reading.Source.DEMO,
            created_at=now,
        )
        for day in range(365)
    ]
    Reading.objects.bulk_create(rows)
    for first in range(0, len(rows), 31):
        chunk = rows[first : first + 31]
        history_append(twin=twin, kind=HistoryEntry.Kind.READING, content=twin_services.history_content(chunk))
    latest_advance(twin=twin, readings=rows)


def _offer_from_neighbour(demo: Owner) -> None:
    if Owner.objects.filter(username=NEIGHBOUR).exists():
        return
    neighbour = Owner(username=NEIGHBOUR, email="", contact_name="Sam (demo neighbour)")
    neighbour.set_unusable_password()
    neighbour.save()
    bike = twin_services.twin_create(
        owner=neighbour,
        name="Road bike",
        icon="vehicle",
        model_name="Canyon Endurace 7",
        serial="WTU123456789",
        reading_kind="distance",
        reading_unit="km",
    )
    twin_services.reading_add(twin=bike, value=4210, time=timezone.now() - timedelta(days=3))
    twin_services.note_create(twin=bike, title="New chain", time=timezone.now() - timedelta(days=40))
    offer = offer_create(twin=bike, seller=neighbour, redact_kinds=[HistoryEntry.Kind.SCAN, HistoryEntry.Kind.NOTE])
    notify(
        owner=demo,
        kind=Notification.Kind.SYSTEM,
        title="Sam offers you their road bike",
        body="A pending transfer offer: see the bike, its history and what Sam removed, then accept or leave it.",
        action_url=reverse("transfer-offer", args=[offer.token]),
        action_label="See the offer",
    )


def receipt_pdf(text: str) -> bytes:
    """A one-page PDF saying `text` (built by hand: a demo needs no PDF library)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td (Receipt) Tj 0 -24 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def connect() -> None:
    register_demo_step(demo_upkeep)
