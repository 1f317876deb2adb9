"""The groups pages: list and add, a group's page (members with latest readings, the combined chart, the map, the
groups inside), edit, delete, removing a member, and the thing page's groups panel. Another owner's group is 404."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fleets import selectors, services
from fleets.models import Group, Membership
from twins import services as twin_services

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_an_owner_adds_a_group_and_a_room_inside_it(alice, alice_client):
    response = alice_client.post("/groups/", {"name": "Farm", "parent": "", "description": "The home farm"})
    farm = Group.objects.get(owner=alice, name="Farm")
    assert response.status_code == 302 and response["Location"] == f"/groups/{farm.pk}/"
    alice_client.post("/groups/", {"name": "Barn", "parent": str(farm.pk)})
    assert Group.objects.get(name="Barn").parent == farm
    page = alice_client.get("/groups/").content.decode()
    assert "Farm" in page and "in Farm" in page


def test_bad_group_forms_are_400_with_words(alice, alice_client, farm, carol):
    response = alice_client.post("/groups/", {"name": "Stall", "parent": str(farm["barn"].pk)})
    assert response.status_code == 400  # a room is not offered as a parent
    response = alice_client.post("/groups/", {"name": "farm", "parent": ""})
    assert response.status_code == 400 and "already have a group called" in response.content.decode()
    carols = services.group_create(owner=carol, name="Carol's")
    response = alice_client.post("/groups/", {"name": "X", "parent": str(carols.pk)})
    assert response.status_code == 400
    assert not Group.objects.filter(name__in=["Stall", "X"]).exists()


def test_a_strangers_group_pages_are_404_and_change_nothing(carol_client, farm, cows):
    services.members_add(group=farm["site"], twins=cows)
    site = farm["site"].pk
    for url in (f"/groups/{site}/", f"/groups/{site}/edit", f"/groups/{site}/delete"):
        assert carol_client.get(url).status_code == 404, url
    assert carol_client.post(f"/groups/{site}/edit", {"name": "Mine"}).status_code == 404
    assert carol_client.post(f"/groups/{site}/delete").status_code == 404
    assert carol_client.post(f"/groups/{site}/remove", {"thing": cows[0].slug}).status_code == 404
    assert Group.objects.get(pk=site).name == "Farm" and Membership.objects.count() == 3


def test_the_group_page_shows_members_with_latest_readings_and_the_rooms_things(alice, alice_client, farm, cows):
    services.members_add(group=farm["site"], twins=cows[:1])
    services.members_add(group=farm["barn"], twins=cows[1:2])
    twin_services.reading_add(twin=cows[0], value=38.5, time=NOW)
    page = alice_client.get(f"/groups/{farm['site'].pk}/").content.decode()
    assert 'data-testid="children"' in page and "include the things in these groups" in page
    assert "Cow 1" in page and "Cow 2" in page and "Cow 3" not in page
    assert "38.5 °C" in page and "2026-12-01" in page
    assert f'href="/things/?group={farm["site"].pk}"' in page
    # Cow 2 is in the barn, not the site itself: it can be removed on the barn's page, not here.
    assert page.count("Remove Cow") == 1


def test_the_combined_chart_has_one_series_per_member_of_the_main_kind(alice, alice_client, herd, cows):
    services.members_add(group=herd, twins=cows)
    for n, cow in enumerate(cows[:2]):
        for hours in range(3):
            twin_services.reading_add(twin=cow, value=38 + n + hours / 10, time=NOW - timedelta(hours=hours))
    other = twin_services.twin_create(owner=alice, name="Scale", reading_kind="weight", reading_unit="kg")
    services.members_add(group=herd, twins=[other])
    twin_services.reading_add(twin=other, value=500, time=NOW)
    members = selectors.group_members(group=herd)
    chart = selectors.group_chart(members=members)
    assert chart.kind == "temperature" and chart.unit == "°C" and chart.kinds == ["temperature", "weight"]
    assert [series["name"] for series in chart.series] == ["Cow 1", "Cow 2"]
    assert chart.members_of_kind == 3 and chart.left_out == 0
    assert [point["v"] for point in chart.series[0]["points"]] == [38.2, 38.1, 38.0]
    weight = selectors.group_chart(members=members, kind="weight")
    assert [series["name"] for series in weight.series] == ["Scale"]
    page = alice_client.get(f"/groups/{herd.pk}/?kind=weight").content.decode()
    assert 'id="group-chart-data"' in page and "Scale" in page and "fleets-chart.js" in page


def test_the_chart_is_capped_and_says_so(alice, herd, monkeypatch):
    monkeypatch.setattr(selectors, "CHART_MEMBERS", 2)
    twins = [twin_services.twin_create(owner=alice, name=f"T{n}", reading_kind="t") for n in range(4)]
    for twin in twins:
        twin_services.reading_add(twin=twin, value=1, time=NOW)
    services.members_add(group=herd, twins=twins)
    chart = selectors.group_chart(members=selectors.group_members(group=herd))
    assert len(chart.series) == 2 and chart.left_out == 2


def test_the_map_plots_members_with_a_recent_latitude_and_longitude(alice, alice_client, herd, cows):
    services.members_add(group=herd, twins=cows)
    # Cow 1: a fix as two readings of kind "location" with units lat/lon (what devices send).
    twin_services.reading_add(twin=cows[0], kind="location", unit="lat", value=47.2631, time=NOW)
    twin_services.reading_add(twin=cows[0], kind="location", unit="lon", value=11.3947, time=NOW)
    # Cow 2: kinds latitude/longitude; an older fix first, the newest one counts.
    twin_services.reading_add(twin=cows[1], kind="latitude", value=1, time=NOW - timedelta(days=2))
    twin_services.reading_add(twin=cows[1], kind="latitude", value=47.27, time=NOW)
    twin_services.reading_add(twin=cows[1], kind="longitude", value=11.40, time=NOW + timedelta(minutes=1))
    # Cow 3: half a fix, a day apart: not a position.
    twin_services.reading_add(twin=cows[2], kind="lat", value=47, time=NOW - timedelta(days=1))
    twin_services.reading_add(twin=cows[2], kind="lon", value=11, time=NOW)
    located = selectors.group_locations(members=selectors.group_members(group=herd))
    assert [(p["name"], p["lat"], p["lon"]) for p in located] == [("Cow 1", 47.2631, 11.3947), ("Cow 2", 47.27, 11.4)]
    points = selectors.map_points(located)
    assert all(0 <= p["x"] <= 600 and 0 <= p["y"] <= 300 for p in points)
    # North is up: Cow 2 is further north, so higher on the plot.
    assert points[1]["y"] < points[0]["y"]
    page = alice_client.get(f"/groups/{herd.pk}/").content.decode()
    assert 'data-testid="map"' in page and "47.26310" in page


def test_a_group_without_positions_says_no_locations_known(alice_client, herd, cows):
    services.members_add(group=herd, twins=cows)
    page = alice_client.get(f"/groups/{herd.pk}/").content.decode()
    assert 'data-testid="no-locations"' in page and "No locations known" in page
    assert "No readings to chart yet" in page or "No temperature readings" in page


def test_edit_renames_and_moves_a_group(alice_client, farm, herd):
    response = alice_client.post(
        f"/groups/{herd.pk}/edit", {"name": "Dairy", "parent": str(farm["site"].pk), "description": ""}
    )
    assert response.status_code == 302
    herd.refresh_from_db()
    assert (herd.name, herd.parent) == ("Dairy", farm["site"])
    response = alice_client.post(f"/groups/{farm['site'].pk}/edit", {"name": "Farm", "parent": ""})
    assert response.status_code == 200 or response.status_code == 302


def test_delete_keeps_the_things(alice, alice_client, herd, cows):
    services.members_add(group=herd, twins=cows)
    assert "things stay yours" in alice_client.get(f"/groups/{herd.pk}/delete").content.decode()
    assert alice_client.post(f"/groups/{herd.pk}/delete").status_code == 302
    assert not Group.objects.exists() and alice.twins.count() == 3


def test_remove_takes_a_thing_out_of_the_group(alice_client, carol, herd, cows):
    services.members_add(group=herd, twins=cows)
    assert alice_client.post(f"/groups/{herd.pk}/remove", {"thing": cows[0].slug}).status_code == 302
    assert set(herd.twins.all()) == set(cows[1:])
    # Someone else's thing: the one 404.
    carols = twin_services.twin_create(owner=carol, name="Carol's")
    assert alice_client.post(f"/groups/{herd.pk}/remove", {"thing": carols.slug}).status_code == 404


def test_the_thing_page_panel_sets_the_things_groups(alice_client, carol, herd, farm, cows):
    page = alice_client.get(f"/things/{cows[0].slug}/").content.decode()
    assert 'data-testid="thing-groups"' in page and "Farm / Barn" in page
    url = f"/things/{cows[0].slug}/groups"
    assert alice_client.post(url, {"group": [str(herd.pk), str(farm["barn"].pk)]}).status_code == 302
    assert set(cows[0].fleet_groups.all()) == {herd, farm["barn"]}
    assert alice_client.post(url, {"group": [str(herd.pk)]}).status_code == 302
    assert set(cows[0].fleet_groups.all()) == {herd}
    carols = services.group_create(owner=carol, name="Carol's")
    response = alice_client.post(url, {"group": [str(carols.pk)]})
    assert response.status_code == 400 and "No such group among yours" in response.content.decode()
    assert set(cows[0].fleet_groups.all()) == {herd}


@pytest.mark.parametrize("who", ["carol_client", "anon_client"])
def test_the_thing_groups_form_is_not_for_strangers(request, who, herd, cows):
    client = request.getfixturevalue(who)
    response = client.post(f"/things/{cows[0].slug}/groups", {"group": [str(herd.pk)]})
    assert response.status_code in (302, 404)
    assert not Membership.objects.exists()


def test_the_group_page_costs_the_same_queries_for_3_or_30_members(alice, alice_client, herd, monkeypatch):
    # Each drawn series costs one query (the chart is capped); cap it below both sizes to compare the rest.
    monkeypatch.setattr(selectors, "CHART_MEMBERS", 2)

    def grow(count: int, start: int) -> None:
        twins = [
            twin_services.twin_create(owner=alice, name=f"Cow {n:02d}", reading_kind="temperature")
            for n in range(start, start + count)
        ]
        for twin in twins:
            twin_services.reading_add(twin=twin, value=38, time=NOW)
            twin_services.reading_add(twin=twin, kind="lat", value=47, time=NOW)
            twin_services.reading_add(twin=twin, kind="lon", value=11, time=NOW)
        services.members_add(group=herd, twins=twins)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get(f"/groups/{herd.pk}/").status_code == 200
        return len(captured)

    grow(3, 0)
    few = queries()
    grow(27, 3)
    assert queries() == few
