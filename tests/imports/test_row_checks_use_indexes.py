"""The row checks of a batch find the owner's imported things through the unique index on (owner, external id),
not by reading every imported thing of the owner: their cost per batch stays flat however many the owner has."""

from __future__ import annotations

import pytest
from django.db import connection

from imports.models import ImportedThing
from imports.rows import _serial_users, mapped_things
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_a_batch_finds_its_external_ids_through_the_unique_index(alice):
    twin = Twin.objects.create(owner=alice, name="Cow 0")
    ImportedThing.objects.bulk_create(
        [ImportedThing(owner=alice, external_id=f"cow-{n}", twin=twin) for n in range(5000)], batch_size=500
    )
    batch = [f"cow-{n}" for n in range(1000, 1200)]  # a whole batch: more than PostgreSQL's 100-value proof limit
    lookup = mapped_things(alice, batch).select_related(None)  # the lookup, without its join
    # The query repeats the index's condition word for word, so either database may use the index for it.
    assert 'NOT ("imports_importedthing"."external_id" = ' in str(lookup.query)
    if connection.vendor == "sqlite":
        # SQLite uses a partial index only when the query repeats its condition; then always, here.
        plan = lookup.explain()
        assert "imported_one_per_external_id" in plan, plan
    assert mapped_things(alice, batch).count() == 200
    assert {item.external_id for item in mapped_things(alice, batch)} == set(batch)


def test_a_batch_finds_the_serials_in_use_through_the_owner_serial_index(alice, bob):
    for owner, count in ((alice, 3000), (bob, 300)):
        Twin.objects.bulk_create(
            [Twin(owner=owner, name=f"Cow {n}", serial=f"C-{n:05d}") for n in range(count)], batch_size=1000
        )
    serials = [f"C-{n:05d}" for n in range(1000, 1200)] + ["C-99999"]
    lookup = Twin.objects.filter(owner=alice, serial__in=serials).order_by().values_list("pk", "serial", "name")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # At 3,300 rows a sequential read is rightly cheaper than 201 probes; at an import's scale (100,000 of
            # the owner's things) it is not. Ruled out here, the planner must find an index matching the SQL: the
            # one leading with (owner, serial), not another leading with the owner alone (twin_cards_idx).
            cursor.execute("SET LOCAL enable_seqscan = off")
    plan = lookup.explain()
    # Without the index: a walk through all 3,000 of the owner's things (or the whole table) for every batch.
    assert "twin_owner_serial_idx" in plan, plan
    assert len(_serial_users(alice, serials)) == 200
    assert _serial_users(alice, ["C-01000"])["C-01000"][0][1] == "Cow 1000"
