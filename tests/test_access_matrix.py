"""Who may open what, for EVERY route the URL conf has.

The routes are read from django.urls.get_resolver() at collection time, so a new route is checked the day it
is added. A route is public only if it is on the PUBLIC allowlist below; every other route is private and must
send anonymous visitors to the login page (HTML) or refuse them (API, 401/403 JSON), answer a stranger with
the one 404 for anything of alice's, and answer alice herself. Kwargs are filled from a table of alice's
objects; a kwarg the table does not know fails the test until someone adds a fixture value for it.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image

from didcomm import services as didcomm_services
from didcomm.models import Agent, Connection, OutboundMessage
from owners.models import Notification, Owner
from tags.models import Tag
from tests.conftest import PASSWORD, client_for, make_owner
from tests.test_get_requests_write_nothing import WRITES_BY_DESIGN, writes_of
from twins import services as twin_services
from twins.models import JournalNote, Reading, Twin
from twins.transfer import offer_create

# --- The routes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None
    kwargs: tuple[str, ...]
    converters: dict = field(compare=False, hash=False)

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    def __str__(self) -> str:
        return "/" + self.route


def _walk(resolver: URLResolver, prefix: str = "", kwargs: tuple[str, ...] = (), converters: dict | None = None):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        names = kwargs + tuple(pattern.pattern.regex.groupindex)
        merged = {**(converters or {}), **getattr(pattern.pattern, "converters", {})}
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern, route, names, merged)
        elif isinstance(pattern, URLPattern):
            yield Route(route=route, name=pattern.name, kwargs=names, converters=merged)


ALL_ROUTES: list[Route] = list(_walk(get_resolver()))

# Anyone may open these. Everything else is private, and this test proves it.
PUBLIC = {
    "",  # home
    "healthz",
    "signup/",
    "login/",
    "logout/",
    "password-reset/",
    "password-reset/sent/",
    "password-reset/<uidb64>/<token>/",
    "password-reset/done/",
    "api/schema/",
    "api/docs/",
    "api/docs/<slug:tag>/",
    "bench/constant",  # only with BENCH_ENDPOINTS
    "didcomm/",  # DIDComm inbound: any agent; the envelope is the authentication
    # Credentials: status lists and the verifier answer anyone (a shop assistant has no account here).
    "credentials/status/<str:list_id>",
    "credentials/issuer-status/<str:list_id>",  # a maker's list (authenticity credentials)
    "verify/credential",
    "verify/credential/<str:session_id>",
    "api/credentials/verify",
    "emergency/<str:token>",  # whoever holds an emergency link (a rescuer); the token is the authority
    "emergency/present",  # a rescuer presenting the emergency credential instead; the presentation is the authority
    "api/emergency/challenges",
    "api/emergency/present",
    # Makers: an organisation's profile and DID log, product model pages, documents and recall status, recall
    # notices and the GS1 Digital Link resolver are public facts; the resolver opens a thing as its tag does.
    "orgs/<str:slug>/",
    "orgs/<str:slug>/did.jsonl",
    "orgs/<str:slug>/did.json",
    "models/<str:gtin>/",
    "models/<str:gtin>/documents/<int:document_id>",
    "models/<str:gtin>/recalls",
    "recalls/<int:recall_id>/",
    "01/<path:rest>",
    ".well-known/gs1resolver",
    # Like a transfer offer: any signed-in account holding the link (anonymous visitors are sent to log in;
    # tests/makers checks both).
    "orgs/join/<str:token>/",
    "claim/01/<path:rest>",
}
# Tag routes answer whoever holds the sticker; a twin's DID log and verify page answer anyone with its DID;
# a transfer offer answers any signed-in account holding its link (tests/twins/test_transfer.py checks that
# anonymous visitors are sent to log in); admin has its own login (checked below); static files.
# Webhook hooks answer any sender holding the source's secret (Standard Webhooks signatures, tests/ingest).
# api/moves/: instances call it, not people (the bearer token, or for a request the thing's owner confirming on
# this host, is the authority; tests/moves/test_api.py holds its 401s).
PUBLIC_PREFIXES = ("t/", "twins/", "transfer/", "admin/", "static/", "hooks/", "api/moves/")


def is_public(route: Route) -> bool:
    return route.route in PUBLIC or route.route.startswith(PUBLIC_PREFIXES)


PRIVATE_ROUTES = [route for route in ALL_ROUTES if not is_public(route)]
# Kwargs that name one of alice's objects; routes without any are her lists and forms (/things/, /inbox/).
OBJECT_KWARGS = {
    "slug",
    "tag_id",
    "note_id",
    "notification_id",
    "connection_id",
    "credential_id",
    "credential_offer_id",
    "policy_id",
    # sharing and makers
    "grant_id",
    "party_id",
    "endpoint_id",
    "message_id",
    "introduction_id",
    "member_id",
    "invitation_id",
    "token_id",
    "inbound_id",
    # inventory
    "location_id",
    "label_id",
    # upkeep
    "attachment_id",
    "schedule_id",
    # fleets
    "group_id",
    # handover
    "handover_id",
    # imports
    "run_id",
    # bulk
    "job_id",
    # support
    "case_id",
    # moves
    "move_in_id",
    "move_out_id",
}
OBJECT_ROUTES = [route for route in PRIVATE_ROUTES if OBJECT_KWARGS & set(route.kwargs)]
COLLECTION_ROUTES = [route for route in PRIVATE_ROUTES if not OBJECT_KWARGS & set(route.kwargs)]
SLUG_ROUTES = [route for route in PRIVATE_ROUTES if "slug" in route.kwargs]
API_METHODS = ("get", "post", "put", "patch", "delete")
HTML_METHODS = ("get", "post")

# --- Alice's world and the kwarg table ----------------------------------------------------------------------

MARKERS = ("Sextant of alice zq", "Journal of alice zq", "Notice for alice zq", "Peer of alice zq")


@dataclass
class World:
    alice: Owner
    thing: Twin
    archived_thing: Twin
    tag: Tag
    note: JournalNote
    notification: Notification
    thing_connection: Connection  # on the thing's agent
    own_connection: Connection  # on alice's own agent
    media: Path | None = None  # the MEDIA_ROOT it was built under


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def _build_world(alice: Owner) -> World:
    thing = twin_services.twin_create(owner=alice, name=MARKERS[0], reading_kind="angle", reading_unit="°")
    # A photo, so alice's own photo route answers 200 and the matrix proves the slug was right.
    twin_services.twin_set_photo(twin=thing, photo=SimpleUploadedFile("p.png", _png()))
    twin_services.reading_add(twin=thing, value=42)
    # An open transfer offer, so the offer's QR, cancel and signing routes have something to answer for.
    offer_create(twin=thing, seller=alice, redact_kinds=[])
    archived = twin_services.twin_create(owner=alice, name="Archived of alice zq")
    twin_services.twin_set_archived(twin=archived, archived=True)
    return World(
        alice=alice,
        thing=thing,
        archived_thing=archived,
        tag=Tag.objects.create(twin=thing),
        note=twin_services.note_create(twin=thing, title=MARKERS[1], text="private"),
        notification=Notification.objects.create(owner=alice, kind=Notification.Kind.SYSTEM, title=MARKERS[2]),
        thing_connection=_connection(didcomm_services.agent_for_twin(thing)),
        own_connection=_connection(didcomm_services.agent_for_owner(alice)),
    )


# Alice's world is built once for the module, not per test (it was ~63 % of the matrix's time): in a transaction
# opened around the module's tests and rolled back after them. Each test runs in its own savepoint inside it (the
# `db` fixture's atomic block nests), so what a test writes (alice's own POSTs, carol, a session) is rolled back
# before the next test, which starts from the same world; on SQLite and PostgreSQL alike. The objects the kwarg
# table makes on first use are made here too, once: a helper that keeps one on the world (tests/makers/matrix.py)
# must not keep a row a test's savepoint rolled back.


@pytest.fixture(scope="module")
def matrix_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    media = tmp_path_factory.mktemp("matrix-media")
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(MEDIA_ROOT=media):
                cache.clear()
                world = _build_world(make_owner("alice"))
                for route in ALL_ROUTES:
                    if not route.route.startswith(("admin/", "static/")):
                        try:
                            url_for(route, world)
                        except pytest.fail.Exception:
                            pass  # test_every_route_kwarg_has_a_fixture_value names it
                cache.clear()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    world.media = media
    yield world
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture
def world(matrix_world: World, db, settings) -> World:
    settings.MEDIA_ROOT = matrix_world.media  # where its photo and its maker's documents are
    return matrix_world


@pytest.fixture
def alice(world: World) -> Owner:
    return world.alice


def _connection(agent) -> Connection:
    """A completed DIDComm connection, so its pages (and a stranger's sends and removals) have a target."""
    return Connection.objects.create(
        agent=agent,
        state=Connection.State.COMPLETED,
        their_label=MARKERS[3],
        their_verkey="A" * 44,
        my_verkey="",
    )


# One value per kwarg name. Private routes get alice's objects; token/uidb64 only ever appear in public routes.
PRIVATE_VALUES: dict[str, Callable[[World], object]] = {
    "slug": lambda w: w.thing.slug,
    "tag_id": lambda w: w.tag.pk,
    "note_id": lambda w: w.note.pk,
    "notification_id": lambda w: w.notification.pk,
    "source_id": lambda w: __import__("tests.ingest.factories", fromlist=["*"]).source_of(w).public_id,
    "link_id": lambda w: __import__("tests.ingest.factories", fromlist=["*"]).link_of(w).pk,
    "key_id": lambda w: __import__("tests.ingest.factories", fromlist=["*"]).key_of(w).pk,
    "credential_id": lambda w: __import__("tests.credentials.helpers", fromlist=["*"]).standing(w.thing).pk,
    "policy_id": lambda w: __import__("tests.credentials.helpers", fromlist=["*"]).policy_of(w.alice).public_id,
    "introduction_id": lambda w: (
        __import__("sharing.models", fromlist=["*"])
        .Introduction.objects.get_or_create(
            thread_id="matrix",
            defaults={"twin": w.thing, "owner": w.alice, "party_connection": w.thing_connection, "state": "proposed"},
        )[0]
        .pk
    ),
    # sharing: a grant, a party (the thing's connection), a webhook endpoint and a grant request of alice's.
    "grant_id": lambda w: __import__("tests.sharing.conftest", fromlist=["*"]).matrix_grant(w).pk,
    "kind": lambda w: "connection",
    "party_id": lambda w: w.thing_connection.pk,
    "endpoint_id": lambda w: __import__("tests.sharing.conftest", fromlist=["*"]).matrix_endpoint(w).pk,
    "message_id": lambda w: __import__("tests.sharing.conftest", fromlist=["*"]).matrix_request(w).pk,
    # makers: alice's organisation (she is its admin) and its objects (tests/makers/matrix.py).
    "gtin": lambda w: _org(w).model.gtin,
    "document_id": lambda w: _org(w).document.pk,
    "rest": lambda w: f"{_org(w).model.gtin}/21/MX-1",
    "member_id": lambda w: _org(w).member.pk,
    "invitation_id": lambda w: _org(w).invitation_id,
    "token_id": lambda w: _org(w).token_id,
    "recall_id": lambda w: _org(w).recall.pk,
    "inbound_id": lambda w: _org(w).received_notice.pk,
    # inventory: a place and a label of alice's, her thing in and under them (tests/inventory/matrix.py).
    "location_id": lambda w: __import__("tests.inventory.matrix", fromlist=["*"]).place_of(w).public_id,
    "label_id": lambda w: __import__("tests.inventory.matrix", fromlist=["*"]).label_of(w).pk,
    # upkeep: a receipt (and a purchase) and a maintenance schedule on alice's thing (tests/upkeep/matrix.py).
    "attachment_id": lambda w: __import__("tests.upkeep.matrix", fromlist=["*"]).attachment_of(w).pk,
    "schedule_id": lambda w: __import__("tests.upkeep.matrix", fromlist=["*"]).schedule_of(w).pk,
    # fleets: a group of alice's with her thing in it (tests/fleets/matrix.py).
    "group_id": lambda w: __import__("tests.fleets.matrix", fromlist=["*"]).group_of(w).pk,
    # handover: an open offer of alice's (tests/handover/matrix.py).
    "handover_id": lambda w: __import__("tests.handover.matrix", fromlist=["*"]).handover_of(w).public_id,
    # imports: an import of alice's, checked, not confirmed (tests/imports/matrix.py).
    "run_id": lambda w: __import__("tests.imports.matrix", fromlist=["*"]).run_of(w).pk,
    # bulk: a queued job of alice's over her thing (tests/bulk/matrix.py).
    "job_id": lambda w: __import__("tests.bulk.matrix", fromlist=["*"]).job_of(w).pk,
    # moves: a move alice asked for here (destination) and one asked of her thing (source) (tests/moves/matrix.py).
    "move_in_id": lambda w: __import__("tests.moves.matrix", fromlist=["*"]).move_in_of(w).public_id,
    "move_out_id": lambda w: __import__("tests.moves.matrix", fromlist=["*"]).move_out_of(w).public_id,
    "ticket": lambda w: "no-such-ticket",  # a CSV already taken: alice gets its 410, a stranger the 404
    # didcomm: a credential alice's own agent offered over her connection (didcomm.issue_credential).
    "credential_offer_id": lambda w: (
        __import__("didcomm.models", fromlist=["*"])
        .CredentialExchange.objects.get_or_create(
            connection=w.own_connection, thread_id="matrix", defaults={"document": "{}"}
        )[0]
        .pk
    ),
}


def _org(world: World):
    return __import__("tests.makers.matrix", fromlist=["*"]).org_world(world)


def _slug(world: World, route: Route) -> str:
    """An organisation's routes take its slug; every other slug names alice's thing."""
    if route.route.startswith(("orgs/", "api/orgs/")):
        return _org(world).organisation.slug
    return world.thing.slug


def _credential_id(world: World, route: Route):
    """The wallet's keeper and service credential routes take one alice holds; the emergency ones, one of her
    grants'; the others her thing's ownership credential (tests/credentials/helpers.py)."""
    helpers = __import__("tests.credentials.helpers", fromlist=["*"])
    if route.route.startswith("credentials/access/"):
        return helpers.held_by(world.alice).pk
    if route.route.startswith("emergency/"):
        return helpers.emergency_of(world).pk
    if route.route.startswith("credentials/authenticity/"):
        return __import__("tests.credentials.authenticity_matrix", fromlist=["*"]).authenticity_of(world).pk
    return helpers.standing(world.thing).pk


# Values that depend on the route: a connection id names a connection of the route's agent, the thing's on
# /things/<slug>/connections/... and alice's own on /profile/connections/....
ROUTE_VALUES: dict[str, Callable[[World, Route], object]] = {
    "connection_id": lambda w, route: (w.thing_connection if "slug" in route.kwargs else w.own_connection).pk,
    "slug": _slug,
    # Which credential: the route decides (_credential_id).
    "credential_id": lambda w, route: _credential_id(w, route),
    # support: alice's own case, or her organisation's (tests/support/matrix.py).
    "case_id": lambda w, route: __import__("tests.support.matrix", fromlist=["*"]).case_id(w, route),
}
PUBLIC_VALUES: dict[str, Callable[[World], object]] = {
    "tag": lambda w: "things",  # a part of the API reference
    "token": lambda w: w.tag.token,
    "uidb64": lambda w: urlsafe_base64_encode(force_bytes(w.alice.pk)),
    "list_id": lambda w: __import__("tests.credentials.helpers", fromlist=["*"]).list_id_of(w.thing),
    "session_id": lambda w: __import__("credentials.services", fromlist=["*"]).verifier_session_start().public_id,
    "request_id": lambda w: __import__("tests.moves.matrix", fromlist=["*"]).move_out_of(w).public_id,
    "move_id": lambda w: __import__("tests.moves.matrix", fromlist=["*"]).move_in_of(w).public_id,
}

_PLACEHOLDER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


def url_for(route: Route, world: World, **overrides: object) -> str:
    """The route's URL with its kwargs filled from the table (or the overrides)."""
    table = {**PRIVATE_VALUES, **(PUBLIC_VALUES if is_public(route) else {})}
    values = {}
    for name in route.kwargs:
        if name in overrides:
            values[name] = overrides[name]
        elif name in ROUTE_VALUES and not is_public(route):
            values[name] = ROUTE_VALUES[name](world, route)
        elif name in table:
            values[name] = table[name](world)
        else:
            where = "PUBLIC_VALUES" if is_public(route) else "PRIVATE_VALUES"
            pytest.fail(f"add a fixture value for {name} to {where} in tests/test_access_matrix.py (route {route})")
    if route.route.startswith("^") or "(?P<" in route.route:
        pytest.fail(f"{route} is a regex route: give it a path() pattern or teach url_for to build it")
    return "/" + _PLACEHOLDER.sub(lambda match: str(values[match["name"]]), route.route)


def snapshot(world: World) -> tuple:
    """Everything of alice's a stranger's request could change."""
    alice = world.alice
    return (
        list(Twin.objects.filter(owner=alice).order_by("pk").values()),
        list(JournalNote.objects.filter(twin__owner=alice).order_by("pk").values()),
        list(Reading.objects.filter(twin__owner=alice).order_by("pk").values()),
        list(Tag.objects.filter(twin__owner=alice).order_by("pk").values()),
        list(Notification.objects.filter(owner=alice).order_by("pk").values()),
        list(Connection.objects.filter(agent__in=_agents_of(alice)).order_by("pk").values()),
        list(OutboundMessage.objects.filter(agent__in=_agents_of(alice)).order_by("pk").values()),
        __import__("tests.inventory.matrix", fromlist=["*"]).snapshot(alice),
        __import__("tests.upkeep.matrix", fromlist=["*"]).snapshot(alice),
        __import__("tests.fleets.matrix", fromlist=["*"]).snapshot(alice),
        __import__("tests.imports.matrix", fromlist=["*"]).snapshot(alice),
        __import__("tests.bulk.matrix", fromlist=["*"]).snapshot(alice),
    )


def _agents_of(alice: Owner) -> QuerySet[Agent]:
    return Agent.objects.filter(Q(owner=alice) | Q(twin__owner=alice))


def not_found_body(client: Client, *, api: bool) -> bytes:
    return client.get("/api/no-such-route/" if api else "/no-such-page/").content


# --- The table itself ---------------------------------------------------------------------------------------


def test_every_route_kwarg_has_a_fixture_value(world):
    for route in ALL_ROUTES:
        if route.route.startswith(("admin/", "static/")):
            continue
        url_for(route, world)


def test_a_route_with_an_unknown_kwarg_fails_with_add_a_fixture_value(world):
    widget_route = Route(
        route="things/<str:slug>/widgets/<int:widget_id>/", name=None, kwargs=("slug", "widget_id"), converters={}
    )
    with pytest.raises(pytest.fail.Exception, match="add a fixture value for widget_id"):
        url_for(widget_route, world)


def test_the_matrix_sees_the_private_routes_it_must_guard():
    routes = {route.route for route in PRIVATE_ROUTES}
    assert {"things/", "things/<str:slug>/", "inbox/<int:notification_id>/", "api/things/<str:slug>/"} <= routes
    assert {"things/<str:slug>/tags/<int:tag_id>/retire/", "api/things/<str:slug>/journal/<int:note_id>/"} <= routes
    assert {
        "things/<str:slug>/connections/<int:connection_id>/",
        "profile/connections/<int:connection_id>/remove/",
    } <= routes


# --- Anonymous ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [r for r in PRIVATE_ROUTES if not r.is_api], ids=str)
def test_anonymous_is_sent_to_login_on_every_private_page(route, world):
    url = url_for(route, world)
    client = Client()
    for method in HTML_METHODS:
        response = getattr(client, method)(url)
        assert response.status_code == 302, f"{method.upper()} {url}: {response.status_code}"
        assert response["Location"] == f"/login/?next={quote(url, safe='/')}", f"{method.upper()} {url}"


@pytest.mark.parametrize("route", [r for r in PRIVATE_ROUTES if r.is_api], ids=str)
def test_anonymous_gets_a_json_refusal_on_every_private_api_route(route, world):
    url = url_for(route, world)
    client = Client()
    before = snapshot(world)
    for method in API_METHODS:
        response = getattr(client, method)(url)
        assert response.status_code in (401, 403), f"{method.upper()} {url}: {response.status_code}"
        assert response["Content-Type"] == "application/json"
        assert response.json()["message"], f"{method.upper()} {url}"
    assert snapshot(world) == before


# --- A stranger ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_stranger_gets_404_on_every_private_route(route, world, carol):
    url = url_for(route, world)
    carol_client = client_for(carol)
    expected_body = not_found_body(carol_client, api=route.is_api)
    before = snapshot(world)
    for method in API_METHODS if route.is_api else HTML_METHODS:
        response = getattr(carol_client, method)(url)
        if response.status_code == 405:
            # Sound only if nobody may use this method here: alice must get the same 405.
            owner_status = getattr(client_for(world.alice), method)(url).status_code
            assert owner_status == 405, f"{method.upper()} {url}: 405 for a stranger but {owner_status} for alice"
            continue
        assert response.status_code == 404, f"{method.upper()} {url}: {response.status_code} for a stranger"
        if route.is_api:
            assert response.json() == {"message": "Not found.", "extra": {}}, f"{method.upper()} {url}"
        else:
            assert response.content == expected_body, f"{method.upper()} {url}: the 404 page differs"
    assert snapshot(world) == before, f"a stranger's requests to {route} changed alice's data"


@pytest.mark.parametrize("route", COLLECTION_ROUTES, ids=str)
def test_stranger_sees_none_of_alices_data_on_lists_and_forms(route, world, carol):
    url = url_for(route, world)
    response = client_for(carol).get(url)
    assert response.status_code < 500
    content = b"".join(response.streaming_content) if response.streaming else response.content  # exports stream
    body = content.decode(errors="replace")
    for secret in (*MARKERS, world.thing.slug, world.tag.token, world.tag.code, world.alice.email):
        assert secret not in body, f"GET {url} shows carol alice's {secret!r}"


# --- Alice herself (proves the fixture values point at real objects) -------------------------------------------


@pytest.mark.parametrize("route", PRIVATE_ROUTES, ids=str)
def test_owner_gets_no_404_on_every_private_route(route, world):
    url = url_for(route, world)
    client = client_for(world.alice)
    # GET where the route allows it; a POST-only route is proven with its first allowed method instead.
    for method in API_METHODS if route.is_api else HTML_METHODS:
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(url)
        if response.status_code != 405:
            break
    assert response.status_code != 405, f"{url}: no method is allowed at all"
    assert response.status_code != 404, f"{method.upper()} {url}: alice gets 404 on her own object"
    assert response.status_code < 500, f"{method.upper()} {url}: {response.status_code}"
    # Every app's pages, not only those tests/test_get_requests_write_nothing.py lists: a GET writes nothing.
    if method == "get" and route.name not in WRITES_BY_DESIGN:
        assert writes_of(queries) == [], f"GET {url} wrote"


@pytest.mark.parametrize(
    "route", [r for r in OBJECT_ROUTES if {"tag_id", "note_id", "connection_id"} & set(r.kwargs)], ids=str
)
def test_stranger_gets_404_for_alices_objects_under_her_own_thing(route, world, carol):
    """An id check that looks only at the slug would let carol reach alice's tag or note through her own thing."""
    carols_thing = twin_services.twin_create(owner=carol, name="Carol's own")
    url = url_for(route, world, slug=carols_thing.slug)
    client = client_for(carol)
    before = snapshot(world)
    for method in API_METHODS if route.is_api else HTML_METHODS:
        response = getattr(client, method)(url)
        assert response.status_code in (404, 405), f"{method.upper()} {url}: {response.status_code}"
    assert snapshot(world) == before


# --- Admin --------------------------------------------------------------------------------------------------

ADMIN_ROUTES = [r for r in ALL_ROUTES if r.route.startswith("admin/") and not r.kwargs]
ADMIN_OPEN = {"admin/login/", "admin/logout/", "admin/jsi18n/"}


@pytest.mark.parametrize("route", [r for r in ADMIN_ROUTES if r.route not in ADMIN_OPEN], ids=str)
def test_admin_sends_anonymous_and_non_staff_owners_to_the_admin_login(route, world):
    url = "/" + route.route
    for client in (Client(), client_for(world.alice)):
        response = client.get(url)
        assert response.status_code == 302, f"GET {url}: {response.status_code}"
        assert response["Location"].startswith("/admin/login/?next="), f"GET {url}: {response['Location']}"


def test_a_non_staff_owner_cannot_sign_in_to_the_admin(world):
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, "the admin login form is shown again"
    assert client.get("/admin/twins/twin/")["Location"].startswith("/admin/login/")


def test_admin_model_pages_keep_owners_out(world):
    for url in ("/admin/twins/twin/", f"/admin/twins/twin/{world.thing.pk}/change/", "/admin/owners/owner/"):
        for client in (Client(), client_for(world.alice)):
            response = client.get(url)
            assert response.status_code == 302, f"GET {url}"
            assert response["Location"].startswith("/admin/login/"), f"GET {url}"


# --- SECURITY item 19: twin ids are slugs, never integers, and unguessable ------------------------------------

TWIN_ID_NAMES = {"pk", "id", "twin_id", "twin_pk", "thing_id", "thing_pk"}


def test_no_route_takes_an_integer_twin_id():
    offending = []
    for route in ALL_ROUTES:
        # The admin addresses every model by its primary key; it is staff-only (checked above).
        if route.route.startswith("admin/"):
            continue
        if TWIN_ID_NAMES & set(route.kwargs):
            offending.append(str(route))
        if "slug" in route.kwargs and isinstance(route.converters.get("slug"), IntConverter):
            offending.append(str(route))
    assert not offending, f"routes that take an integer twin id: {offending}"


def test_twin_slugs_are_at_least_128_bit_random_and_url_safe(alice):
    # A created twin's slug comes from the model field's default; 300 of them show the spread (creating 300 whole
    # twins, with their DIDs and credentials, took a minute of the suite).
    made = twin_services.twin_create(owner=alice, name="Thing").slug
    default = Twin._meta.get_field("slug").default
    slugs = [made, *(default() for _ in range(299))]
    assert len(set(slugs)) == len(slugs)
    for slug in slugs:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", slug), slug
        assert len(base64.urlsafe_b64decode(slug + "=" * (-len(slug) % 4))) >= 16, slug
    # Random, not a counter or a timestamp: the leading character is spread over the alphabet.
    assert len({slug[0] for slug in slugs}) > 40


# --- SECURITY item 20: unknown, foreign and archived-by-stranger ids look the same ----------------------------


@pytest.mark.parametrize("route", SLUG_ROUTES, ids=str)
def test_unknown_foreign_and_archived_by_stranger_twin_ids_give_byte_identical_404s(route, world, carol):
    carol_client = client_for(carol)
    bodies = {}
    for label, slug in (
        ("unknown", Twin._meta.get_field("slug").default()),
        ("foreign", world.thing.slug),
        ("archived by its owner, a stranger to carol", world.archived_thing.slug),
    ):
        response = carol_client.get(url_for(route, world, slug=slug))
        assert response.status_code in (404, 405), f"{label}: {response.status_code}"
        bodies[label] = (response.status_code, response.content)
    assert len(set(bodies.values())) == 1, f"{route}: the responses tell the cases apart: {bodies}"
    status_code, body = next(iter(bodies.values()))
    if status_code == 404 and not route.is_api:
        assert body == not_found_body(carol_client, api=False)
