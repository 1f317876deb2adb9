import pytest
from django.core.exceptions import ValidationError

from fleets import services
from fleets.models import Group, Membership
from twins import services as twin_services


def test_names_are_unique_per_owner_and_parent_whatever_the_case(alice, carol, farm):
    with pytest.raises(ValidationError, match="already have a group called"):
        services.group_create(owner=alice, name="farm")
    with pytest.raises(ValidationError, match="in “Farm”"):
        services.group_create(owner=alice, name="BARN", parent=farm["site"])
    # Another parent, or another owner: fine.
    other = services.group_create(owner=alice, name="Other site")
    assert services.group_create(owner=alice, name="Barn", parent=other).parent == other
    assert services.group_create(owner=carol, name="Farm").owner == carol


def test_groups_nest_one_level_only(alice, farm):
    with pytest.raises(ValidationError, match="nest one level only"):
        services.group_create(owner=alice, name="Stall", parent=farm["barn"])
    # A site with rooms cannot go inside another group either.
    other = services.group_create(owner=alice, name="Other")
    with pytest.raises(ValidationError, match="has groups inside it"):
        services.group_move(group=farm["site"], parent=other)
    with pytest.raises(ValidationError, match="inside itself"):
        services.group_move(group=other, parent=other)
    moved = services.group_move(group=other, parent=farm["site"])
    assert moved.parent == farm["site"]
    assert services.group_move(group=other, parent=None).parent is None


def test_a_parent_must_be_the_owners_own(alice, carol, farm):
    with pytest.raises(ValidationError, match="No such group among yours"):
        services.group_create(owner=carol, name="Mine", parent=farm["site"])
    mine = services.group_create(owner=carol, name="Mine")
    with pytest.raises(ValidationError, match="No such group among yours"):
        services.group_move(group=mine, parent=farm["site"])


def test_bad_names_are_refused_with_words(alice):
    for name, words in [("  ", "Give the group a name"), ("x" * 81, "at most 80"), ("A/B", "cannot contain")]:
        with pytest.raises(ValidationError, match=words):
            services.group_create(owner=alice, name=name)
    assert not Group.objects.exists()


def test_rename_keeps_members_and_refuses_a_taken_name(alice, herd, farm, cows):
    services.members_add(group=herd, twins=cows)
    assert services.group_rename(group=herd, name="Dairy herd").name == "Dairy herd"
    assert herd.twins.count() == 3
    with pytest.raises(ValidationError, match="already have a group called “FARM”"):
        services.group_rename(group=herd, name="FARM")
    assert herd.name == "Dairy herd"


def test_a_thing_can_be_in_several_groups(alice, herd, farm, cows):
    assert services.members_add(group=herd, twins=cows) == 3
    assert services.members_add(group=farm["barn"], twins=cows[:1]) == 1
    assert set(cows[0].fleet_groups.all()) == {herd, farm["barn"]}


def test_members_add_is_idempotent_and_counts_only_new_members(herd, cows):
    assert services.members_add(group=herd, twins=cows[:2]) == 2
    assert services.members_add(group=herd, twins=[cows[0], cows[0].pk, *cows]) == 1
    assert services.members_add(group=herd, twins=cows) == 0
    assert services.members_add(group=herd, twins=[]) == 0
    assert Membership.objects.filter(group=herd).count() == 3


def test_members_add_refuses_someone_elses_things_and_adds_none(alice, carol, herd, cows):
    carols = twin_services.twin_create(owner=carol, name="Carol's bike")
    with pytest.raises(ValidationError, match="Only your own things"):
        services.members_add(group=herd, twins=[cows[0], carols])
    assert not Membership.objects.exists()
    # Nor can carol put alice's things in her own group.
    hers = services.group_create(owner=carol, name="Mine")
    with pytest.raises(ValidationError, match="Only your own things"):
        services.members_add(group=hers, twins=cows)
    with pytest.raises(ValidationError, match="Only your own things"):
        services.members_add(group=herd, twins=[10**9])


def test_members_remove_leaves_the_things_and_other_groups(herd, farm, cows):
    services.members_add(group=herd, twins=cows)
    services.members_add(group=farm["barn"], twins=cows)
    assert services.members_remove(group=herd, twins=[cows[0], cows[0]]) == 1
    assert services.members_remove(group=herd, twins=[cows[0]]) == 0
    assert set(herd.twins.all()) == set(cows[1:])
    assert farm["barn"].twins.count() == 3


def test_deleting_a_group_keeps_its_things_and_lifts_its_rooms(alice, farm, cows):
    services.members_add(group=farm["site"], twins=cows)
    services.group_delete(group=farm["site"])
    barn = Group.objects.get(name="Barn")
    assert barn.parent is None
    assert alice.twins.count() == 3
    assert not Membership.objects.exists()


def test_deleting_a_site_whose_room_name_is_taken_at_the_top_is_refused(alice, farm):
    services.group_create(owner=alice, name="Barn")
    with pytest.raises(ValidationError, match="rename one of them first"):
        services.group_delete(group=farm["site"])
    assert Group.objects.filter(name="Farm").exists()


def test_group_for_import_gets_or_creates_the_group_and_its_site(alice, carol, farm):
    assert services.group_for_import(owner=alice, path="farm / barn") == farm["barn"]
    kitchen = services.group_for_import(owner=alice, path="  Farm/Kitchen ")
    assert (kitchen.parent, kitchen.name) == (farm["site"], "Kitchen")
    herd = services.group_for_import(owner=alice, path="Herd")
    assert herd.parent is None
    assert services.group_for_import(owner=alice, path="HERD") == herd
    # Owner-scoped: carol's "Farm / Barn" is her own.
    carols = services.group_for_import(owner=carol, path="Farm / Barn")
    assert carols.owner == carol and carols != farm["barn"]
    new = services.group_for_import(owner=alice, path="Depot / Van 1")
    assert new.parent.name == "Depot" and new.parent.owner == alice


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("A / B / C", "more than one level"),
        ("A / ", "empty name"),
        (" / B", "empty name"),
        ("x" * 81, "too long"),
        ("x" * 500, "too long"),
    ],
)
def test_group_for_import_refuses_bad_paths_with_words(alice, path, words):
    with pytest.raises(ValidationError, match=words):
        services.group_for_import(owner=alice, path=path)
    assert not Group.objects.exists()


def test_a_sold_thing_leaves_the_sellers_groups(alice, herd, cows):
    from twins import events

    services.members_add(group=herd, twins=cows)
    events.send(events.Transferred(twin_id=cows[0].pk, offer_id=0, seller_id=alice.pk, buyer_id=0, redacted_kinds=()))
    assert set(herd.twins.all()) == set(cows[1:])
