"""A seller who opens the thing they sold gets the project's own page saying it is no longer theirs, with a 404,
also under DEBUG (issue 14, finding 6: Django's 980 px wide yellow debug 404 showed under `make run`). Anyone
else still gets the plain 404 that tells nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import client_for
from twins import services
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold(grinder, alice, bob):
    services.reading_add(twin=grinder, value=12)
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder.refresh_from_db()
    return grinder


@pytest.mark.parametrize("debug", [True, False])
def test_seller_opening_a_sold_thing_is_told_it_is_no_longer_theirs(sold, alice, settings, debug):
    settings.DEBUG = debug
    for url in (reverse("thing", args=[sold.slug]), reverse("thing-edit", args=[sold.slug])):
        response = client_for(alice).get(url)
        assert response.status_code == 404, url
        page = response.content.decode()
        assert "No longer yours" in page and "Coffee grinder" in page, page[:800]
        assert "technical_404" not in page and "Django tried these URL patterns" not in page
        assert '<link rel="stylesheet"' in page  # the project's page, with its layout


def test_a_stranger_gets_the_plain_404_that_names_nothing(sold, carol):
    response = client_for(carol).get(reverse("thing", args=[sold.slug]))
    assert response.status_code == 404
    assert "Coffee grinder" not in response.content.decode()
    assert "No longer yours" not in response.content.decode()


def test_the_api_still_answers_the_seller_with_a_json_404(sold, alice):
    response = client_for(alice).get(f"/api/things/{sold.slug}/")
    assert response.status_code == 404
    assert response.json()["message"]
