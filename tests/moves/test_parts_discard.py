"""A move called off after the package arrived (twins.moving.discard): the arriving twin goes with everything the
feature parts restored for it, a document's file included; what the features made for the owner stays theirs."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import TestCase

from credentials.models import StatusList
from ingest import services as ingest_services
from ingest.models import SourceThing
from sharing import grants
from sharing.models import Grant, OutboxItem
from tags import nfc
from tags.models import SunKeys, Tag
from tests.didcomm.endpoints import closed_port
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from twins import moving
from twins.models import Twin
from upkeep.models import Attachment, Schedule

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.needs("tags", "sharing", "ingest", "upkeep", "credentials"),
    pytest.mark.usefixtures("on_a"),
]


def test_a_discarded_arrival_leaves_nothing_of_the_twin(mover, alice, grinder, bob):
    nfc.sun_provision(tags=[Tag.objects.create(twin=grinder)])
    endpoint, _ = grants.webhook_endpoint_create(owner=alice, label="Insurer", url=f"http://127.0.0.1:{closed_port()}/")
    grants.grant_create(twin=grinder, party=endpoint, kinds=["readings"], by=alice)
    source, _ = ingest_services.source_create(owner=alice, name="Cloud")
    ingest_services.source_link_thing(source=source, twin=grinder)
    Schedule.objects.create(twin=grinder, name="Descale", every=1, unit="months", next_due=date(2026, 1, 1))
    document = Attachment(twin=grinder, filename="r.pdf", content_type="application/pdf", size=8)
    document.file.save("r.pdf", ContentFile(b"%PDF-1.4"), save=False)
    document.save()
    _, moved = mover(grinder, to_owner=bob, delete=lambda: source.delete())
    (restored,) = Attachment.objects.filter(twin=moved)
    name = restored.file.name
    assert default_storage.exists(name)
    with TestCase.captureOnCommitCallbacks(execute=True):
        moving.discard(moved)
    assert not Twin.objects.filter(pk=moved.pk).exists()
    for model in (Tag, Grant, OutboxItem, SourceThing, Schedule, Attachment, StatusList):
        assert not model.objects.filter(twin_id=moved.pk).exists(), model.__name__
    assert not SunKeys.objects.filter(tag__twin_id=moved.pk).exists()
    assert not default_storage.exists(name)
