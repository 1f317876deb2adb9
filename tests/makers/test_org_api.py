"""The organisation API: creation and bad input, members, key rotation, and organisation tokens (shown once,
scoped to one organisation, revocable, and no way into any person's things)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from makers import orgs
from makers.models import Membership, Organisation, OrganisationToken
from makers.tokens import token_hash
from tests.conftest import api_for, client_for, make_owner
from twins import services as twin_services

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def post_json(client: APIClient, url: str, body: object):
    return client.post(url, data=json.dumps(body), content_type="application/json")


# --- Creating -----------------------------------------------------------------------------------------------


def test_create_makes_the_caller_admin_and_answers_the_did(dora, settings):
    response = post_json(
        api_for(dora),
        "/api/orgs/",
        {"slug": "vetco", "name": "Vet & Co", "kind": "vet", "website": "https://vet.example"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] == "vetco" and body["kind"] == "vet" and body["role"] == "admin"
    assert body["did"].startswith("did:webvh:") and body["did"].endswith(":orgs:vetco")
    assert body["did_log_url"] == f"{settings.SITE_URL}/orgs/vetco/did.jsonl"
    listed = api_for(dora).get("/api/orgs/").json()
    assert [item["id"] for item in listed["results"]] == ["vetco"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"slug": "Bad Slug", "name": "X"}, "slug"),
        ({"slug": "new", "name": "X"}, "slug"),
        ({"slug": "ok-slug", "name": "x" * 121}, "name"),
        ({"slug": "ok-slug", "name": 42}, "name"),
        ({"slug": 42, "name": "X"}, "slug"),
        ({"slug": "ok-slug", "name": ["X"]}, "name"),
        ({"slug": "ok-slug", "name": "X", "kind": "castle"}, "kind"),
        ({"slug": "ok-slug", "name": "X", "website": "not a url"}, "website"),
        ({"slug": "ok-slug", "name": "X", "description": "d" * 2001}, "description"),
        ({"slug": "ok-slug", "name": "X", "nmae": "typo"}, "nmae"),
        ({"slug": "ok-slug"}, "name"),
        ({"slug": "ok-slug", "name": "X\u0000"}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(dora, body, field):
    response = post_json(api_for(dora), "/api/orgs/", body)
    assert response.status_code == 400, response.content
    assert response.json()["message"].startswith(f"{field}:"), response.json()
    assert not Organisation.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(dora):
    for body in ([], "acme", 3, None):
        response = post_json(api_for(dora), "/api/orgs/", body)
        assert response.status_code == 400, (body, response.content)
        assert response.json()["message"]


def test_a_duplicate_slug_is_a_400_that_says_so(acme, carol):
    response = post_json(api_for(carol), "/api/orgs/", {"slug": "acme", "name": "Acme again"})
    assert response.status_code == 400
    assert response.json()["message"] == f"slug: {orgs.SLUG_TAKEN}"
    assert Organisation.objects.count() == 1


def test_wrong_json_types_elsewhere_are_400s(acme, dora, erin):
    client = api_for(dora)
    erin_id = Membership.objects.get(organisation=acme, owner=erin).pk
    assert post_json(client, "/api/orgs/acme/members/", {"role": 1}).status_code == 400
    assert post_json(client, "/api/orgs/acme/members/", {"email": "not-an-email"}).status_code == 400
    assert post_json(client, "/api/orgs/acme/tokens/", {"label": ["x"]}).status_code == 400
    assert post_json(client, "/api/orgs/acme/tokens/", {"label": "x" * 81}).status_code == 400
    response = client.patch(f"/api/orgs/acme/members/{erin_id}/", data={"role": True}, format="json")
    assert response.status_code == 400
    assert not OrganisationToken.objects.exists()


# --- Members and keys ---------------------------------------------------------------------------------------


def test_invite_answers_the_link_once_and_it_joins(acme, dora, carol):
    response = post_json(api_for(dora), "/api/orgs/acme/members/", {"role": "admin", "email": "c@example.org"})
    assert response.status_code == 201
    url = response.json()["url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert client_for(carol).post(path).status_code == 302
    members = api_for(dora).get("/api/orgs/acme/members/").json()["results"]
    assert {(m["username"], m["role"]) for m in members} == {("dora", "admin"), ("erin", "member"), ("carol", "admin")}
    assert url not in json.dumps(members)


def test_the_last_admin_cannot_be_removed_through_the_api(acme, dora):
    dora_id = Membership.objects.get(organisation=acme, owner=dora).pk
    response = api_for(dora).delete(f"/api/orgs/acme/members/{dora_id}/")
    assert response.status_code == 409
    assert "last admin" in response.json()["message"]
    response = api_for(dora).patch(f"/api/orgs/acme/members/{dora_id}/", data={"role": "member"}, format="json")
    assert response.status_code == 409


def test_a_member_cannot_remove_an_admin_or_rotate_keys_but_may_leave(acme, dora, erin):
    client = api_for(erin)
    dora_id = Membership.objects.get(organisation=acme, owner=dora).pk
    erin_id = Membership.objects.get(organisation=acme, owner=erin).pk
    response = client.delete(f"/api/orgs/acme/members/{dora_id}/")
    assert response.status_code == 403
    assert response.json()["message"] == "Only an admin of the organisation can do this."
    response = client.post("/api/orgs/acme/keys/rotate/")
    assert response.status_code == 403
    assert orgs.log_state(acme).version_number == 1
    assert client.delete(f"/api/orgs/acme/members/{erin_id}/").status_code == 204
    assert not Membership.objects.filter(organisation=acme, owner=erin).exists()


def test_rotate_answers_the_new_log_state(acme, dora):
    response = api_for(dora).post("/api/orgs/acme/keys/rotate/")
    assert response.status_code == 200
    body = response.json()
    state = orgs.log_state(acme)
    assert body == {
        "did": acme.did,
        "version_number": 2,
        "version_id": state.version_id,
        "update_keys": list(state.update_keys),
        "next_key_hashes": list(state.next_key_hashes),
    }


# --- Tokens -------------------------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_never_again(acme, dora):
    client = api_for(dora)
    response = post_json(client, "/api/orgs/acme/tokens/", {"label": "line 1"})
    assert response.status_code == 201
    created = response.json()
    token = created["token"]
    assert token.startswith("org_") and created["prefix"] == token[:10] and created["label"] == "line 1"
    row = OrganisationToken.objects.get()
    assert row.token_hash == token_hash(token)
    assert token not in json.dumps(list(OrganisationToken.objects.values()), default=str)
    later = [
        client.get("/api/orgs/acme/tokens/").content,
        client.get("/api/orgs/acme/").content,
        client.get("/api/orgs/acme/members/").content,
        client_for(dora).get("/orgs/acme/tokens/").content,
        client_for(dora).get("/orgs/acme/settings/").content,
        bearer(token).get("/api/orgs/acme/tokens/").content,
    ]
    for body in later:
        assert token.encode() not in body
    assert created["prefix"].encode() in later[0]


def test_the_tokens_page_shows_a_new_token_once(acme, dora):
    client = client_for(dora)
    response = client.post("/orgs/acme/tokens/", {"label": "printer"})
    assert response.status_code == 200
    token = response.context["new_token"]
    assert token.startswith("org_") and token.encode() in response.content
    assert response["Cache-Control"].startswith("private") or "no-store" in response["Cache-Control"]
    again = client.get("/orgs/acme/tokens/")
    assert token.encode() not in again.content and token[:10].encode() in again.content


def test_a_token_acts_for_its_organisation_only(acme, dora):
    frank = make_owner("frank")
    globex = orgs.organisation_create(slug="globex", name="Globex", admin=frank)
    acme_token, _ = orgs.token_issue(organisation=acme, by=dora)
    globex_token, _ = orgs.token_issue(organisation=globex, by=frank)
    assert bearer(acme_token).get("/api/orgs/acme/").status_code == 200
    assert [o["id"] for o in bearer(acme_token).get("/api/orgs/").json()["results"]] == ["acme"]
    for path in ("/api/orgs/acme/", "/api/orgs/acme/members/", "/api/orgs/acme/tokens/"):
        response = bearer(globex_token).get(path)
        assert response.status_code == 404 and response.json() == {"message": "Not found.", "extra": {}}
    assert bearer(globex_token).post("/api/orgs/acme/keys/rotate/").status_code == 404
    assert orgs.log_state(acme).version_number == 1


def test_a_revoked_token_is_refused_with_401(acme, dora):
    token, row = orgs.token_issue(organisation=acme, by=dora)
    assert bearer(token).get("/api/orgs/acme/").status_code == 200
    assert OrganisationToken.objects.get(pk=row.pk).last_used_at is not None
    assert api_for(dora).delete(f"/api/orgs/acme/tokens/{row.pk}/").status_code == 204
    response = bearer(token).get("/api/orgs/acme/")
    assert response.status_code == 401
    assert response.json()["message"] == "This organisation token is unknown or revoked."
    assert response["WWW-Authenticate"] == "Bearer"
    assert bearer("org_" + "x" * 43).get("/api/orgs/").status_code == 401


def test_a_token_cannot_manage_people_keys_or_tokens(acme, dora, erin):
    token, row = orgs.token_issue(organisation=acme, by=dora)
    client = bearer(token)
    erin_id = Membership.objects.get(organisation=acme, owner=erin).pk
    refused = [
        post_json(client, "/api/orgs/acme/members/", {"role": "admin"}),
        client.delete(f"/api/orgs/acme/members/{erin_id}/"),
        client.patch(f"/api/orgs/acme/members/{erin_id}/", data={"role": "admin"}, format="json"),
        client.post("/api/orgs/acme/keys/rotate/"),
        post_json(client, "/api/orgs/acme/tokens/", {"label": "more"}),
        client.delete(f"/api/orgs/acme/tokens/{row.pk}/"),
        post_json(client, "/api/orgs/", {"slug": "spawn", "name": "Spawn"}),
    ]
    for response in refused:
        assert response.status_code == 403, response.content
        assert "organisation token cannot" in response.json()["message"]
    assert OrganisationToken.objects.count() == 1 and OrganisationToken.objects.get().revoked_at is None
    assert Membership.objects.filter(organisation=acme).count() == 2


def test_an_organisation_token_does_not_reach_the_owner_apis(acme, dora, alice, grinder):
    """Decision: the owner APIs (/api/things/…) do not take organisation tokens at all; a script acting for the
    organisation uses /api/orgs/<slug>/…. So a token reaches neither a person's things nor the account's."""
    twin_services.twin_create(owner=acme.account, name="Unclaimed grinder")
    token, _ = orgs.token_issue(organisation=acme, by=dora)
    client = bearer(token)
    for path in ("/api/things/", f"/api/things/{grinder.slug}/"):
        response = client.get(path)
        assert response.status_code in (401, 403), (path, response.status_code)
        assert b"Unclaimed grinder" not in response.content and b"Coffee grinder" not in response.content
    response = post_json(client, "/api/things/", {"name": "Sneaky"})
    assert response.status_code in (401, 403)


def test_the_routes_are_in_the_openapi_schema(anon_api):
    schema = anon_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path, methods in {
        "/api/orgs/": {"get", "post"},
        "/api/orgs/{slug}/": {"get"},
        "/api/orgs/{slug}/members/": {"get", "post"},
        "/api/orgs/{slug}/members/{member_id}/": {"patch", "delete"},
        "/api/orgs/{slug}/keys/rotate/": {"post"},
        "/api/orgs/{slug}/tokens/": {"get", "post"},
        "/api/orgs/{slug}/tokens/{token_id}/": {"delete"},
    }.items():
        assert methods <= set(paths[path]), path
