"""A thing on its way to another host (twins.leaving, issue 18) joins or leaves no group here: its groups travel
with it in the package built at the move's confirmation. The services refuse, so every route (group pages, the API,
bulk jobs) does."""

from __future__ import annotations

import pytest

from fleets import services
from fleets.models import Membership
from twins import leaving
from twins import services as twin_services
from twins.models import Twin

pytestmark = pytest.mark.django_db

NEW_HOST = "https://things.example.net"


def test_a_leaving_thing_joins_no_group_and_leaves_none_and_after_a_thaw_it_does(alice, grinder):
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    kitchen = services.group_create(owner=alice, name="Kitchen")
    services.members_add(group=kitchen, twins=[kettle])
    Twin.objects.filter(pk=kettle.pk).update(leaving_to=NEW_HOST)
    for write in (
        lambda: services.members_add(group=kitchen, twins=[grinder, kettle]),
        lambda: services.members_remove(group=kitchen, twins=[kettle]),
        lambda: services.thing_set_groups(twin=kettle, groups=[]),
    ):
        with pytest.raises(leaving.TwinLeaving) as refused:
            write()
        assert refused.value.status == 503 and "things.example.net" in refused.value.message
    assert list(Membership.objects.filter(group=kitchen).values_list("twin_id", flat=True)) == [kettle.pk]
    leaving.thaw(kettle.pk)
    assert services.members_add(group=kitchen, twins=[grinder, kettle]) == 1
