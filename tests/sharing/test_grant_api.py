"""The grants API: owner-only (another owner's thing, grant or endpoint is a 404 and stays unchanged), strict
input (unknown fields, unknown kinds, naive or past times are 400s naming the field), in the schema."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sharing import grants
from sharing.models import Grant, OutboxItem, WebhookEndpoint
from tests.conftest import api_for
from twins import services as twin_services

pytestmark = pytest.mark.django_db


def test_grant_list_create_show_change_and_revoke(alice_api, grinder, connection):
    url = f"/api/things/{grinder.slug}/grants/"
    assert alice_api.get(url).json() == []
    created = alice_api.post(
        url,
        {"connection": connection.pk, "kinds": ["readings:temperature"], "expires_at": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["thing"] == grinder.slug and body["kinds"] == ["readings:temperature"] and body["active"] is True
    assert body["party"] == {"type": "didcomm", "id": connection.pk, "label": "Acme Grinders"}
    grant_url = f"/api/grants/{body['id']}/"
    assert alice_api.get(grant_url).json()["expires_at"].startswith("2099-01-01")
    changed = alice_api.patch(grant_url, {"kinds": ["usage"], "expires_at": None}, format="json")
    assert changed.status_code == 200 and changed.json()["kinds"] == ["usage"] and changed.json()["expires_at"] is None
    revoked = alice_api.delete(grant_url)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert revoked.json()["revoked_reason"] == "owner"
    assert alice_api.patch(grant_url, {"kinds": ["scans"]}, format="json").status_code == 409
    assert [g["id"] for g in alice_api.get(url).json()] == [body["id"]]


def test_a_grant_to_a_webhook_endpoint(alice_api, grinder, endpoint):
    created = alice_api.post(
        f"/api/things/{grinder.slug}/grants/", {"endpoint": endpoint.pk, "kinds": ["scans"]}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["party"] == {"type": "webhook", "id": endpoint.pk, "label": "Insurer"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kinds": ["readings"]}, "non_field_errors"),
        ({"connection": "CONN", "endpoint": 1, "kinds": ["readings"]}, "non_field_errors"),
        ({"connection": "CONN", "kinds": []}, "kinds"),
        ({"connection": "CONN", "kinds": ["everything"]}, "kinds"),
        ({"connection": "CONN", "kinds": "readings"}, "kinds"),
        ({"connection": "CONN", "kinds": ["readings"], "expires_at": "2099-01-01T00:00:00"}, "expires_at"),
        ({"connection": "CONN", "kinds": ["readings"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"connection": "CONN", "kinds": ["readings"], "kind": "typo"}, "kind"),
        ({"connection": 999999, "kinds": ["readings"]}, "connection"),
        ({"endpoint": 999999, "kinds": ["readings"]}, "endpoint"),
    ],
    ids=[
        "no-party",
        "two-parties",
        "no-kinds",
        "unknown-kind",
        "kinds-not-a-list",
        "naive-time",
        "past-time",
        "unknown-field",
        "unknown-connection",
        "unknown-endpoint",
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(alice_api, grinder, connection, body, field):
    body = {key: connection.pk if value == "CONN" else value for key, value in body.items()}
    response = alice_api.post(f"/api/things/{grinder.slug}/grants/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["extra"]["fields"] or field in str(response.json()), response.json()
    assert not Grant.objects.exists()


def test_a_second_grant_to_the_same_party_is_a_409(alice_api, grinder, connection, grant):
    response = alice_api.post(
        f"/api/things/{grinder.slug}/grants/", {"connection": connection.pk, "kinds": ["scans"]}, format="json"
    )
    assert response.status_code == 409 and "change that grant" in response.json()["message"]


def test_another_owner_gets_404_and_changes_nothing(carol, grinder, connection, endpoint, grant):
    carol_api = api_for(carol, token=True)
    assert carol_api.get(f"/api/things/{grinder.slug}/grants/").status_code == 404
    assert carol_api.get(f"/api/things/{grinder.slug}/deliveries/").status_code == 404
    posted = carol_api.post(f"/api/things/{grinder.slug}/grants/", {"connection": connection.pk, "kinds": ["scans"]})
    assert posted.status_code == 404
    assert carol_api.get(f"/api/grants/{grant.pk}/").status_code == 404
    assert carol_api.patch(f"/api/grants/{grant.pk}/", {"kinds": ["scans"]}, format="json").status_code == 404
    assert carol_api.delete(f"/api/grants/{grant.pk}/").status_code == 404
    assert carol_api.delete(f"/api/webhook-endpoints/{endpoint.pk}/").status_code == 404
    assert carol_api.get("/api/webhook-endpoints/").json() == []
    grant.refresh_from_db()
    assert grant.revoked_at is None and grant.kinds == ["readings"] and Grant.objects.count() == 1
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_an_owner_cannot_grant_their_thing_to_someone_elses_connection(alice, carol, grinder, connection):
    carols_thing = twin_services.twin_create(owner=carol, name="Carol's lamp")
    response = api_for(carol).post(
        f"/api/things/{carols_thing.slug}/grants/", {"connection": connection.pk, "kinds": ["readings"]}, format="json"
    )
    assert response.status_code == 400 and "connection" in str(response.json())
    assert not Grant.objects.exists()


def test_anonymous_requests_are_refused(anon_api, grinder, grant):
    assert anon_api.get(f"/api/things/{grinder.slug}/grants/").status_code in (401, 403)
    assert anon_api.delete(f"/api/grants/{grant.pk}/").status_code in (401, 403)


def test_the_delivery_log_is_paginated_newest_first(alice_api, grinder, grant):
    for n in range(3):
        OutboxItem.objects.create(
            grant=grant, twin=grinder, kind="readings", count=n + 1, window_ends_at=timezone.now()
        )
    page = alice_api.get(f"/api/things/{grinder.slug}/deliveries/?limit=2").json()
    assert page["count"] == 3 and [item["count"] for item in page["results"]] == [3, 2]
    assert set(page["results"][0]) >= {"message_id", "grant", "kind", "count", "status", "delivered_at"}
    assert "payload" not in page["results"][0]
    assert alice_api.get(f"/api/things/{grinder.slug}/deliveries/?limit=abc").status_code == 400


def test_webhook_endpoints_create_shows_the_secret_once_list_and_delete(alice_api, grinder):
    created = alice_api.post(
        "/api/webhook-endpoints/", {"label": "Insurer", "url": "http://127.0.0.1:9/h"}, format="json"
    )
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    assert created.json()["secret"].startswith("whsec_")
    listed = alice_api.get("/api/webhook-endpoints/").json()
    assert [e["label"] for e in listed] == ["Insurer"] and "secret" not in listed[0]
    endpoint_id = created.json()["id"]
    grants.grant_create(twin=grinder, party=WebhookEndpoint.objects.get(), kinds=["scans"], by=grinder.owner)
    assert alice_api.delete(f"/api/webhook-endpoints/{endpoint_id}/").status_code == 204
    assert alice_api.get("/api/webhook-endpoints/").json() == [] and not Grant.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"label": "", "url": "https://93.184.215.14/"}, "label"),
        ({"label": "X", "url": "gopher://x"}, "url"),
        ({"label": "X", "url": 5}, "url"),
        ({"label": "X", "url": "https://10.0.0.1/", "secret": "mine"}, "secret"),
    ],
)
def test_bad_endpoints_are_400s(alice_api, body, field):
    response = alice_api.post("/api/webhook-endpoints/", body, format="json")
    assert response.status_code == 400 and field in str(response.json())
    assert not WebhookEndpoint.objects.exists()


def test_a_private_endpoint_url_is_refused_in_production(alice_api, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    response = alice_api.post("/api/webhook-endpoints/", {"label": "X", "url": "https://127.0.0.1/h"}, format="json")
    assert response.status_code == 400 and "private network" in str(response.json())


def test_the_routes_are_in_the_schema(alice_api):
    paths = alice_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path, methods in {
        "/api/things/{slug}/grants/": {"get", "post"},
        "/api/grants/{grant_id}/": {"get", "patch", "delete"},
        "/api/things/{slug}/deliveries/": {"get"},
        "/api/webhook-endpoints/": {"get", "post"},
        "/api/webhook-endpoints/{endpoint_id}/": {"delete"},
    }.items():
        assert methods <= set(paths[path]), path
