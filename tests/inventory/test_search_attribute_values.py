"""A search term many things share (`q=purple`): the cards page and its selection bar find them as one set, at a
cost that does not grow with how many match; on PostgreSQL from `inventory_attribute_value` (migration 0003),
which its triggers keep equal to the things' attribute values through every kind of write."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for
from twins import selectors, services
from twins.models import Twin

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'")


def _purple(owner, count: int, *, start: int = 0) -> list[Twin]:
    """Things sharing one colour among others that do not (the non-matching ones keep the page honest)."""
    return Twin.objects.bulk_create(
        [
            Twin(owner=owner, name=f"Thing {i:04d}", attributes={"colour": "purple" if i % 2 else "green", "n": i})
            for i in range(start, start + 2 * count)
        ]
    )


def _bar_count(client, query: str) -> str:
    """The selection bar's number for the search, as the page's script fetches it (bulk's count URL)."""
    from tests.bulk.conftest import bar_count

    return bar_count(client, "/things/?" + urlencode({"q": query}))


def test_searching_a_shared_value_costs_the_same_queries_for_3_and_40_matching_things(
    alice, carol, django_assert_num_queries
):
    _purple(carol, 5)  # another owner's purple things: never listed, never counted
    _purple(alice, 3)
    client = client_for(alice)
    with CaptureQueriesContext(connection) as small:
        response = client.get("/things/", {"q": "purple"})
    small_count = len(small)  # read now: the next request resets the connection's query log
    assert response.status_code == 200 and _bar_count(client, "purple") == "3"
    _purple(alice, 37, start=100)
    with django_assert_num_queries(small_count):
        response = client.get("/things/", {"q": "purple"})
    assert _bar_count(client, "purple") == "40"
    assert len(response.context["page"]) == 24
    assert all(twin.attributes["colour"] == "purple" for twin in response.context["page"])


@postgres_only
@pytest.mark.parametrize("gathered", [True, False], ids=["few matches", "many matches"])
def test_postgres_reads_the_shared_value_once_a_page_and_tests_a_common_one_on_the_row(alice, monkeypatch, gathered):
    from twins import listing

    # Few matches (at most listing.GATHERED_IDS): the page's ids and the selection bar's count share one gathering
    # of the set, then fetch by id, never looking at a thing's JSON. Many: the gathering stops at GATHERED_IDS + 1
    # rows, and the page tests each row it walks by its own values (jsonb_each_text, the per-row check): the set
    # was read whole before the walk began (12,000 rows of 100,000 things for q=purple, 33 ms), where the walk
    # meets a page of matches within a few hundred rows.
    monkeypatch.setattr(listing, "GATHERED_IDS", 1_000 if gathered else 10)
    _purple(alice, 40)
    with CaptureQueriesContext(connection) as queries:
        response = client_for(alice).get("/things/", {"q": "purple"})
    assert response.status_code == 200
    assert [twin.name for twin in response.context["page"]] == [f"Thing {i:04d}" for i in range(1, 48, 2)]
    searched = [q["sql"] for q in queries if "inventory_attribute_value" in q["sql"]]
    assert len(searched) == 1, searched
    assert searched[0].count("inventory_attribute_value") == 1 and " LIMIT " in searched[0]
    walked = [q["sql"] for q in queries if "jsonb_each_text" in q["sql"]]
    assert bool(walked) is not gathered
    assert all("ORDER BY" in sql or "COUNT(" in sql for sql in walked)


@postgres_only
def test_postgres_counts_a_common_value_from_its_set_and_asks_anything_matching_on_the_row(alice, bob, monkeypatch):
    from twins import listing

    # A count walks to its cap (1,001 of q=purple's 12,000: ~8,000 rows), where a test on each row costs more than
    # the set read once (twins.listing.whole_sets); "is anything matching?" stops at the first, as a page does.
    monkeypatch.setattr(listing, "GATHERED_IDS", 10)
    _purple(alice, 40)
    _purple(bob, 5)
    filters = selectors.TwinFilters(query="purple")
    for at_most, expected, per_row in ((1_001, 40, False), (1, 1, True)):
        with CaptureQueriesContext(connection) as queries, listing.one_request():
            assert selectors.twin_count(viewer=alice, filters=filters, at_most=at_most) == expected
        counted = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
        assert len(counted) == 1
        assert ("jsonb_each_text" in counted[0]) is per_row, counted[0]
        assert ("inventory_attribute_value" in counted[0]) is not per_row, counted[0]


def _table() -> list[tuple[int, int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT twin_id, owner_id, value FROM inventory_attribute_value ORDER BY 1, 3")
        return [tuple(row) for row in cursor.fetchall()]


def _expected() -> list[tuple[int, int, str]]:
    """Each thing's attribute values as the per-row check reads them (JSON null has no text), from Python."""
    rows = []
    for twin_id, owner_id, attributes in Twin.objects.values_list("pk", "owner_id", "attributes"):
        if isinstance(attributes, dict):
            for value in attributes.values():
                if value is None:
                    continue
                if isinstance(value, bool):
                    value = "true" if value else "false"
                rows.append((twin_id, owner_id, value if isinstance(value, str) else str(value)))
    return sorted(rows, key=lambda row: (row[0], row[2]))


@postgres_only
def test_postgres_keeps_the_table_of_values_equal_to_the_things_through_every_write(alice, bob):
    kettle = services.twin_create(owner=alice, name="Kettle", attributes={"colour": "purple", "litres": 2})
    drill = services.twin_create(owner=alice, name="Drill", attributes={"bits": "masonry"})
    _purple(alice, 2)
    assert _table() == _expected() and len(_table()) == 2 + 1 + 4 * 2
    kettle.attributes = {"colour": "red", "note": None, "broken": True}  # save(): an update of every column
    kettle.save()
    Twin.objects.filter(pk=drill.pk).update(attributes=["listed"])  # not an object: no values
    Twin.objects.filter(name="Thing 0001").update(owner=bob)  # the value moves with the thing
    Twin.objects.filter(name="Thing 0002").delete()
    Twin.objects.filter(name="Thing 0003").update(latest_value=1.5)  # a reading: the values stay
    assert _table() == _expected()
    assert (kettle.pk, alice.pk, "true") in _table() and not [row for row in _table() if row[0] == drill.pk]
    # Thing 0001 went to bob with its value; Thing 0003 (a reading since) is still alice's.
    assert sorted(row[1] for row in _table() if row[2] == "purple") == sorted([alice.pk, bob.pk])


@postgres_only
@pytest.mark.postgres
def test_postgres_finds_a_common_value_through_the_trigram_index_of_values(alice, bob):
    for owner, count in ((alice, 1500), (bob, 200)):
        _purple(owner, count)
    with connection.cursor() as cursor:
        # New rows wait in the GIN index's pending list until a VACUUM; merge them as VACUUM would, and ANALYZE
        # (this transaction's own rows count), or the planner prices the index as a scan of the list.
        cursor.execute("SELECT gin_clean_pending_list('inventory_attribute_value_trgm')")
        cursor.execute("ANALYZE inventory_attribute_value")
        cursor.execute(
            "EXPLAIN SELECT twin_id FROM inventory_attribute_value WHERE owner_id = %s AND value ILIKE %s",
            [alice.pk, "%purple%"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "inventory_attribute_value_trgm" in plan, plan
    ids = Twin.objects.filter(owner=alice, attributes__colour="purple").count()
    assert selectors.twin_count(viewer=alice, filters=selectors.TwinFilters(query="PURPLE")) == ids == 1500
    # The bar counts a search only to its cap (bulk.section.SEARCH_COUNT_CAP); "select all" takes all 1,500.
    assert _bar_count(client_for(alice), "PURPLE") == "1,000+"
