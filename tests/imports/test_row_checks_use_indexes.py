"""The row checks of a batch find the owner's imported things through the unique index on (owner, external id),
not by reading every imported thing of the owner: their cost per batch stays flat however many the owner has."""

from __future__ import annotations

import pytest
from django.db import connection

from imports.models import ImportedThing
from imports.rows import mapped_things
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
