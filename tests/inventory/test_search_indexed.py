"""The search's inventory term as PostgreSQL answers it from indexes (the table of attribute values, the journal's
trigram indexes): the same things as the per-row check, on both databases."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for
from twins import services
from twins.models import Twin

pytestmark = pytest.mark.django_db


def _cards(owner, query: str) -> list[str]:
    response = client_for(owner).get("/things/", {"q": query})
    assert response.status_code == 200
    return [twin.name for twin in response.context["page"]]


def test_a_query_spanning_two_values_matches_neither(alice):
    box = services.twin_create(owner=alice, name="Box", attributes={"a": "foo", "b": "bar"})
    # What the forms refuse but an older row or a direct write may hold: a null and a nested value.
    Twin.objects.filter(pk=box.pk).update(attributes={"a": "foo", "b": "bar", "c": None, "d": [1, "x"]})
    assert _cards(alice, "foo") == ["Box"] and _cards(alice, "bar") == ["Box"]
    assert _cards(alice, "oob") == [] and _cards(alice, "foobar") == []
    assert _cards(alice, "foo\x1fbar") == []  # a separator between two values: nothing joins them
    assert _cards(alice, "none") == [] and _cards(alice, "null") == []


def test_things_without_attributes_or_with_a_non_object_are_not_matched_by_them(alice):
    plain = services.twin_create(owner=alice, name="Plain")
    services.twin_create(owner=alice, name="Listed")
    Twin.objects.filter(name="Listed").update(attributes=["listed", "{}"])
    assert _cards(alice, "plain") == ["Plain"]
    assert _cards(alice, "{}") == [] and plain.attributes in ({}, None)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_reads_the_table_of_attribute_values_once_per_query(alice):
    services.twin_create(owner=alice, name="Drill", attributes={"bits": "masonry"})
    with CaptureQueriesContext(connection) as queries:
        assert _cards(alice, "masonry") == ["Drill"]
    searched = [q["sql"] for q in queries if "inventory_attribute_value" in q["sql"]]
    assert searched, "the search did not read the table of attribute values"
    # A set (a subquery, or gathered once with the search's other sets: twins.listing._gathered), never a per-row
    # look at each thing's JSON.
    assert all("(SELECT twin_id FROM inventory_attribute_value" in sql for sql in searched)
    assert not any("jsonb_each_text" in sql for sql in searched)
