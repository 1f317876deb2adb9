"""The groups API: list/create, detail/patch/delete, members list/add/remove; ownership (another owner's group is
the one 404; a parent or thing that is not the caller's is a 400 with words, nothing written)."""

import pytest

from fleets import services
from fleets.models import Group, Membership
from twins import services as twin_services


def test_create_and_list_groups(alice_api, alice):
    response = alice_api.post("/api/groups/", {"name": "Farm", "description": "Home farm"}, format="json")
    assert response.status_code == 201
    farm = response.json()
    assert (farm["name"], farm["parent"], farm["path"], farm["member_count"]) == ("Farm", None, "Farm", 0)
    response = alice_api.post("/api/groups/", {"name": "Barn", "parent": farm["id"]}, format="json")
    assert response.status_code == 201 and response.json()["path"] == "Farm / Barn"
    listed = alice_api.get("/api/groups/").json()
    assert [item["path"] for item in listed["results"]] == ["Farm", "Farm / Barn"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "Farm"}, "already have a group"),
        ({"nmae": "Typo"}, "nmae"),
        ({"name": 5}, "name"),
        ({"name": "Shed", "parent": 2**64}, "parent"),
        ({"name": "Shed", "parent": 2**63}, "parent"),
    ],
)
def test_bad_creates_are_400_with_words(alice_api, farm, body, words):
    response = alice_api.post("/api/groups/", body, format="json")
    assert response.status_code == 400 and words in str(response.json())
    assert Group.objects.count() == 2


def test_nesting_is_one_level_in_the_api_too(alice_api, farm, herd):
    response = alice_api.post("/api/groups/", {"name": "Stall", "parent": farm["barn"].pk}, format="json")
    assert response.status_code == 400 and "nest one level only" in response.json()["message"]
    response = alice_api.patch(f"/api/groups/{farm['site'].pk}/", {"parent": herd.pk}, format="json")
    assert response.status_code == 400 and "has groups inside it" in response.json()["message"]


def test_patch_renames_and_moves_all_or_nothing(alice_api, farm, herd):
    response = alice_api.patch(f"/api/groups/{herd.pk}/", {"name": "Dairy", "parent": farm["site"].pk}, format="json")
    assert response.status_code == 200 and response.json()["path"] == "Farm / Dairy"
    # A move with a refused rename ("Barn" is taken in Farm): neither happens.
    other = services.group_create(owner=herd.owner, name="Other")
    services.group_create(owner=herd.owner, name="Barn", parent=other)
    response = alice_api.patch(f"/api/groups/{herd.pk}/", {"name": "Barn", "parent": other.pk}, format="json")
    assert response.status_code == 400
    herd.refresh_from_db()
    assert (herd.name, herd.parent) == ("Dairy", farm["site"])
    response = alice_api.patch(f"/api/groups/{herd.pk}/", {"parent": None}, format="json")
    assert response.json()["parent"] is None


def test_delete_keeps_the_things(alice_api, alice, herd, cows):
    services.members_add(group=herd, twins=cows)
    assert alice_api.delete(f"/api/groups/{herd.pk}/").status_code == 204
    assert not Group.objects.exists() and alice.twins.count() == 3


def test_members_add_list_and_remove(alice_api, herd, cows):
    url = f"/api/groups/{herd.pk}/members/"
    response = alice_api.post(url, {"things": [cows[0].slug, cows[1].slug]}, format="json")
    assert response.status_code == 200 and response.json() == {"changed": 2, "member_count": 2}
    response = alice_api.post(url, {"things": [c.slug for c in cows]}, format="json")
    assert response.json() == {"changed": 1, "member_count": 3}
    twin_services.reading_add(twin=cows[0], value=38.5)
    listed = alice_api.get(url).json()
    assert [item["name"] for item in listed["results"]] == ["Cow 1", "Cow 2", "Cow 3"]
    assert listed["results"][0]["latest_value"] == 38.5
    response = alice_api.post(f"{url}remove", {"things": [cows[0].slug]}, format="json")
    assert response.json() == {"changed": 1, "member_count": 2}


def test_members_of_someone_else_are_refused_and_nothing_is_added(alice_api, carol, herd, cows):
    carols = twin_services.twin_create(owner=carol, name="Carol's bike")
    response = alice_api.post(f"/api/groups/{herd.pk}/members/", {"things": [cows[0].slug, carols.slug]}, format="json")
    assert response.status_code == 400 and "No such thing among yours" in response.json()["message"]
    assert not Membership.objects.exists()
    for body in ({"things": []}, {"things": "abc"}, {}):
        assert alice_api.post(f"/api/groups/{herd.pk}/members/", body, format="json").status_code == 400


def test_a_stranger_gets_404_for_every_group_route_and_changes_nothing(carol_api, farm, herd, cows):
    services.members_add(group=herd, twins=cows)
    group = herd.pk
    assert carol_api.get(f"/api/groups/{group}/").status_code == 404
    assert carol_api.patch(f"/api/groups/{group}/", {"name": "Mine"}, format="json").status_code == 404
    assert carol_api.delete(f"/api/groups/{group}/").status_code == 404
    assert carol_api.get(f"/api/groups/{group}/members/").status_code == 404
    assert carol_api.post(f"/api/groups/{group}/members/", {"things": [cows[0].slug]}, format="json").status_code == 404
    assert (
        carol_api.post(f"/api/groups/{group}/members/remove", {"things": [cows[0].slug]}, format="json").status_code
        == 404
    )
    assert carol_api.get("/api/groups/").json()["results"] == []
    # Nor can she nest her group in alice's, or put alice's things in hers.
    response = carol_api.post("/api/groups/", {"name": "Mine", "parent": farm["site"].pk}, format="json")
    assert response.status_code == 400 and "No such group among yours" in response.json()["message"]
    mine = carol_api.post("/api/groups/", {"name": "Mine"}, format="json").json()
    response = carol_api.post(f"/api/groups/{mine['id']}/members/", {"things": [cows[0].slug]}, format="json")
    assert response.status_code == 400
    herd.refresh_from_db()
    assert herd.name == "Herd" and Membership.objects.filter(group=herd).count() == 3


def test_anonymous_callers_are_refused(anon_api, herd):
    assert anon_api.get("/api/groups/").status_code in (401, 403)
    assert anon_api.get(f"/api/groups/{herd.pk}/").status_code in (401, 403)
