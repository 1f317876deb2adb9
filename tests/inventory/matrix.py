"""Values for tests/test_access_matrix.py: one place and one label of alice's, with her thing in the place."""

from __future__ import annotations

from inventory import labels, locations
from inventory.models import Label, Location, Placement


def place_of(world) -> Location:
    found = Location.objects.filter(owner=world.alice, name="Matrix shelf").first()
    if found is None:
        found = locations.location_create(owner=world.alice, name="Matrix shelf")
        locations.thing_place(twin=world.thing, location=found)
    return found


def label_of(world) -> Label:
    found = Label.objects.filter(owner=world.alice, name="Matrix").first()
    if found is None:
        found = labels.label_create(owner=world.alice, name="Matrix", colour="#3366cc")
        labels.thing_set_labels(twin=world.thing, labels=[found])
    return found


def snapshot(alice) -> tuple:
    """alice's places, labels and placements, for the matrix's "a stranger changes nothing" check."""
    return (
        list(Location.objects.filter(owner=alice).order_by("pk").values()),
        list(Label.objects.filter(owner=alice).order_by("pk").values()),
        list(Label.twins.through.objects.filter(label__owner=alice).order_by("pk").values()),
        list(Placement.objects.filter(twin__owner=alice).order_by("pk").values()),
    )
