"""The GS1 resolver is a tag lookup like `/t/<token>` and `/t/?code=`: every answer it gives a stranger spends the
client's scan budget once (RATE_SCAN_PER_CLIENT), so serials and GTINs cannot be enumerated without limit; past
the budget it answers 429 with Retry-After."""

from __future__ import annotations

import pytest

from makers.production import produce
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.needs("tags")]


@pytest.fixture
def made(acme_model, settings):
    settings.RATE_SCAN_PER_CLIENT = "3/60"
    ((produced, _),) = produce(model=acme_model, serials=["R-1"], by=None)
    return produced


def _assert_limited(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many tag lookups" in response.content


def test_guessing_serials_through_the_resolver_is_rate_limited(made):
    client = client_for(None)
    gtin = made.model.gtin
    assert [client.get(f"/01/{gtin}/21/NOPE-{n}").status_code for n in range(3)] == [404] * 3
    _assert_limited(client.get(f"/01/{gtin}/21/NOPE-9"))


def test_link_sets_and_link_types_spend_the_same_budget(made):
    client = client_for(None)
    path = f"/01/{made.model.gtin}/21/R-1"
    assert client.get(path, {"linkType": "all"}).status_code == 200
    assert client.get(path, {"linkType": "gs1:pip"}).status_code == 307
    assert client.get(f"/01/{made.model.gtin}").status_code == 307
    _assert_limited(client.get(path, HTTP_ACCEPT="application/linkset+json"))


def test_a_scan_of_a_things_digital_link_counts_once(made):
    client = client_for(None)
    path = f"/01/{made.model.gtin}/21/R-1"
    assert [client.get(path).status_code for _ in range(3)] == [200] * 3
    _assert_limited(client.get(path))
