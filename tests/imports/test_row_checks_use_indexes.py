"""The row checks of a batch find the owner's imported things through the unique index on (owner, external id),
not by reading every imported thing of the owner: their cost per batch stays flat however many the owner has."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from imports.models import ImportedThing
from imports.rows import mapped_things
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_a_batch_finds_its_external_ids_through_the_unique_index(alice):
    twin = Twin.objects.create(owner=alice, name="Cow 0")
    ImportedThing.objects.bulk_create(
        [ImportedThing(owner=alice, external_id=f"cow-{n}", twin=twin) for n in range(300)]
    )
    batch = [f"cow-{n}" for n in range(100, 300)]  # a whole batch: more than PostgreSQL's 100-value proof limit
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE imports_importedthing")
                cursor.execute("SET LOCAL enable_seqscan = off")  # a young table: make the planner show its choice
        plan = mapped_things(alice, batch).explain()
    assert "imported_one_per_external_id" in plan, plan
    assert mapped_things(alice, batch).count() == 200
