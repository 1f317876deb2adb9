"""A move called off after the package arrived (twins.moving.discard, issue 18): what ingest restored for the
arrival goes, and nothing else. A source made for it goes with the deliveries it brought; one that was here already
loses only the deliveries the package added; a source another thing uses by now stays with it; the owner's other
sources are untouched. Once the thing has arrived, what was restored is the owner's like anything else."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest
from django.test import TestCase

from ingest import services as ingest_services
from ingest.models import Delivery, DeviceKey, RestoredSource, Source, SourceThing
from tests.moves.test_parts_harness import mover, on_a  # noqa: F401 (fixtures)
from twins import moving
from twins import services as twin_services
from twins.models import Twin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_a")]

KEY = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def delivered(source: Source, *webhook_ids: str) -> None:
    for webhook_id in webhook_ids:
        Delivery.objects.create(source=source, webhook_id=webhook_id, status=200, response={"stored": 1})


def discard(twin: Twin) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        moving.discard(twin)


def test_a_source_made_for_a_discarded_arrival_goes_with_its_deliveries_and_the_owners_own_stay(
    mover, alice, grinder, bob
):
    source, _ = ingest_services.source_create(owner=alice, name="Acme cloud")
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="acme-grinder-7")
    delivered(source, "msg_1", "msg_2")
    DeviceKey.objects.create(twin=grinder, public_key=KEY, label="board")
    own, _ = ingest_services.source_create(owner=bob, name="Bob's own")
    delivered(own, "msg_1", "msg_own")
    public_id = source.public_id

    _, arrived = mover(grinder, to_owner=bob, delete=lambda: source.delete())
    made = Source.objects.get(public_id=public_id)
    assert made.owner_id == bob.pk and made.deliveries.count() == 2  # restored

    discard(arrived)

    assert not Source.objects.filter(public_id=public_id).exists()
    assert not Delivery.objects.filter(source_id=made.pk).exists()
    assert not DeviceKey.objects.filter(twin_id=arrived.pk).exists()
    assert not RestoredSource.objects.exists()
    assert sorted(own.deliveries.values_list("webhook_id", flat=True)) == ["msg_1", "msg_own"]
    assert Source.objects.filter(owner=bob).count() == 1


def test_a_source_that_was_here_already_loses_only_the_deliveries_the_package_added(mover, alice, grinder, bob):
    source, _ = ingest_services.source_create(owner=alice, name="Acme cloud")
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="acme-grinder-7")
    delivered(source, "msg_both", "msg_brought")

    def bobs_already() -> None:
        # On one database: the same source (public_id) as bob's own here, which knows one of the messages and
        # one of its own, not the other the package brings.
        Source.objects.filter(pk=source.pk).update(owner=bob)
        Delivery.objects.filter(source=source, webhook_id="msg_brought").delete()
        delivered(source, "msg_here")

    _, arrived = mover(grinder, to_owner=bob, delete=bobs_already)
    assert sorted(source.deliveries.values_list("webhook_id", flat=True)) == ["msg_both", "msg_brought", "msg_here"]

    discard(arrived)

    assert Source.objects.filter(pk=source.pk, owner=bob).exists()
    assert sorted(source.deliveries.values_list("webhook_id", flat=True)) == ["msg_both", "msg_here"]
    assert not SourceThing.objects.filter(source=source).exists()
    assert not RestoredSource.objects.exists()


def test_a_source_made_for_the_arrival_stays_when_another_thing_uses_it_by_now(mover, alice, grinder, bob):
    source, _ = ingest_services.source_create(owner=alice, name="Acme cloud")
    ingest_services.source_link_thing(source=source, twin=grinder, external_id="acme-grinder-7")
    delivered(source, "msg_1")
    _, arrived = mover(grinder, to_owner=bob, delete=lambda: source.delete())
    made = Source.objects.get(public_id=source.public_id)
    kettle = twin_services.twin_create(owner=bob, name="Kettle", reading_kind="temp")
    ingest_services.source_link_thing(source=made, twin=kettle)

    discard(arrived)

    assert list(SourceThing.objects.filter(source=made).values_list("twin_id", flat=True)) == [kettle.pk]
    assert list(made.deliveries.values_list("webhook_id", flat=True)) == ["msg_1"]


def test_once_the_thing_has_arrived_what_was_restored_is_the_owners(mover, alice, grinder, bob):
    source, _ = ingest_services.source_create(owner=alice, name="Acme cloud")
    ingest_services.source_link_thing(source=source, twin=grinder)
    _, arrived = mover(grinder, to_owner=bob, delete=lambda: source.delete())
    assert RestoredSource.objects.filter(twin=arrived, made=True).exists()

    with TestCase.captureOnCommitCallbacks(execute=True):
        moving.activate(arrived)

    assert not RestoredSource.objects.exists()
    assert Source.objects.filter(public_id=source.public_id, owner=bob).exists()
