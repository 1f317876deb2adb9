"""Alice's source and device key for tests/test_access_matrix.py's kwarg table (source_id, link_id, key_id),
made on first use."""

from __future__ import annotations

from ingest import devices
from ingest import services as ingest_services
from ingest.models import DeviceKey, Source, SourceThing
from ssi.keys import SigningKey


def source_of(world) -> Source:
    source = Source.objects.filter(owner=world.alice).first()
    if source is None:
        source, _ = ingest_services.source_create(owner=world.alice, name="Source of alice zq")
        ingest_services.source_link_thing(source=source, twin=world.thing, external_id="ext-alice-zq")
    return source


def link_of(world) -> SourceThing:
    return SourceThing.objects.get(source=source_of(world))


def key_of(world) -> DeviceKey:
    """A device key of alice's thing (key_id)."""
    key = DeviceKey.objects.filter(twin=world.thing).first()
    if key is None:
        key = devices.device_key_add(twin=world.thing, public_key=SigningKey.generate().multibase, label="board zq")
    return key
