"""A thing on its way to another host (twins.leaving, issue 18) is not placed or labelled here: its place and
labels travel with it in the package built at the move's confirmation (the services refuse, so the place pages'
"move here" do too)."""

from __future__ import annotations

import pytest

from inventory import labels, locations
from inventory.models import Placement
from twins import leaving
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_a_leaving_thing_is_not_placed_unplaced_or_labelled_and_after_a_thaw_it_is(alice, grinder):
    shed = locations.location_create(owner=alice, name="Shed")
    Twin.objects.filter(pk=grinder.pk).update(leaving_to="https://things.example.net")
    red = labels.label_create(owner=alice, name="Fragile")
    for where in (shed, None):
        with pytest.raises(leaving.TwinLeaving):
            locations.thing_place(twin=grinder, location=where)
    with pytest.raises(leaving.TwinLeaving):
        labels.thing_set_labels(twin=grinder, labels=[red])
    assert not Placement.objects.filter(twin=grinder).exists()
    assert labels.labels_of(grinder) == []
    leaving.thaw(grinder.pk)
    assert locations.thing_place(twin=grinder, location=shed).location == shed
    assert labels.thing_set_labels(twin=grinder, labels=[red]) == [red]
