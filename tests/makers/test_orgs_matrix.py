"""Who may do what on every organisation page and API route: admin, member, an admin of another organisation,
a stranger, anonymous, and (on the API) an organisation token of this organisation and of another.

Each cell runs in its own fresh world, so a write by one actor never hides another's refusal. A refusal
(403, 404, 401, a redirect to log in) must also change nothing, and a 404 must be the one body every unknown
page gets, so an outsider cannot tell "exists but not yours" from "does not exist".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.test import Client
from rest_framework.test import APIClient

from makers import orgs
from makers.models import MemberInvitation, Membership, Organisation, OrganisationDidLogEntry, OrganisationToken
from tests.conftest import api_for, client_for, make_owner
from tests.makers.conftest import organisation_make

pytestmark = pytest.mark.django_db

ADMIN, MEMBER, OTHER_ORG, STRANGER, ANON, TOKEN, OTHER_TOKEN = (
    "admin",
    "member",
    "other-org admin",
    "stranger",
    "anonymous",
    "acme token",
    "other org's token",
)
PEOPLE = (ADMIN, MEMBER, OTHER_ORG, STRANGER, ANON)
LOGIN = "login"  # anonymous on a private page: sent to log in with next


@dataclass
class World:
    acme: Organisation
    ids: dict[str, int]
    clients: dict[str, Callable[[], Client]]


@pytest.fixture
def world(acme, dora, erin, carol) -> World:
    gus = make_owner("gus")
    gus_membership = Membership.objects.create(organisation=acme, owner=gus, role=Membership.Role.MEMBER)
    frank = make_owner("frank")
    globex = organisation_make(slug="globex", name="Globex", admin=frank)
    _, invitation = orgs.invitation_create(organisation=acme, by=dora)
    acme_token, token_row = orgs.token_issue(organisation=acme, by=dora, label="line 1")
    globex_token, _ = orgs.token_issue(organisation=globex, by=frank, label="globex")
    return World(
        acme=acme,
        ids={"gus": gus_membership.pk, "invitation": invitation.pk, "token": token_row.pk},
        clients={  # made when a case asks (a login costs a session write)
            ADMIN: lambda: client_for(dora),
            MEMBER: lambda: client_for(erin),
            OTHER_ORG: lambda: client_for(frank),
            STRANGER: lambda: client_for(carol),
            ANON: Client,
            "api " + ADMIN: lambda: api_for(dora),
            "api " + MEMBER: lambda: api_for(erin, token=True),  # an owner token acts as the person
            "api " + OTHER_ORG: lambda: api_for(frank),
            "api " + STRANGER: lambda: api_for(carol),
            "api " + ANON: APIClient,
            "api " + TOKEN: lambda: _bearer(acme_token),
            "api " + OTHER_TOKEN: lambda: _bearer(globex_token),
        },
    )


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def snapshot(acme: Organisation) -> tuple:
    return (
        list(Organisation.objects.filter(pk=acme.pk).values()),
        list(Membership.objects.filter(organisation=acme).order_by("pk").values()),
        list(MemberInvitation.objects.filter(organisation=acme).order_by("pk").values("pk", "used_at")),
        list(OrganisationToken.objects.filter(organisation=acme).order_by("pk").values("pk", "revoked_at")),
        OrganisationDidLogEntry.objects.filter(organisation=acme).count(),
    )


def admin_only(ok: int) -> dict[str, int | str]:
    return {ADMIN: ok, MEMBER: 403, OTHER_ORG: 404, STRANGER: 404, ANON: LOGIN}


def members(ok: int) -> dict[str, int | str]:
    return {ADMIN: ok, MEMBER: ok, OTHER_ORG: 404, STRANGER: 404, ANON: LOGIN}


def everyone(ok: int, anon: int | str = LOGIN) -> dict[str, int | str]:
    return {ADMIN: ok, MEMBER: ok, OTHER_ORG: ok, STRANGER: ok, ANON: anon}


PROFILE = {"name": "Acme Grinders Ltd", "kind": "manufacturer", "description": "", "website": "", "support_url": ""}

PAGES = [
    ("get", "/orgs/", {}, everyone(200)),
    ("get", "/orgs/new/", {}, everyone(200)),
    ("get", "/orgs/acme/", {}, everyone(200, anon=200)),
    ("get", "/orgs/acme/did.jsonl", {}, everyone(200, anon=200)),
    ("get", "/orgs/acme/did.json", {}, everyone(200, anon=200)),
    ("get", "/orgs/acme/settings/", {}, members(200)),
    ("post", "/orgs/acme/settings/profile/", PROFILE, admin_only(302)),
    ("post", "/orgs/acme/invitations/", {"role": "member"}, admin_only(200)),
    ("post", "/orgs/acme/invitations/{invitation}/revoke/", {}, admin_only(302)),
    ("post", "/orgs/acme/members/{gus}/role/", {"role": "admin"}, admin_only(302)),
    ("post", "/orgs/acme/members/{gus}/remove/", {}, admin_only(302)),
    ("get", "/orgs/acme/keys/", {}, admin_only(200)),
    ("post", "/orgs/acme/keys/", {"confirm": "on"}, admin_only(302)),
    ("get", "/orgs/acme/tokens/", {}, admin_only(200)),
    ("post", "/orgs/acme/tokens/", {"label": "x"}, admin_only(200)),
    ("post", "/orgs/acme/tokens/{token}/revoke/", {}, admin_only(302)),
]


def api_admin_only(ok: int) -> dict[str, int]:
    return {ADMIN: ok, MEMBER: 403, OTHER_ORG: 404, STRANGER: 404, ANON: 401, TOKEN: 403, OTHER_TOKEN: 404}


def api_members(ok: int) -> dict[str, int]:
    return {ADMIN: ok, MEMBER: ok, OTHER_ORG: 404, STRANGER: 404, ANON: 401, TOKEN: ok, OTHER_TOKEN: 404}


APIS = [
    ("get", "/api/orgs/", {}, {**{a: 200 for a in (*PEOPLE[:4], TOKEN, OTHER_TOKEN)}, ANON: 401}),
    (
        "post",
        "/api/orgs/",
        {"slug": "newco", "name": "NewCo"},
        {**{a: 201 for a in (ADMIN, MEMBER, OTHER_ORG, STRANGER)}, ANON: 401, TOKEN: 403, OTHER_TOKEN: 403},
    ),
    ("get", "/api/orgs/acme/", {}, api_members(200)),
    ("get", "/api/orgs/acme/members/", {}, api_members(200)),
    ("post", "/api/orgs/acme/members/", {"role": "member"}, api_admin_only(201)),
    ("patch", "/api/orgs/acme/members/{gus}/", {"role": "admin"}, api_admin_only(200)),
    ("delete", "/api/orgs/acme/members/{gus}/", {}, {**api_admin_only(204), MEMBER: 403}),
    ("post", "/api/orgs/acme/keys/rotate/", {}, api_admin_only(200)),
    ("get", "/api/orgs/acme/tokens/", {}, {**api_admin_only(200), TOKEN: 200}),
    ("post", "/api/orgs/acme/tokens/", {"label": "x"}, api_admin_only(201)),
    ("delete", "/api/orgs/acme/tokens/{token}/", {}, api_admin_only(204)),
]

PAGE_CASES = [
    pytest.param(method, path, data, actor, expected[actor], id=f"{method} {path} as {actor}")
    for method, path, data, expected in PAGES
    for actor in PEOPLE
]
API_CASES = [
    pytest.param(method, path, data, actor, expected[actor], id=f"{method} {path} as {actor}")
    for method, path, data, expected in APIS
    for actor in expected
]


def _refused(status: int | str) -> bool:
    return status in (LOGIN, 401, 403, 404)


@pytest.mark.parametrize("method, path, data, actor, expected", PAGE_CASES)
def test_pages(world, method, path, data, actor, expected):
    url = path.format(**world.ids)
    client = world.clients[actor]()
    before = snapshot(world.acme)
    response = getattr(client, method)(url, data)
    if expected == LOGIN:
        assert response.status_code == 302, response.status_code
        assert response["Location"] == f"/login/?next={quote(url, safe='/')}"
    else:
        assert response.status_code == expected, (response.status_code, response.content[:300])
    if expected == 404:
        assert response.content == Client().get("/no-such-page/").content, "the 404 tells the cases apart"
    if expected == 403:
        assert b"Only an admin of the organisation can do this." in response.content
    if _refused(expected):
        assert snapshot(world.acme) == before, "a refused request changed something"


@pytest.mark.parametrize("method, path, data, actor, expected", API_CASES)
def test_api(world, method, path, data, actor, expected):
    url = path.format(**world.ids)
    client = world.clients["api " + actor]()
    before = snapshot(world.acme)
    response = getattr(client, method)(url, data, format="json")
    assert response.status_code == expected, (response.status_code, response.content[:300])
    if expected == 404:
        assert response.json() == {"message": "Not found.", "extra": {}}
    if expected in (401, 403):
        assert response["Content-Type"] == "application/json"
        assert response.json()["message"]
    if _refused(expected):
        assert snapshot(world.acme) == before, "a refused request changed something"


def test_the_matrix_covers_every_organisation_route():
    from django.urls import URLPattern

    from makers import org_api_urls, org_urls

    covered = {path for _, path, _, _ in PAGES} | {path for _, path, _, _ in APIS}
    placeholders = {"str:slug": "acme", "int:invitation_id": "{invitation}", "int:member_id": "{gus}"}
    placeholders["int:token_id"] = "{token}"
    missing = []
    for module, prefix in ((org_urls, "/"), (org_api_urls, "/api/")):
        for pattern in module.urlpatterns:
            assert isinstance(pattern, URLPattern)
            route = prefix + str(pattern.pattern)
            for name, value in placeholders.items():
                route = route.replace(f"<{name}>", value)
            if route not in covered and "<str:token>" not in route:  # the invitation link: tests/makers/test_members
                missing.append(route)
    assert not missing, f"add these routes to the matrix: {missing}"
