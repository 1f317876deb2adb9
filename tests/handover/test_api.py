"""The handover REST API: create from a list of slugs, show, accept (all or nothing), cancel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from handover.models import Handover
from handover.services import handover_create
from tests.conftest import PASSWORD, api_for
from tests.handover.conftest import did_logs, fresh
from twins import services as twin_services

pytestmark = pytest.mark.django_db


def _create(api, herd, **extra):
    body = {"things": [twin.slug for twin in herd], "password": PASSWORD, **extra}
    return api.post(reverse("api-handovers"), body, format="json")


def test_create_show_and_accept_over_the_api(herd, alice, bob):
    seller = api_for(alice, token=True)
    response = _create(seller, herd, redact_kinds=["note"], days=3)
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["status"] == "open"
    assert [thing["thing_name"] for thing in created["things"]] == ["Cow 1", "Cow 2", "Cow 3"]
    assert created["redact_kinds"] == ["note"]
    assert created["url"].endswith(f"/transfer/{created['token']}/things")

    shown = seller.get(reverse("api-handover", args=[created["id"]]))
    assert shown.status_code == 200 and shown.json()["token"] == created["token"]

    buyer = api_for(bob, token=True)
    view = buyer.post(reverse("api-handovers-view"), {"offer": created["url"]}, format="json")
    assert view.status_code == 200, view.json()
    assert [thing["thing_did"] for thing in view.json()["things"]] == [twin.did for twin in herd]
    assert view.json()["acceptance"]["twins"] == [twin.did for twin in herd]
    assert all(thing["verification"]["ok"] for thing in view.json()["things"])

    accepted = buyer.post(
        reverse("api-handovers-accept"), {"offer": created["token"], "password": PASSWORD}, format="json"
    )
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "completed" and accepted.json()["buyer"] == "bob"
    assert {twin.owner_id for twin in fresh(herd)} == {bob.pk}


def test_accepting_over_the_api_needs_the_password(herd, alice, bob):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    response = api_for(bob, token=True).post(reverse("api-handovers-accept"), {"offer": handover.token}, format="json")
    assert response.status_code == 403 and response.json()["message"]
    assert {twin.owner_id for twin in fresh(herd)} == {alice.pk}


def test_a_failed_acceptance_over_the_api_is_a_409_saying_why_and_nothing_moves(herd, alice, bob):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    twin_services.twin_deactivate(twin=herd[1])
    logs = did_logs(herd)

    response = api_for(bob, token=True).post(
        reverse("api-handovers-accept"), {"offer": handover.token, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 409
    assert "Nothing moved" in response.json()["message"] and "Cow 2" in response.json()["message"]
    assert did_logs(herd) == logs
    assert {twin.owner_id for twin in fresh(herd)} == {alice.pk}
    shown = api_for(alice, token=True).get(reverse("api-handover", args=[handover.public_id])).json()
    assert shown["status"] == "failed" and "Cow 2" in shown["failure"]


def test_carol_cannot_offer_alices_things_over_the_api(herd, carol):
    response = _create(api_for(carol, token=True), herd)
    assert response.status_code == 404
    assert not Handover.objects.exists()


def test_refusals_name_each_thing(herd, alice):
    twin_services.twin_deactivate(twin=herd[0])
    response = _create(api_for(alice, token=True), fresh(herd))
    assert response.status_code == 409
    assert response.json()["extra"]["problems"] == ["Cow 1 is deactivated and can no longer change hands."]


def test_an_empty_list_and_bad_input_are_400s(herd, alice):
    api = api_for(alice, token=True)
    assert api.post(reverse("api-handovers"), {"things": [], "password": PASSWORD}, format="json").status_code == 400
    bad = _create(api, herd, redact_kinds=["everything"])
    assert bad.status_code == 400
    assert not Handover.objects.exists()


def test_cancel_over_the_api(herd, alice, bob, carol):
    handover = handover_create(seller=alice, twins=herd, redact_kinds=[])
    assert api_for(carol, token=True).delete(reverse("api-handover", args=[handover.public_id])).status_code == 404
    response = api_for(alice, token=True).delete(reverse("api-handover", args=[handover.public_id]))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = api_for(bob, token=True).post(reverse("api-handovers-view"), {"offer": handover.token}, format="json")
    assert again.status_code == 410


def test_a_single_offer_of_a_thing_in_an_open_handover_is_a_409_over_the_api(herd, alice):
    handover_create(seller=alice, twins=herd, redact_kinds=[])
    api = api_for(alice, token=True)

    response = api.post(reverse("api-transfer-offer", args=[herd[0].slug]), {"password": PASSWORD}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "message": "Cow 1 is in an open handover of several things. Cancel that handover first.",
        "extra": {},
    }
