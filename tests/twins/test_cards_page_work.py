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
