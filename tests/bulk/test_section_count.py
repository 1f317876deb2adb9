"""The selection bar's count: what the cards page lists (its filters, the search box, a feature's filter), counted
without the list's annotations, and only up to the cap."""

from __future__ import annotations

import re

from fleets import services as fleet_services
from tags import services as tag_services
from tests.bulk.conftest import make_things
from twins import selectors


def _bar_count(client, url: str) -> str:
    match = re.search(r'data-matching="([^"]*)"', client.get(url).content.decode())
    return match.group(1) if match else ""


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
