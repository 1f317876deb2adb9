"""The organisation API for recalls, the dashboard and what was received: who may do what (admin issues, member
reads, others get 404), bad input as 400 with a message, the numbers, and the OpenAPI schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from didcomm import keys
from didcomm.models import Connection
from didcomm.services import agent_for_owner
from makers.models import Recall
from makers.tokens import organisation_token_create
from sharing.models import ReceivedNotification
from ssi.keys import SigningKey
from ssi.multibase import b58encode
from tests.conftest import api_for, make_owner
from tests.makers.conftest import organisation_make
from tests.makers.test_recalls import produce

pytestmark = pytest.mark.django_db


def org_api(organisation, admin) -> APIClient:
    token, _ = organisation_token_create(organisation=organisation, created_by=admin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def body(model, **fields) -> dict:
    return {"gtin": model.gtin, "title": "Burr may crack", "text": "Stop using it.", **fields}


def test_an_admin_issues_a_recall_and_gets_its_reach(acme_model, dora, django_capture_on_commit_callbacks):
    produce(acme_model, "0001", make_owner("olga"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(dora).post(
            "/api/orgs/acme/recalls/", body(acme_model, serials=["0001"], link="https://acme.example/r"), format="json"
        )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["recall"]["serials"] == ["0001"] and data["recall"]["url"] == f"/recalls/{data['recall']['id']}/"
    # The fan-out ran once the recall committed; the detail now has its reach.
    detail = api_for(dora).get(f"/api/orgs/acme/recalls/{data['recall']['id']}/").json()
    assert detail["reach"]["affected"] == 1 and detail["reach"]["notified_owners"] == 1


def test_an_organisation_token_can_issue_and_list(acme, acme_model, dora):
    client = org_api(acme, dora)
    assert client.post("/api/orgs/acme/recalls/", body(acme_model), format="json").status_code == 201
    listed = client.get("/api/orgs/acme/recalls/").json()
    assert listed["count"] == 1 and listed["results"][0]["title"] == "Burr may crack"


def test_a_member_who_is_not_admin_cannot_issue_a_recall(acme_model, erin):
    response = api_for(erin).post("/api/orgs/acme/recalls/", body(acme_model), format="json")
    assert response.status_code == 403
    assert "admin" in response.json()["message"]
    assert not Recall.objects.exists()
    # Reading is for members.
    assert api_for(erin).get("/api/orgs/acme/recalls/").status_code == 200


def test_a_member_cannot_issue_from_the_page_either(acme_model, erin):
    from tests.conftest import client_for

    response = client_for(erin).post("/orgs/acme/recalls/new/", {"gtin": acme_model.gtin, "title": "t", "text": "x"})
    assert response.status_code == 403
    assert not Recall.objects.exists()


def test_another_organisation_and_strangers_see_nothing(acme, acme_model, dora, carol):
    recall = Recall.objects.create(organisation=acme, model=acme_model, title="Burr", text="x")
    globex = organisation_make(slug="globex", name="Globex", admin=carol)
    urls = [
        "/api/orgs/acme/recalls/",
        f"/api/orgs/acme/recalls/{recall.pk}/",
        "/api/orgs/acme/dashboard/",
        "/api/orgs/acme/received/",
    ]
    for client in (api_for(carol), org_api(globex, carol)):
        for url in urls:
            assert client.get(url).status_code == 404, url
        assert client.post("/api/orgs/acme/recalls/", body(acme_model), format="json").status_code == 404
        # Their own organisation does not have acme's recall either.
        assert client.get(f"/api/orgs/globex/recalls/{recall.pk}/").status_code == 404
    assert APIClient().get(urls[0]).status_code in (401, 403)
    assert Recall.objects.count() == 1


def test_the_html_pages_of_an_organisation_are_404_to_strangers(acme, acme_model, carol):
    from tests.conftest import client_for

    recall = Recall.objects.create(organisation=acme, model=acme_model, title="Burr", text="x")
    client = client_for(carol)
    for url in (
        "/orgs/acme/dashboard",
        "/orgs/acme/recalls/",
        "/orgs/acme/recalls/new/",
        f"/orgs/acme/recalls/{recall.pk}/",
    ):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"gtin": "00000000000017"}, "no product model"),
        ({"gtin": "12345"}, "8, 12, 13 or 14 digits"),
        ({"serials": []}, "empty"),
        ({"serial_to": "0009"}, "both ends"),
        ({"serial_from": "0009", "serial_to": "0001"}, "starts after it ends"),
        ({"link": "http://acme.example/"}, "https"),
        ({"severity": "meh"}, "severity"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_with_a_message(acme_model, dora, fields, says):
    response = api_for(dora).post("/api/orgs/acme/recalls/", body(acme_model, **fields), format="json")
    assert response.status_code == 400, response.content
    assert says.lower() in response.json()["message"].lower()
    assert not Recall.objects.exists()


def test_the_dashboard_counts_models_things_claims_and_recalls(
    acme, acme_model, dora, erin, django_capture_on_commit_callbacks
):
    produce(acme_model, "0001", make_owner("olga"))
    produce(acme_model, "0002", make_owner("oscar"))
    produce(acme_model, "0003")  # not claimed
    with django_capture_on_commit_callbacks(execute=True):
        api_for(dora).post("/api/orgs/acme/recalls/", body(acme_model), format="json")
    numbers = api_for(erin).get("/api/orgs/acme/dashboard/").json()
    assert numbers["models"] == [{"gtin": acme_model.gtin, "name": acme_model.name, "produced": 3, "claimed": 2}]
    assert (numbers["produced"], numbers["claimed"]) == (3, 2)
    assert numbers["connections"] == {"accepted": 0, "declined": 0}
    [recall] = numbers["recalls"]
    assert (recall["affected"], recall["notified_things"], recall["notified_owners"], recall["acknowledged"]) == (
        3,
        2,
        2,
        0,
    )
    page = api_for(erin).get("/orgs/acme/dashboard")
    assert page.status_code == 200 and 'data-testid="dashboard"' in page.content.decode()


def _org_connection(organisation, label: str) -> Connection:
    connection = Connection(
        agent=agent_for_owner(organisation.account),
        state=Connection.State.COMPLETED,
        their_label=label,
        their_verkey=b58encode(SigningKey.generate().verify_key.raw),
    )
    keys.pairwise_key_create(connection=connection)
    connection.save()
    return connection


def test_what_was_received_is_listed_paginated_and_filtered_by_kind(acme, dora, erin):
    connection = _org_connection(acme, "Olga's grinder")
    for i in range(3):
        ReceivedNotification.objects.create(connection=connection, message_id=f"r{i}", kind="readings", count=10)
    ReceivedNotification.objects.create(connection=connection, message_id="s1", kind="scans", count=1)
    client = api_for(erin)
    everything = client.get("/api/orgs/acme/received/", {"limit": 2}).json()
    assert everything["count"] == 4 and len(everything["results"]) == 2 and everything["next"]
    scans = client.get("/api/orgs/acme/received/", {"kind": "scans"}).json()
    assert [row["message_id"] for row in scans["results"]] == ["s1"]
    assert scans["results"][0]["connection"] == "Olga's grinder"
    assert client.get("/api/orgs/acme/received/", {"limit": "x"}).status_code == 400
    received = client.get("/api/orgs/acme/dashboard/").json()["received"]
    assert received == [{"kind": "readings", "messages": 3, "items": 30}, {"kind": "scans", "messages": 1, "items": 1}]
    assert client.get("/api/orgs/acme/dashboard/").json()["connections"]["accepted"] == 1


def test_the_organisation_routes_are_in_the_openapi_schema(alice_api):
    schema = alice_api.get("/api/schema/", headers={"Accept": "application/json"})
    text = schema.content.decode()
    for path in (
        "/api/orgs/{slug}/recalls/",
        "/api/orgs/{slug}/recalls/{recall_id}/",
        "/api/orgs/{slug}/dashboard/",
        "/api/orgs/{slug}/received/",
    ):
        assert path in text, path
    assert "org_recalls_create" in text
