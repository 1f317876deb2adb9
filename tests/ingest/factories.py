"""Alice's source for tests/test_access_matrix.py's kwarg table (source_id, link_id), made on first use."""

from __future__ import annotations

from ingest import services as ingest_services
from ingest.models import Source, SourceThing


def source_of(world) -> Source:
    source = Source.objects.filter(owner=world.alice).first()
    if source is None:
        source, _ = ingest_services.source_create(owner=world.alice, name="Source of alice zq")
        ingest_services.source_link_thing(source=source, twin=world.thing, external_id="ext-alice-zq")
    return source


def link_of(world) -> SourceThing:
    return SourceThing.objects.get(source=source_of(world))
