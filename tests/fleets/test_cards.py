"""Groups on the cards page: their cards above the things (one query however many groups), the ?group= filter,
a group badge on each card and group names in the search."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fleets import services
from fleets.selectors import group_list
from twins import services as twin_services


def _groups(owner, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        services.group_create(owner=owner, name=f"Group {n:02d}")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_groups_get_cards_above_the_things(alice_client, alice, farm, herd, cows):
    services.members_add(group=herd, twins=cows)
    page = alice_client.get("/things/").content.decode()
    assert page.count('data-testid="group-card"') == 3
    assert page.index('data-testid="groups-section"') < page.index('data-testid="cards"')
    # Above the selection bar too, which belongs with the things' cards it selects.
    assert page.index('data-testid="groups-section"') < page.index('data-testid="bulk-bar"')
    assert "3 things" in page and "in Farm" in page


def test_the_groups_section_costs_the_same_queries_for_3_or_30_groups(
    alice, alice_client, cows, django_assert_max_num_queries
):
    _groups(alice, 3)
    few = _queries(alice_client, "/things/")
    _groups(alice, 27, start=3)
    with django_assert_max_num_queries(few):
        page = alice_client.get("/things/").content.decode()
    # Capped: past 24 the section links to the groups page.
    assert page.count('data-testid="group-card"') == 24 and "More groups" in page


def test_the_section_shows_only_on_the_plain_first_page(alice_client, herd, cows):
    assert 'data-testid="groups-section"' in alice_client.get("/things/").content.decode()
    for url in (
        "/things/?q=cow",
        "/things/?archived=1",
        f"/things/?group={herd.pk}",
        "/things/?lost=yes",
        "/things/?page=2",
    ):
        assert 'data-testid="groups-section"' not in alice_client.get(url).content.decode(), url


def test_nobody_sees_another_owners_groups_on_their_cards_page(carol_client, herd):
    page = carol_client.get("/things/").content.decode()
    assert "groups-section" not in page and "Herd" not in page


def test_the_group_filter_lists_the_groups_things_and_its_rooms_things(alice, alice_client, farm, cows):
    services.members_add(group=farm["site"], twins=cows[:1])
    services.members_add(group=farm["barn"], twins=cows[1:2])
    page = alice_client.get(f"/things/?group={farm['site'].pk}").content.decode()
    assert page.count('data-testid="card"') == 2 and "Cow 3" not in page
    page = alice_client.get(f"/things/?group={farm['barn'].pk}").content.decode()
    assert page.count('data-testid="card"') == 1 and "Cow 2" in page
    # The filter form offers the owner's groups.
    assert 'data-testid="filter-group"' in page and "Farm / Barn" in page


@pytest.mark.parametrize("raw", ["abc", "999999", "9" * 30])
def test_a_group_that_is_not_the_viewers_is_refused_with_words(carol_client, herd, raw):
    for value in (raw, str(herd.pk)):
        response = carol_client.get(f"/things/?group={value}")
        assert response.status_code == 400
        assert "No such group among yours" in response.content.decode()


def test_the_api_list_takes_the_group_filter(alice_api, carol_api, herd, cows):
    services.members_add(group=herd, twins=cows[:2])
    response = alice_api.get(f"/api/things/?group={herd.pk}")
    assert response.status_code == 200
    assert sorted(item["name"] for item in response.json()["results"]) == ["Cow 1", "Cow 2"]
    assert carol_api.get(f"/api/things/?group={herd.pk}").status_code == 400


def test_cards_carry_their_groups_and_the_search_finds_group_names(alice, alice_client, herd, farm, cows):
    services.members_add(group=herd, twins=cows[:2])
    services.members_add(group=farm["barn"], twins=cows[:1])
    twin_services.twin_create(owner=alice, name="Kettle")
    page = alice_client.get("/things/").content.decode()
    assert page.count('data-testid="card-group"') == 3
    page = alice_client.get("/things/?q=herd").content.decode()
    assert page.count('data-testid="card"') == 2 and "Kettle" not in page


def test_a_groups_card_counts_its_members_that_are_not_archived(alice, alice_client, herd, farm, cows):
    services.members_add(group=herd, twins=cows)
    services.members_add(group=farm["barn"], twins=cows[:1])
    twin_services.twin_set_archived(twin=cows[0], archived=True)
    page = alice_client.get("/things/").content.decode()
    # Herd: two of its three members are not archived; Barn's only member is; Farm has none of its own.
    assert "2 things" in page and "0 things" in page and "3 things" not in page and "1 thing<" not in page
    assert {group.name: group.member_count for group in group_list(viewer=alice)} == {"Farm": 0, "Barn": 0, "Herd": 2}


def test_the_group_filters_choices_name_every_group_site_first(alice, alice_client, herd, farm):
    page = alice_client.get("/things/?page=2").content.decode()
    farm_at, barn_at, herd_at = (page.index(f">{name}</option>") for name in ("Farm", "Farm / Barn", "Herd"))
    assert farm_at < barn_at < herd_at


def test_the_group_is_checked_once_a_page(alice, alice_client, herd, cows):
    # The cards and the selection bar's "any of yours matching?" both apply the filter: one check between them.
    services.members_add(group=herd, twins=cows[:2])
    with CaptureQueriesContext(connection) as queries:
        page = alice_client.get(f"/things/?group={herd.pk}").content.decode()
    assert page.count('data-testid="card"') == 2 and 'id="bulk-selection"' in page
    checks = [
        q["sql"] for q in queries.captured_queries if 'FROM "fleets_group" WHERE' in q["sql"] and "LIMIT 1" in q["sql"]
    ]
    assert len(checks) == 1, checks


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the gathering of a set's ids is PostgreSQL's")
@pytest.mark.parametrize("few", [True, False])
def test_a_small_groups_members_are_fetched_by_id_a_big_ones_walked_with_the_same_things(
    alice, alice_client, farm, cows, monkeypatch, few
):
    from twins import listing

    # A big group: past GATHERED_IDS members (here 1), the list walks its index testing the members' set.
    monkeypatch.setattr(listing, "GATHERED_IDS", 1_000 if few else 1)
    services.members_add(group=farm["site"], twins=cows[:1])
    services.members_add(group=farm["barn"], twins=cows[1:2])
    twin_services.twin_create(owner=alice, name="Kettle")
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(f"/things/?group={farm['site'].pk}")
    assert sorted(twin.name for twin in response.context["page"]) == ["Cow 1", "Cow 2"]  # the room's too
    listed = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "twins_twin"."id" AS "pk"')]
    assert len(listed) == 1
    assert ("unnest" in listed[0]) == few and ('"fleets_membership"' in listed[0]) == (not few), listed[0]
