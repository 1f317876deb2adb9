"""load_demo's inventory part: Home > Kitchen > Drawer with the demo things placed, and two labels on them."""

import pytest
from django.core.management import call_command

from inventory.locations import placement_of, tree_of
from inventory.models import Label
from tests.conftest import client_for
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_the_demo_places_its_things_in_a_tree_and_labels_them_once(settings, tmp_path):
    settings.LOCAL_DIR = tmp_path
    call_command("load_demo")
    call_command("load_demo")
    grinder = Twin.objects.get(owner__username="demo", name="Coffee grinder")
    meter = Twin.objects.get(owner__username="demo", name="Glucose meter")
    tree = tree_of(grinder.owner)
    assert [place.name for place in tree.path(placement_of(meter))] == ["Home", "Kitchen", "Drawer"]
    assert [place.name for place in tree.path(placement_of(grinder))] == ["Home", "Kitchen"]
    assert sorted(Label.objects.filter(owner=grinder.owner).values_list("name", flat=True)) == ["Daily use", "Insured"]
    assert sorted(grinder.inventory_labels.values_list("name", flat=True)) == ["Daily use", "Insured"]
    cards = client_for(grinder.owner).get("/things/").content.decode()
    assert "Daily use" in cards and "in Kitchen" in cards
