"""load_demo's fleets part: Home / Kitchen with the grinder and the meter, and a Herd with the cow, once."""

import pytest
from django.core.management import call_command

from fleets.models import Group
from tests.conftest import client_for
from twins.models import Twin

pytestmark = pytest.mark.django_db


def test_the_demo_groups_its_things_once(settings, tmp_path):
    settings.LOCAL_DIR = tmp_path
    call_command("load_demo")
    call_command("load_demo")
    grinder = Twin.objects.get(owner__username="demo", name="Coffee grinder")
    groups = Group.objects.filter(owner=grinder.owner).select_related("parent")
    assert sorted(group.path for group in groups) == ["Herd", "Home", "Home / Kitchen"]
    kitchen = groups.get(name="Kitchen")
    assert sorted(kitchen.twins.values_list("name", flat=True)) == ["Coffee grinder", "Glucose meter"]
    assert groups.get(name="Herd").twins.count() == 1
    cards = client_for(grinder.owner).get("/things/").content.decode()
    assert cards.count('data-testid="group-card"') == 3
    page = client_for(grinder.owner).get(f"/groups/{kitchen.parent_id}/").content.decode()
    assert "Coffee grinder" in page and "Glucose meter" in page
