"""Values for tests/test_access_matrix.py: a group of alice's with her thing in it."""

from __future__ import annotations

from fleets import services
from fleets.models import Group, Membership


def group_of(world) -> Group:
    found = Group.objects.filter(owner=world.alice, name="Matrix herd").first()
    if found is None:
        found = services.group_create(owner=world.alice, name="Matrix herd")
        services.members_add(group=found, twins=[world.thing])
    return found


def snapshot(alice) -> tuple:
    """alice's groups and who is in them, for the matrix's "a stranger changes nothing" check."""
    return (
        list(Group.objects.filter(owner=alice).order_by("pk").values()),
        list(Membership.objects.filter(group__owner=alice).order_by("pk").values()),
    )
