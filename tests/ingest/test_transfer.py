"""A sale unlinks the seller's sources from the thing (ingest.transfer, review finding 8 of session 11).

A source is its owner's: after a sale it must not feed the buyer's thing, list it on the seller's source page, or
travel with the thing when the buyer moves it (its secret would let whoever holds the package sign for the seller's
other things)."""

from __future__ import annotations

import pytest
from django.test import Client

from ingest import services as ingest_services
from ingest.models import DeviceKey, SourceThing
from ssi.keys import SigningKey
from tests.ingest.conftest import Sender
from twins import services as twin_services
from twins.models import Reading, Twin
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


def test_a_sale_unlinks_the_sellers_sources_from_the_thing(
    alice, bob, grinder, source_and_secret, django_capture_on_commit_callbacks
):
    source, secret = source_and_secret
    other = twin_services.twin_create(owner=alice, name="Alice's other meter", reading_kind="kwh")
    ingest_services.source_link_thing(source=source, twin=other, external_id="m2")
    DeviceKey.objects.create(twin=grinder, public_key=SigningKey.generate().multibase, label="board")

    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)

    assert Twin.objects.get(pk=grinder.pk).owner == bob
    assert not SourceThing.objects.filter(twin=grinder).exists()
    assert list(SourceThing.objects.filter(source=source).values_list("twin_id", flat=True)) == [other.pk]
    assert DeviceKey.objects.filter(twin=grinder).count() == 1  # the thing's own keys stay with it
    sender = Sender(client=Client(), source=source, secret=secret)
    assert sender.post({"thing": "acme-grinder-7", "value": 9}).status_code != 200
    assert not Reading.objects.filter(twin=grinder, value=9).exists()
    assert sender.post({"thing": "m2", "value": 9}).status_code == 200  # her other things are still fed
    page = Client()
    page.force_login(alice)
    body = page.get(f"/sources/{source.public_id}/").content.decode()
    assert "m2" in body and "acme-grinder-7" not in body


@pytest.mark.needs("handover")
def test_a_handover_unlinks_the_sellers_sources_from_every_thing(alice, bob, source_and_secret, grinder):
    from handover.services import handover_accept, handover_create

    source, _ = source_and_secret
    herd = [twin_services.twin_create(owner=alice, name=f"Cow {n}") for n in (1, 2)]
    for n, cow in enumerate(herd):
        ingest_services.source_link_thing(source=source, twin=cow, external_id=f"cow-{n}")

    handover_accept(handover=handover_create(seller=alice, twins=herd, redact_kinds=[]), buyer=bob)

    assert {twin.owner_id for twin in Twin.objects.filter(pk__in=[cow.pk for cow in herd])} == {bob.pk}
    assert not SourceThing.objects.filter(twin__in=herd).exists()
    assert list(SourceThing.objects.filter(source=source).values_list("twin_id", flat=True)) == [grinder.pk]
