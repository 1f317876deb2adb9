"""What a keeper may do, for EVERY owner route: the access matrix's routes (tests/test_access_matrix.py, read from
the URL conf), its world and its kwarg table, with bob holding a keeper credential on alice's thing.

A keeper may use the routes in KEEPER_MAY (the thing's page, readings, movements, journal entries); every other
route that names one of alice's objects answers him the stranger's 404 (or the 405 alice gets too) and changes
nothing of hers: he cannot transfer, delete, archive, change grants, issue credentials or read her contact data.
A new owner route is therefore owner-only for keepers until someone adds it here on purpose.
"""

from __future__ import annotations

import pytest

from credentials import keepers
from credentials.models import AccessCredential
from tests.conftest import client_for
from tests.test_access_matrix import API_METHODS, HTML_METHODS, OBJECT_ROUTES, not_found_body, snapshot, url_for

# The matrix's fixtures, used here by name: its world (built once a module, each test in a savepoint) and its
# alice, the world's owner (conftest's alice would be a second account of that name).
from tests.test_access_matrix import alice as alice
from tests.test_access_matrix import matrix_world as matrix_world
from tests.test_access_matrix import world as world

# route -> the methods a keeper may use on it (anything else is 404, or 405 for alice too).
KEEPER_MAY: dict[str, set[str]] = {
    "things/<str:slug>/": {"get", "post"},  # the page (a POST renders it too, for alice as for him)
    "things/<str:slug>/photo": {"get", "post"},
    "things/<str:slug>/readings/new/": {"post"},
    "things/<str:slug>/readings/": {"get"},  # every reading, paged, and their CSV (readings.read)
    "things/<str:slug>/readings.csv": {"get"},
    "things/<str:slug>/journal/new/": {"get", "post"},
    "things/<str:slug>/journal/<int:note_id>/edit/": {"get", "post"},
    "api/things/<str:slug>/readings/": {"get", "post"},
    "api/things/<str:slug>/readings/series": {"get"},
    "api/things/<str:slug>/journal/": {"get", "post"},
    "api/things/<str:slug>/journal/<int:note_id>/": {"get", "patch"},
    # upkeep: a keeper looks after the maintenance (list, mark done: a journal entry), never the purchase or files.
    "things/<str:slug>/maintenance/": {"get"},
    "things/<str:slug>/maintenance/<int:schedule_id>/done/": {"post"},
    "api/things/<str:slug>/maintenance/": {"get"},
    "api/things/<str:slug>/maintenance/<int:schedule_id>/": {"get"},
    "api/things/<str:slug>/maintenance/<int:schedule_id>/done": {"post"},
}


@pytest.fixture
def keeper(world, bob):
    alice = world.alice
    alice.contact_phone = "+44 7700 900456"
    alice.save()
    keepers.access_credential_issue(
        twin=world.thing,
        issued_by=alice,
        holder=bob,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
    )
    return bob


def test_every_route_a_keeper_may_use_is_a_real_route():
    assert set(KEEPER_MAY) <= {route.route for route in OBJECT_ROUTES}


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_a_keeper_may_use_only_the_keepers_routes_and_gets_404_on_every_other(route, world, keeper):
    url = url_for(route, world)
    client = client_for(keeper)
    may = KEEPER_MAY.get(route.route, set())
    expected_body = not_found_body(client, api=route.is_api)
    for method in API_METHODS if route.is_api else HTML_METHODS:
        before = snapshot(world)
        response = getattr(client, method)(url)
        where = f"{method.upper()} {url}: {response.status_code}"
        if method in may:
            assert response.status_code not in (403, 404, 405), f"{where}: the keeper may use this"
            assert response.status_code < 500, where
            body = b"".join(response.streaming_content if response.streaming else [response.content]).decode(
                errors="replace"
            )
            for private in (world.alice.email, "+44 7700 900456"):
                assert private not in body, f"{where} shows the owner's contact data"
            continue
        if response.status_code == 405:
            owner_status = getattr(client_for(world.alice), method)(url).status_code
            assert owner_status == 405, f"{where} for the keeper but {owner_status} for alice"
            continue
        assert response.status_code in (403, 404), f"{where}: a keeper must not use this"
        if response.status_code == 404 and route.is_api:
            assert response.json() == {"message": "Not found.", "extra": {}}, where
        elif response.status_code == 404:
            assert response.content == expected_body, f"{where}: the 404 page differs"
        assert snapshot(world) == before, f"the keeper's {method.upper()} {url} changed alice's data"
