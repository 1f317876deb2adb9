"""A group's stored membership count (Group.membership_count, kept by triggers: migration fleets 0002) stays equal
to its memberships on every path that adds or removes members, and the groups' cards show it less the archived
members: a site's card counts its own members, not its rooms'."""

from __future__ import annotations

import pytest
from django.db import connection

from fleets import actions, services
from fleets.models import Group, Membership
from fleets.selectors import group_list
from twins import events
from twins import services as twin_services


def _stored(group: Group) -> int:
    return Group.objects.values_list("membership_count", flat=True).get(pk=group.pk)


def _counted(group: Group) -> int:
    return Membership.objects.filter(group_id=group.pk).count()


def _right(*groups: Group) -> list[int]:
    """Each group's stored count, after checking it equals its memberships counted afresh."""
    for group in groups:
        assert _stored(group) == _counted(group), group.name
    return [_stored(group) for group in groups]


def test_adding_and_removing_members_keeps_the_count(alice, herd, cows):
    assert _right(herd) == [0]
    assert services.members_add(group=herd, twins=cows) == 3
    assert services.members_add(group=herd, twins=cows) == 0  # already members: not counted twice
    assert _right(herd) == [3]
    services.members_remove(group=herd, twins=cows[:2])
    services.members_remove(group=herd, twins=cows[:2])  # not members any more: nothing to subtract
    assert _right(herd) == [1]


def test_setting_a_things_groups_moves_its_count(alice, herd, farm, cows):
    services.thing_set_groups(twin=cows[0], groups=[herd, farm["barn"]])
    assert _right(herd, farm["barn"], farm["site"]) == [1, 1, 0]
    services.thing_set_groups(twin=cows[0], groups=[farm["site"]])
    assert _right(herd, farm["barn"], farm["site"]) == [0, 0, 1]


def test_the_bulk_actions_keep_the_count(alice, herd, cows):
    for cow in cows:
        actions.add_to_group(cow, {"group": str(herd.pk)}, alice)
    actions.add_to_group(cows[0], {"group": str(herd.pk)}, alice)  # again: idempotent
    assert _right(herd) == [3]
    actions.remove_from_group(cows[1], {"group": str(herd.pk)}, alice)
    assert _right(herd) == [2]


@pytest.mark.needs("imports")
def test_an_import_keeps_the_count(alice):
    from tests.imports.conftest import run_import

    run_import(alice, "name,external_id,group\nDaisy,cow-1,Farm / Barn\nBella,cow-2,Farm / Barn\nRosie,cow-3,Farm\n")
    barn, farm = Group.objects.get(owner=alice, name="Barn"), Group.objects.get(owner=alice, name="Farm")
    assert _right(barn, farm) == [2, 1]


def test_a_sold_thing_leaving_its_groups_keeps_the_count(alice, herd, farm, cows):
    services.members_add(group=herd, twins=cows)
    services.members_add(group=farm["barn"], twins=cows[:1])
    events.send(events.Transferred(twin_id=cows[0].pk, offer_id=0, seller_id=alice.pk, buyer_id=0, redacted_kinds=()))
    assert _right(herd, farm["barn"]) == [2, 0]


def test_deleting_a_group_keeps_the_other_groups_counts(alice, herd, farm, cows):
    services.members_add(group=herd, twins=cows)
    services.members_add(group=farm["barn"], twins=cows)
    services.members_add(group=farm["site"], twins=cows[:1])
    services.group_delete(group=farm["barn"])  # its memberships go with it (Django's cascade)
    assert _right(herd, farm["site"]) == [3, 1]
    services.group_delete(group=farm["site"])
    assert _right(herd) == [3]


def test_a_membership_written_outside_the_services_is_counted_too(alice, herd, cows):
    # A thing moving in (fleets.portability), a bulk_create, a COPY: the database keeps the count, not the caller.
    Membership.objects.get_or_create(group=herd, twin=cows[0])
    Membership.objects.bulk_create([Membership(group=herd, twin=cow) for cow in cows], ignore_conflicts=True)
    assert _right(herd) == [3]
    Membership.objects.filter(group=herd).update(added_at=cows[0].created_at)  # no change of group: no change
    assert _right(herd) == [3]
    Membership.objects.filter(twin=cows[0]).update(group=services.group_create(owner=alice, name="Moved"))
    assert _right(herd, Group.objects.get(name="Moved")) == [2, 1]
    Membership.objects.all().delete()
    assert _right(herd) == [0]


def test_the_cards_show_the_count_less_archived_members_and_a_site_its_own_members(alice, herd, farm, cows):
    services.members_add(group=herd, twins=cows)
    services.members_add(group=farm["barn"], twins=cows[:2])
    services.members_add(group=farm["site"], twins=cows[2:])
    twin_services.twin_set_archived(twin=cows[0], archived=True)
    counts = {group.name: group.member_count for group in group_list(viewer=alice)}
    assert counts == {"Farm": 1, "Barn": 1, "Herd": 2}
    twin_services.twin_set_archived(twin=cows[0], archived=False)
    counts = {group.name: group.member_count for group in group_list(viewer=alice)}
    assert counts == {"Farm": 1, "Barn": 2, "Herd": 3}


def test_the_count_is_read_with_the_groups_row_not_counted_each_page(alice, herd, cows):
    services.members_add(group=herd, twins=cows)
    sql = str(group_list(viewer=alice).query)
    # Only the archived members are counted (through the owner's archived things), not every membership.
    assert sql.count("COUNT(") == 1 and '"membership_count"' in sql


def test_the_triggers_are_in_the_schema(db):
    # SQLite drops a table's triggers when a migration rebuilds it: a later migration of fleets_membership must
    # create them again, or every count would silently stop moving.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT tgname FROM pg_trigger WHERE tgrelid = 'fleets_membership'::regclass "
                "AND NOT tgisinternal"
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'fleets_membership'")
        names = {name for (name,) in cursor.fetchall()}
    expected = {"fleets_membership_added", "fleets_membership_removed", "fleets_membership_moved"}
    if connection.vendor == "postgresql":
        expected.add("fleets_membership_truncated")
    assert names == expected
