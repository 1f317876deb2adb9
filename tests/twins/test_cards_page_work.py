"""The cards page does no work twice and no work in vain: what bench/cards.py found costing server time on every
page (issue 16: under 50 ms p95 for an owner with 100,000 things)."""

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from twins import services

pytestmark = pytest.mark.django_db


def test_the_cards_template_reads_no_attribute_a_card_lacks(alice_client, alice, caplog):
    # Each read of a missing attribute costs Django's template engine an exception and a dir() of the model
    # instance: `twin.access_role` read five times a card, on a list without kept things, was 120 a page.
    for n in range(3):
        services.twin_create(owner=alice, name=f"Kettle {n}")
    with caplog.at_level(logging.DEBUG, logger="django.template"):
        response = alice_client.get(reverse("things"))
    assert response.status_code == 200
    assert len(response.context["page"]) == 3
    failed = [record.getMessage() for record in caplog.records if record.name == "django.template"]
    assert failed == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's")
@pytest.mark.needs("bulk")
def test_a_search_asks_the_planner_for_its_estimate_once_a_page(alice_client, alice):
    # The cards and the selection bar's count build the same search (twins.listing._own_fields): one estimate.
    for n in range(3):
        services.twin_create(owner=alice, name=f"Kettle {n}")
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(reverse("things") + "?q=kettle")
    assert response.status_code == 200
    assert len(response.context["page"]) == 3
    assert "3 " in response.content.decode().split('data-testid="bulk-all"')[1][:80]  # the bar counted them
    estimates = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("EXPLAIN")]
    assert len(estimates) == 1


def _search_page(client, query: str) -> tuple[list[str], list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("things"), {"q": query})
    assert response.status_code == 200
    return [twin.name for twin in response.context["page"]], [q["sql"] for q in queries.captured_queries]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search's sets are PostgreSQL's (trigram indexes)")
@pytest.mark.needs("inventory", "fleets", "bulk")
def test_a_search_that_finds_few_things_gathers_them_once_and_fetches_them_by_id(alice_client, alice, bob):
    # The sets a search ORs (serial, attribute values, notes, groups...) were hashed subplans tested on every row
    # of the list's walk: a serial's one match walked all 100,000 things, for the page and again for the bar.
    services.twin_create(owner=alice, name="Drill", serial="SN-0042")
    services.twin_create(owner=alice, name="Saw", attributes={"code": "sn-0042b"})
    services.twin_create(owner=alice, name="Plane")
    services.twin_create(owner=bob, name="Bob's drill", serial="SN-0042")
    names, sqls = _search_page(alice_client, "sn-0042")
    assert names == ["Drill", "Saw"]
    gathered = [sql for sql in sqls if " UNION ALL " in sql and "inventory_attribute_value" in sql]
    assert len(gathered) == 1
    listed = [sql for sql in sqls if "twins_twin" in sql and "unnest(" in sql]
    assert len(listed) == 2  # the page's ids and the bar's count, neither building the sets again
    assert not any("inventory_attribute_value" in sql for sql in listed)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search's sets are PostgreSQL's (trigram indexes)")
@pytest.mark.needs("inventory", "fleets", "bulk")
def test_a_search_that_finds_many_things_keeps_its_sets_in_the_walk(alice_client, alice, monkeypatch):
    from twins import listing

    monkeypatch.setattr(listing, "GATHERED_IDS", 1)
    services.twin_create(owner=alice, name="Drill", serial="SN-0042")
    services.twin_create(owner=alice, name="Saw", attributes={"code": "sn-0042b"})
    names, sqls = _search_page(alice_client, "sn-0042")
    assert names == ["Drill", "Saw"]
    assert not any("unnest(" in sql for sql in sqls)
    assert any("inventory_attribute_value" in sql and "ORDER BY" in sql for sql in sqls)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search's sets are PostgreSQL's (trigram indexes)")
@pytest.mark.needs("inventory", "fleets", "bulk")
def test_things_found_two_ways_do_not_cut_the_gathered_set_short(alice_client, alice, monkeypatch):
    from twins import listing

    # Five rows gathered (two things by serial and by attribute value, one by its value only) for three things:
    # past GATHERED_IDS rows the set may be cut short, however few distinct things those rows hold.
    monkeypatch.setattr(listing, "GATHERED_IDS", 3)
    services.twin_create(owner=alice, name="Anvil", serial="SN-0042", attributes={"code": "sn-0042"})
    services.twin_create(owner=alice, name="Bench", serial="SN-0042/2", attributes={"code": "sn-0042/2"})
    services.twin_create(owner=alice, name="Chisel", attributes={"code": "sn-0042/3"})
    names, _ = _search_page(alice_client, "sn-0042")
    assert names == ["Anvil", "Bench", "Chisel"]
