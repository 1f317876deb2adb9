"""The inventory's part of the demo data (`load_demo`): a place tree Home > Kitchen > Drawer (and a Farm for the
cow) with the demo things placed, and two labels on them."""

from __future__ import annotations

from typing import Any

from inventory.labels import label_create, thing_set_labels
from inventory.locations import location_create, thing_place
from inventory.models import Label, Location
from twins.demo import register_demo_step

# icon of a demo thing -> (its place's path, its labels)
PLACES = {"coffee": ("Home", "Kitchen"), "health": ("Home", "Kitchen", "Drawer"), "animal": ("Farm",)}
LABELS = {"Daily use": "#2e7d32", "Insured": "#f9a825"}
LABELLED = {"coffee": ("Daily use", "Insured"), "health": ("Daily use",), "animal": ("Insured",)}


def _place(owner, path: tuple[str, ...]) -> Location:
    parent = None
    for name in path:
        found = Location.objects.filter(owner=owner, parent=parent, name=name).first()
        parent = found or location_create(owner=owner, name=name, parent=parent)
    return parent


def demo_places_and_labels(twin: Any) -> None:
    """twins.demo step: each demo thing in its place, with its labels."""
    owner = twin.owner
    if twin.icon in PLACES:
        thing_place(twin=twin, location=_place(owner, PLACES[twin.icon]))
    labels = []
    for name in LABELLED.get(twin.icon, ()):
        labels.append(
            Label.objects.filter(owner=owner, name=name).first()
            or label_create(owner=owner, name=name, colour=LABELS[name])
        )
    if labels:
        thing_set_labels(twin=twin, labels=labels)


def connect() -> None:
    register_demo_step(demo_places_and_labels)
