"""A twin that does not live here: moved away (308 to its new host, its DID log still served) or still arriving
(its owner sees "on its way", anyone else the 404 an unknown thing gets). Every path under /things/<slug>/ and
/api/things/<slug>/ is held to it, the features' routes too, since the redirect does not depend on which app owns
the route (twins.not_live.NotLiveMiddleware answers before any route)."""

from __future__ import annotations

import importlib
import json
import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from owners.keys import owner_keys_ensure
from owners.models import OwnerKey
from tests.conftest import api_for, client_for
from twins import moving, selectors, services
from twins.models import Reading, Twin

pytestmark = pytest.mark.django_db

MIDDLEWARE = "twins.not_live.NotLiveMiddleware"
NEW_HOST = "https://dest.example.com"
PATHS = (
    "/things/{slug}/",
    "/things/{slug}/readings/?kind=pressure&since=2026-01-01",
    "/things/{slug}/edit/",
    "/things/{slug}/photo",
    "/things/{slug}/export.json",
    "/things/{slug}/journal/7/edit/",
    "/things/{slug}/tags/",  # a feature's route: the same answer whether or not that app is installed
    "/api/things/{slug}/",
    "/api/things/{slug}/readings/series?from=2026-01-01T00:00:00Z&buckets=10",
    "/api/things/{slug}/journal/",
)


def test_the_not_live_middleware_is_installed():
    """config/settings.py must list it after AuthenticationMiddleware (it reads request.user)."""
    settings = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    assert MIDDLEWARE in settings.MIDDLEWARE, f"add {MIDDLEWARE!r} at the end of MIDDLEWARE in config/settings.py"
    auth = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert settings.MIDDLEWARE.index(MIDDLEWARE) > auth


