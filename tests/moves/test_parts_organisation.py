"""The owner's own organisation of a moving thing (inventory, fleets, imports): its place, labels, groups and the
owner's external ids travel by name and are matched to the new owner's, made where they have none."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import pytest
from django.utils import timezone

from fleets.models import Group, Membership
from fleets.portability import export as fleets_export
from imports.models import ImportedThing
from imports.portability import export as imports_export
from inventory.models import Label, Location, Placement
from inventory.portability import export as inventory_export
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    assert_portable,
    mover,
    on_a,
)
from twins import services as twin_services

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.needs("inventory", "fleets", "imports"),
    pytest.mark.usefixtures("on_a"),
]


@pytest.fixture
def organised(alice, grinder):
    """The grinder in Home / Kitchen, labelled "Coffee" and "To sell", in the groups "Site A / Bar" and "Loaners",
    imported as "asset-17"."""
    home = Location.objects.create(owner=alice, name="Home")
    kitchen = Location.objects.create(owner=alice, name="Kitchen", parent=home)
    Placement.objects.create(twin=grinder, location=kitchen, moved_at=timezone.now())
    for name, colour in (("Coffee", "#aa5500"), ("To sell", "#3366cc")):
        Label.objects.create(owner=alice, name=name, colour=colour).twins.add(grinder)
    site = Group.objects.create(owner=alice, name="Site A", description="The first site")
    bar = Group.objects.create(owner=alice, name="Bar", parent=site, description="Behind the counter")
    loaners = Group.objects.create(owner=alice, name="Loaners")
    Membership.objects.create(group=bar, twin=grinder)
    Membership.objects.create(group=loaners, twin=grinder)
    ImportedThing.objects.create(owner=alice, external_id="asset-17", twin=grinder)
    return grinder


def _exports(twin) -> tuple:
    return inventory_export(twin), fleets_export(twin), imports_export(twin)


def test_place_labels_groups_and_ids_come_back_equal_for_the_new_owner(mover, organised, bob):
    before = _exports(organised)
    assert before[0]["place"]["path"] == ["Home", "Kitchen"] and len(before[1]) == 2 and before[2] == ["asset-17"]
    _, moved = mover(organised, to_owner=bob)
    assert _exports(moved) == before
    assert Placement.objects.get(twin=moved).location.owner == bob
    assert set(Label.objects.filter(twins=moved).values_list("owner", flat=True)) == {bob.pk}
    assert set(Group.objects.filter(memberships__twin=moved).values_list("owner", flat=True)) == {bob.pk}
    assert ImportedThing.objects.get(twin=moved).owner == bob


def test_the_new_owners_own_places_labels_and_groups_are_used_whatever_the_case(mover, organised, bob):
    home = Location.objects.create(owner=bob, name="HOME")
    kitchen = Location.objects.create(owner=bob, name="kitchen", parent=home)
    coffee = Label.objects.create(owner=bob, name="coffee", colour="#000000")
    loaners = Group.objects.create(owner=bob, name="loaners")
    _, moved = mover(organised, to_owner=bob)
    assert Placement.objects.get(twin=moved).location == kitchen
    assert Location.objects.filter(owner=bob).count() == 2
    assert set(Label.objects.filter(twins=moved)) == {coffee, Label.objects.get(owner=bob, name="To sell")}
    assert loaners in Group.objects.filter(memberships__twin=moved)
    assert Group.objects.filter(owner=bob).count() == 3  # loaners, and Site A / Bar made


def test_an_external_id_the_new_owner_already_uses_stays_theirs(mover, organised, bob):
    theirs = twin_services.twin_create(owner=bob, name="Bob's asset 17")
    ImportedThing.objects.create(owner=bob, external_id="asset-17", twin=theirs)
    _, moved = mover(organised, to_owner=bob)
    assert ImportedThing.objects.get(owner=bob, external_id="asset-17").twin == theirs
    assert not ImportedThing.objects.filter(twin=moved).exists()


def test_the_package_is_json_and_holds_no_sealed_blob_of_ours(mover, organised, bob):
    package, _ = mover(organised, to_owner=bob)
    for part in ("inventory", "fleets", "imports"):
        assert_portable(package, part)
