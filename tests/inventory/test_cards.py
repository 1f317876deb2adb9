"""The cards page with places and labels: their badges and filters cost the same queries for 2 cards or 24."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import labels, locations
from tests.conftest import client_for
from twins import services

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _labelled_things(alice, names, place, label) -> None:
    for name in names:
        twin = services.twin_create(owner=alice, name=name)
        locations.thing_place(twin=twin, location=place)
        labels.thing_set_labels(twin=twin, labels=[label])


def test_card_badges_and_filters_cost_the_same_queries_for_more_cards(alice, home_tree, red):
    client = client_for(alice)
    _labelled_things(alice, ["A1", "A2"], home_tree["drawer"], red)
    few = _queries(client, "/things/")
    few_filtered = _queries(client, f"/things/?label={red.pk}&location={home_tree['home'].public_id}&q=a")
    _labelled_things(alice, [f"B{i:02d}" for i in range(22)], home_tree["kitchen"], red)
    page = client.get("/things/").content.decode()
    assert page.count('data-testid="card-label"') == 24 and page.count('data-testid="card-place"') == 24
    assert _queries(client, "/things/") == few
    assert _queries(client, f"/things/?label={red.pk}&location={home_tree['home'].public_id}&q=a") == few_filtered