@pytest.fixture(autouse=True)
def _not_live_middleware(settings):
    """Until config/settings.py lists it (the test above), the behaviour below is proved with it added here."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]


@pytest.fixture
def moved(settings, alice, carol) -> Twin:
    settings.DID_DOMAIN, settings.SITE_URL = "source.example.com", "https://source.example.com"
    twin = services.twin_create(owner=alice, name="Espresso machine", reading_kind="pressure", reading_unit="bar")
    services.reading_add(twin=twin, value=9)
    keys = owner_keys_ensure(owner=carol)
    entries = moving.move_entries(
        twin,
        by=alice,
        new_domain="dest.example.com",
        new_update_key=keys[OwnerKey.Role.CURRENT].public_multibase,
        new_next_key_hash=keys[OwnerKey.Role.NEXT].next_key_hash,
        destination_url=NEW_HOST,
    )
    return moving.release(twin, entries=entries, destination_url=NEW_HOST)


@pytest.fixture
def arriving(alice) -> Twin:
    twin = services.twin_create(owner=alice, name="Kettle")
    Twin.objects.filter(pk=twin.pk).update(arriving=True)
    return Twin.objects.get(pk=twin.pk)


@pytest.mark.parametrize("who", ["owner", "stranger", "anonymous"])
def test_every_page_and_api_route_of_a_moved_twin_answers_308_to_the_same_path_and_query_on_the_new_host(
    moved, alice, carol, who
):
    viewer = {"owner": alice, "stranger": carol, "anonymous": None}[who]
    client = client_for(viewer)
    for path in PATHS:
        path = path.format(slug=moved.slug)
        response = client.get(path)
        assert response.status_code == 308, path
        assert response["Location"] == NEW_HOST + path


def test_a_reading_posted_to_a_moved_twin_is_sent_on_and_not_stored(moved, alice):
    before = Reading.objects.filter(twin=moved).count()
    page = client_for(alice).post(f"/things/{moved.slug}/readings/new/", {"value": "9.5"})
    api = api_for(alice, token=True).post(f"/api/things/{moved.slug}/readings/", {"value": 9.5}, format="json")
    for response, path in ((page, f"/things/{moved.slug}/readings/new/"), (api, f"/api/things/{moved.slug}/readings/")):
        assert response.status_code == 308  # the method and body go on to the new host
        assert response["Location"] == NEW_HOST + path
    assert Reading.objects.filter(twin=moved).count() == before


def test_the_did_log_of_a_moved_twin_stays_served_with_the_move_entries(moved, anon_client):
    response = anon_client.get(f"/twins/{moved.slug}/did.jsonl")
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[-1])["state"]["id"] == moved.did.replace(":source.example.com:", ":dest.example.com:")
    for path in (f"/twins/{moved.slug}/did.json", f"/twins/{moved.slug}/verify"):
        response = anon_client.get(path)
        assert response.status_code == 308 and response["Location"] == NEW_HOST + path


def test_a_moved_twin_leaves_the_cards_and_is_listed_as_moved(moved, alice, alice_client):
    still = services.twin_create(owner=alice, name="Grinder")
    page = alice_client.get("/things/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-thing="{still.slug}"' in html
    assert f'data-thing="{moved.slug}"' not in html
    assert 'data-testid="moved-thing"' in html and "→ dest.example.com" in html
    listed = api_for(alice).get("/api/things/").json()
    assert [item["id"] for item in listed["results"]] == [still.slug]


def test_a_live_twin_is_unaffected_and_costs_one_probe_more(moved, alice, settings):
    live = services.twin_create(owner=alice, name="Grinder")
    assert client_for(alice).get(f"/things/{live.slug}/").status_code == 200
    assert api_for(alice).get(f"/api/things/{live.slug}/").status_code == 200
    assert client_for(None).get("/things/", follow=False).status_code == 302  # still the login redirect
    with CaptureQueriesContext(connection) as with_it:
        client_for(alice).get(f"/api/things/{live.slug}/")
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
    with CaptureQueriesContext(connection) as without:
        client_for(alice).get(f"/api/things/{live.slug}/")
    assert len(with_it.captured_queries) == len(without.captured_queries) + 1


def test_the_owner_of_an_arriving_twin_is_told_it_is_on_its_way(arriving, alice_client, alice):
    for path in (f"/things/{arriving.slug}/", f"/things/{arriving.slug}/readings/"):
        response = alice_client.get(path)
        assert response.status_code == 200
        assert b'data-testid="arriving"' in response.content and b"on its way" in response.content
    response = api_for(alice).get(f"/api/things/{arriving.slug}/")
    assert response.status_code == 409
    assert response.json()["extra"] == {"arriving": True}
    assert alice_client.post(f"/things/{arriving.slug}/readings/new/", {"value": "1"}).status_code == 409
    assert not Reading.objects.filter(twin=arriving).exists()


def test_anyone_else_gets_for_an_arriving_twin_what_an_unknown_one_gets(arriving, carol):
    """A stranger's 404 (the same body), or the sign-in redirect for someone signed out, as for a slug that does
    not exist: nothing tells an arriving twin from no twin."""
    unknown_slug = "NoSuchThingAtAll000000"
    cases = [
        (client_for(carol), "/things/{}/", 404),
        (client_for(carol), "/things/{}/readings/", 404),
        (client_for(None), "/things/{}/", 302),
        (client_for(None), "/things/{}/readings/", 302),
        (client_for(carol), "/twins/{}/did.jsonl", 404),
        (client_for(None), "/twins/{}/did.json", 404),
        (client_for(None), "/twins/{}/verify", 404),
        (api_for(carol), "/api/things/{}/", 404),
        (api_for(carol, token=True), "/api/things/{}/readings/", 404),
        (api_for(None), "/api/things/{}/", 403),
    ]
    for client, path, status in cases:
        here = client.get(path.format(arriving.slug))
        unknown = client.get(path.format(unknown_slug))
        assert here.status_code == unknown.status_code == status, path
        assert here.content == unknown.content, path
        if status == 302:
            assert here["Location"] == unknown["Location"].replace(unknown_slug, arriving.slug)


def test_an_arriving_twin_is_on_no_list_but_its_owner_sees_it_coming(arriving, alice_client):
    html = alice_client.get("/things/").content.decode()
    assert f'data-thing="{arriving.slug}"' not in html
    assert 'data-testid="arriving-thing"' in html


def test_no_selector_hands_out_a_twin_that_does_not_live_here(moved, arriving, alice):
    for twin in (moved, arriving):
        with pytest.raises(Exception) as refused:
            selectors.twin_get(viewer=alice, slug=twin.slug)
        assert refused.type.__name__ in ("Http404", "NotFoundExplained")
    assert list(selectors.twin_list(viewer=alice)) == []
