"""ingest 0012: the links a sale before session 11 left between the seller's sources and the sold thing go; the
thing's owner's own links, and the seller's links to things still theirs, stay (ingest.transfer does this at each
sale since)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ingest import services as ingest_services
from ingest.models import DeviceKey, SourceThing
from ssi.keys import SigningKey
from twins import services as twin_services
from twins.models import Twin

BEFORE = ("ingest", "0011_signed_reading_once")
AFTER = ("ingest", "0012_sellers_links_unlinked")


@pytest.mark.django_db(transaction=True)
def test_the_migration_unlinks_every_source_whose_owner_is_not_the_things(alice, bob, carol, grinder):
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([BEFORE])
        alices, _ = ingest_services.source_create(owner=alice, name="Alice's cloud")
        bobs, _ = ingest_services.source_create(owner=bob, name="Bob's gateway")
        carols, _ = ingest_services.source_create(owner=carol, name="Carol's script")
        other = twin_services.twin_create(owner=alice, name="Alice's other meter", reading_kind="kwh")
        ingest_services.source_link_thing(source=alices, twin=grinder, external_id="g7")
        ingest_services.source_link_thing(source=alices, twin=other, external_id="m2")
        DeviceKey.objects.create(twin=grinder, public_key=SigningKey.generate().multibase, label="board")
        # A sale of the old kind: the grinder is bob's, nothing unlinked alice's source. A third hand's link as well.
        Twin.objects.filter(pk=grinder.pk).update(owner=bob)
        ingest_services.source_link_thing(source=bobs, twin=Twin.objects.get(pk=grinder.pk))
        SourceThing.objects.create(source=carols, twin=grinder, external_id="c1")

        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])
        links = set(SourceThing.objects.values_list("source_id", "twin_id"))
        assert links == {(alices.pk, other.pk), (bobs.pk, grinder.pk)}
        assert DeviceKey.objects.filter(twin=grinder).count() == 1  # the thing's own keys stay
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
