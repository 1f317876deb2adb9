"""Values for tests/test_access_matrix.py: a receipt and a maintenance schedule on alice's thing, and a purchase."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from upkeep import attachments, maintenance, warranty
from upkeep.demo import receipt_pdf
from upkeep.models import Attachment, Purchase, Schedule


def attachment_of(world) -> Attachment:
    found = Attachment.objects.filter(twin=world.thing).first()
    if found is None:
        warranty.purchase_set(twin=world.thing, price="12.00", currency="EUR", bought_from="Matrix shop")
        found = attachments.attachment_add(
            twin=world.thing, upload=SimpleUploadedFile("matrix.pdf", receipt_pdf("Matrix")), title="Matrix receipt"
        )
    return found


def schedule_of(world) -> Schedule:
    found = Schedule.objects.filter(twin=world.thing).first()
    if found is None:
        found = maintenance.schedule_create(twin=world.thing, name="Matrix descale", every=3, unit="months")
    return found


def snapshot(alice) -> tuple:
    """alice's purchases, files and schedules, for the matrix's "a stranger changes nothing" check."""
    return (
        list(Purchase.objects.filter(twin__owner=alice).order_by("pk").values()),
        list(Attachment.objects.filter(twin__owner=alice).order_by("pk").values()),
        list(Schedule.objects.filter(twin__owner=alice).order_by("pk").values()),
    )
