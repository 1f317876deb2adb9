"""Alice's handover for the access matrix (tests/test_access_matrix.py): an open offer of a thing of hers that
has no single offer of its own."""

from __future__ import annotations

from handover.models import Handover
from handover.services import handover_create
from twins import services as twin_services


def handover_of(world) -> Handover:
    existing = Handover.objects.filter(seller=world.alice).first()
    if existing is not None:
        return existing
    thing = twin_services.twin_create(owner=world.alice, name="Handed of alice zq")
    return handover_create(seller=world.alice, twins=[thing], redact_kinds=[])
