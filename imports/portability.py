"""The imports part of a moving twin (issue 18): the owner's external ids of the thing.

An import names things by the owner's own ids (a spreadsheet's "asset id"); the map from those ids to the thing
is the owner's, kept so that importing the same file again updates the thing instead of making a second one.
The ids travel, so a file re-imported on the destination finds the thing there; where the destination owner
already uses the id for a thing of theirs, theirs stays and this one is not added. A row without an external id
was known only by its import run and row number, and import runs (the uploaded file, its report) stay on the
source with the owner's other imports, so those do not travel.
"""

from __future__ import annotations

from imports.models import ImportedThing
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register


def export(twin: Twin) -> list[str]:
    return sorted(
        ImportedThing.objects.filter(twin=twin, owner_id=twin.owner_id)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )


def _restore(data: list[str], arrival: Arrival) -> None:
    if not isinstance(data, list) or not all(isinstance(item, str) and 0 < len(item) <= 200 for item in data):
        raise PackageError("The package's external ids are not a list of ids.")
    taken = set(
        ImportedThing.objects.filter(owner=arrival.owner, external_id__in=data).values_list("external_id", flat=True)
    )
    ImportedThing.objects.bulk_create(
        ImportedThing(owner=arrival.owner, external_id=external_id, twin=arrival.twin)
        for external_id in data
        if external_id not in taken
    )


register(Part(name="imports", export=export, restore=_restore, after=("twin",), what="external ids"))
