"""The selection bar's count: what the cards page lists (its filters, the search box, a feature's filter), counted
without the list's annotations, and only up to the cap."""

from __future__ import annotations

from django.http import QueryDict

from bulk.selection import Selection
from fleets import services as fleet_services
from tags import services as tag_services
from tests.bulk.conftest import bar_count, make_things
from twins import selectors
from twins import services as twin_services


def _bar_count(client, url: str) -> str:
    return bar_count(client, url)


def test_the_bar_counts_what_the_filtered_list_lists(alice, alice_client, drills):
    make_things(alice, 2, prefix="Kettle")
    herd = fleet_services.group_create(owner=alice, name="Herd")
    fleet_services.members_add(group=herd, twins=drills[:3])
    assert _bar_count(alice_client, "/things/") == "6"
    assert _bar_count(alice_client, "/things/?q=kettle") == "2"
    assert _bar_count(alice_client, f"/things/?group={herd.pk}") == "3"
    assert _bar_count(alice_client, f"/things/?group={herd.pk}&q=drill+001") == "1"


def test_a_tagged_thing_is_counted_once(alice, alice_client, drills):
    # The list's tag count joins the tags; the bar's count must not multiply a thing by its tags.
    for _ in range(2):
        tag_services.tag_create(twin=drills[0])
    assert _bar_count(alice_client, "/things/") == "4"


def test_twin_count_stops_at_most_where_asked(alice, drills):
    assert selectors.twin_count(viewer=alice) == 4
    assert selectors.twin_count(viewer=alice, at_most=2) == 2
    assert selectors.twin_count(viewer=alice, at_most=10) == 4


def test_two_attribute_filters_both_narrow_the_bar_and_the_selection(alice, alice_client):

    for colour, size in (("red", "S"), ("red", "L"), ("blue", "S")):
        twin_services.twin_create(owner=alice, name=f"{colour} {size}", attributes={"colour": colour, "size": size})
    url = "/things/?attr=colour%3Dred&attr=size%3DS"
    page = alice_client.get(url)
    assert [twin.name for twin in page.context["page"]] == ["red S"]
    # Before: the bar kept only the last `attr` and counted (and would act on) both small things.
    assert _bar_count(alice_client, url) == "1"
    selection = Selection.from_params(QueryDict(url.split("?", 1)[1]))
    assert [twin.name for twin in selection.twins(alice)] == ["red S"]
    # Posted back from the bar's form (its `query` field), and from the API's JSON (a list).
    posted = Selection.from_params(QueryDict(selection.query))
    assert [twin.name for twin in posted.twins(alice)] == ["red S"]
    from_json = Selection.from_params({"attr": ["colour=red", "size=S"]})
    assert [twin.name for twin in from_json.twins(alice)] == ["red S"]


def test_a_search_is_counted_to_its_lower_cap_and_select_all_still_takes_every_match(alice, alice_client, monkeypatch):
    from bulk import section

    make_things(alice, 4, prefix="Kettle")
    monkeypatch.setattr(section, "SEARCH_COUNT_CAP", 2)
    monkeypatch.setattr(section, "COUNT_CAP", 3)
    # The search box: counted to its own cap; the plain list: to the filters' cap.
    assert _bar_count(alice_client, "/things/?q=kettle") == "2+"
    assert _bar_count(alice_client, "/things/") == "3+"
    # "Select all" acts on every match, whatever the bar counted to.
    selection = Selection.from_params(QueryDict("q=kettle"))
    assert len(list(selection.twins(alice))) == 4
