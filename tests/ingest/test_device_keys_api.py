"""/api/things/<slug>/device-keys/: list, register and revoke a thing's device keys, owner only."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ingest import devices
from ingest.models import DeviceKey
from ssi.keys import SigningKey
from tests.ingest.test_devices import signed


def api(owner) -> APIClient:
    client = APIClient()
    if owner is not None:
        client.force_authenticate(owner)
    return client


def url(twin, key_id: int | None = None) -> str:
    base = f"/api/things/{twin.slug}/device-keys/"
    return base if key_id is None else f"{base}{key_id}/revoke"


@pytest.fixture
def device() -> SigningKey:
    return SigningKey.generate()


def test_the_owner_registers_lists_and_revokes_a_device_key(alice, grinder, device):
    client = api(alice)
    assert client.get(url(grinder)).json()["results"] == []

    created = client.post(url(grinder), {"public_key": device.multibase, "label": "board"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["public_key"], body["label"], body["active"], body["revoked_at"]) == (
        device.multibase,
        "board",
        True,
        None,
    )
    assert [key["id"] for key in client.get(url(grinder)).json()["results"]] == [body["id"]]

    revoked = client.post(url(grinder, body["id"]))
    assert revoked.status_code == 200 and revoked.json()["active"] is False and revoked.json()["revoked_at"]
    assert client.post(url(grinder, body["id"])).json()["revoked_at"] == revoked.json()["revoked_at"]
    assert client.get(url(grinder)).json()["results"][0]["active"] is False


def test_a_registered_key_makes_its_readings_device_signed_and_a_revoked_one_verifies_nothing(
    alice, grinder, device, sender
):
    client = api(alice)
    key_id = client.post(url(grinder), {"public_key": device.multibase}, format="json").json()["id"]
    assert sender.post(signed({"value": 1.5}, device)).status_code == 200
    client.post(url(grinder, key_id))
    response = sender.post(signed({"value": 2.5}, device))
    assert response.status_code == 400 and response.json()["extra"]["pointer"] == "/signature"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"public_key": "not-a-key"}, "Multikey"),
        ({}, "public_key"),
        ({"public_key": "z6Mk", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_registration_is_400_with_a_message(alice, grinder, payload, message):
    response = api(alice).post(url(grinder), payload, format="json")
    assert response.status_code == 400 and message in response.json()["message"]
    assert not DeviceKey.objects.exists()


def test_the_same_key_twice_is_400(alice, grinder, device):
    client = api(alice)
    client.post(url(grinder), {"public_key": device.multibase}, format="json")
    response = client.post(url(grinder), {"public_key": device.multibase}, format="json")
    assert response.status_code == 400 and "already registered" in response.json()["message"]


def test_a_stranger_gets_the_one_404_and_changes_nothing(alice, carol, grinder, device):
    key = devices.device_key_add(twin=grinder, public_key=device.multibase)
    client = api(carol)
    not_found = {"message": "Not found.", "extra": {}}
    assert client.get(url(grinder)).json() == not_found
    assert client.post(url(grinder), {"public_key": SigningKey.generate().multibase}, format="json").json() == (
        not_found
    )
    assert client.post(url(grinder, key.pk)).json() == not_found
    key.refresh_from_db()
    assert key.revoked_at is None and DeviceKey.objects.count() == 1


def test_a_key_is_only_reachable_through_its_own_thing(alice, grinder, device):
    from twins import services as twin_services

    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    key = devices.device_key_add(twin=grinder, public_key=device.multibase)
    response = api(alice).post(url(kettle, key.pk))
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_anonymous_is_refused(grinder):
    assert api(None).get(url(grinder)).status_code in (401, 403)


def test_the_openapi_schema_documents_the_device_key_operations(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {
        operation["operationId"]
        for path, methods in schema["paths"].items()
        if "device-keys" in path
        for operation in methods.values()
    }
    assert operations == {
        "things_device_keys_list",
        "things_device_keys_create",
        "things_device_keys_revoke",
        "things_device_signature_required",
    }
