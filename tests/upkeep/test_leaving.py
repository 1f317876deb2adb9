"""A thing on its way to another host (twins.leaving, issue 18) gets no new or changed maintenance schedule,
purchase or file here: they travel in the package built at the move's confirmation. The services refuse, so the
pages and the API do (the owner's also meet twins.not_live's 503 first)."""

from __future__ import annotations

import pytest

from tests.upkeep.conftest import pdf_upload
from twins import leaving
from twins.models import Twin
from upkeep import attachments, maintenance, warranty
from upkeep.models import Attachment, Purchase, Schedule

pytestmark = pytest.mark.django_db


def test_a_leaving_things_schedules_purchase_and_files_are_not_changed_and_after_a_thaw_they_are(grinder):
    schedule = maintenance.schedule_create(twin=grinder, name="Descale", every=3)
    warranty.purchase_set(twin=grinder, bought_from="Shop")
    kept = attachments.attachment_add(twin=grinder, upload=pdf_upload())
    Twin.objects.filter(pk=grinder.pk).update(leaving_to="https://things.example.net")
    for write in (
        lambda: maintenance.schedule_create(twin=grinder, name="Oil", every=1),
        lambda: maintenance.schedule_update(schedule=schedule, name="Descale well"),
        lambda: maintenance.schedule_delete(schedule=schedule),
        lambda: warranty.purchase_set(twin=grinder, bought_from="Other shop"),
        lambda: warranty.purchase_clear(twin=grinder),
        lambda: attachments.attachment_add(twin=grinder, upload=pdf_upload("manual.pdf")),
        lambda: attachments.attachment_delete(attachment=kept),
    ):
        with pytest.raises(leaving.TwinLeaving):
            write()
    assert list(Schedule.objects.filter(twin=grinder).values_list("name", flat=True)) == ["Descale"]
    assert Purchase.objects.get(twin=grinder).bought_from == "Shop"
    assert list(Attachment.objects.filter(twin=grinder).values_list("pk", flat=True)) == [kept.pk]
    leaving.thaw(grinder.pk)
    maintenance.schedule_update(schedule=schedule, name="Descale well")
    attachments.attachment_delete(attachment=kept)
    assert Schedule.objects.get(pk=schedule.pk).name == "Descale well"
    assert not Attachment.objects.filter(twin=grinder).exists()
