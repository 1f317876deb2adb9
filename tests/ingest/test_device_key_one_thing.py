"""One device key per thing: a key registered on another thing is refused at registration, and a key that is on two
things anyway (registered before that rule, or brought by a moved thing) verifies only readings that sign `thing`.

Why: a signed reading that does not sign `thing` names no thing in what the device signed, so anyone holding a
source of the other thing (its owner, its source's cloud) could store a captured reading there, device-signed.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from ingest import devices
from ingest import services as ingest_services
from ingest.models import DeviceKey
from ssi.keys import SigningKey
from tests.conftest import client_for
from tests.ingest.conftest import Sender
from tests.ingest.test_devices import device, signed  # noqa: F401 - fixture
from twins import services as twin_services
from twins.models import Reading


def url(twin) -> str:
    return f"/api/things/{twin.slug}/device-keys/"


@pytest.fixture
def kettle(alice):
    return twin_services.twin_create(owner=alice, name="Kettle")


@pytest.fixture
def bobs_kettle(bob):
    return twin_services.twin_create(owner=bob, name="Kettle")


@pytest.fixture
def bobs_sender(bob, bobs_kettle) -> Sender:
    source, secret = ingest_services.source_create(owner=bob, name="Bob's cloud")
    ingest_services.source_link_thing(source=source, twin=bobs_kettle)
    return Sender(client=Client(), source=source, secret=secret)


# --- Registering ------------------------------------------------------------------------------------------------


def test_a_key_registered_on_another_thing_is_a_400_saying_one_key_per_thing(alice_api, grinder, kettle, device):  # noqa: F811
    assert alice_api.post(url(grinder), {"public_key": device.multibase}, format="json").status_code == 201
    response = alice_api.post(url(kettle), {"public_key": device.multibase}, format="json")
    assert response.status_code == 400
    message = response.json()["message"]
    assert "another thing" in message and "one device key per thing" in message and "new key" in message
    assert not DeviceKey.objects.filter(twin=kettle).exists()


def test_a_key_on_another_owners_thing_is_refused_too(carol_api, carol, grinder, device):  # noqa: F811
    devices.device_key_add(twin=grinder, public_key=device.multibase)
    carols = twin_services.twin_create(owner=carol, name="Lamp")
    response = carol_api.post(url(carols), {"public_key": device.multibase}, format="json")
    assert response.status_code == 400 and "another thing" in response.json()["message"]
    assert grinder.slug not in response.json()["message"]  # the other thing is not named: it may be anyone's


def test_a_key_revoked_on_another_thing_is_refused_too(grinder, kettle, device):  # noqa: F811
    # Readings it signed for the grinder while it was active could be replayed onto the kettle.
    devices.device_key_revoke(key=devices.device_key_add(twin=grinder, public_key=device.multibase))
    with pytest.raises(ValidationError, match="another thing"):
        devices.device_key_add(twin=kettle, public_key=device.multibase)


def test_the_device_keys_page_shows_why_a_key_of_another_thing_is_refused(alice, grinder, kettle, device):  # noqa: F811
    devices.device_key_add(twin=grinder, public_key=device.multibase)
    response = client_for(alice).post(
        f"/things/{kettle.slug}/device-keys/", {"action": "add", "public_key": device.multibase}
    )
    assert response.status_code == 400
    assert "one device key per thing" in response.content.decode()


def test_the_same_key_again_on_its_own_thing_still_says_so(grinder, device):  # noqa: F811
    devices.device_key_add(twin=grinder, public_key=device.multibase)
    with pytest.raises(ValidationError, match="already registered for this thing"):
        devices.device_key_add(twin=grinder, public_key=device.multibase)


# --- A key on two things already --------------------------------------------------------------------------------


@pytest.fixture
def shared_key(grinder, bobs_kettle, device) -> SigningKey:  # noqa: F811
    """The device's key on alice's grinder and on bob's kettle, as a database from before the rule may hold it."""
    DeviceKey.objects.create(twin=grinder, public_key=device.multibase)
    DeviceKey.objects.create(twin=bobs_kettle, public_key=device.multibase)
    return device


def test_a_reading_not_signing_its_thing_cannot_be_replayed_onto_the_other_thing_of_its_key(
    sender, bobs_sender, bobs_kettle, shared_key
):
    captured = signed({"value": 14}, shared_key)  # each source feeds one thing: `thing` may be left out
    response = bobs_sender.post(captured)
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/thing"
    assert "more than one thing" in response.json()["message"]
    assert not Reading.objects.filter(twin=bobs_kettle).exists()


def test_a_key_on_two_things_keeps_working_for_readings_that_sign_their_thing(sender, bobs_sender, grinder, shared_key):
    reading = signed({"thing": grinder.slug, "value": 14}, shared_key)
    assert sender.post(reading).status_code == 200
    assert Reading.objects.get(twin=grinder).device_signed
    assert bobs_sender.post(reading).status_code == 400  # names the grinder: not a thing of bob's source


def test_a_key_on_two_things_is_refused_without_thing_even_on_its_first_thing(sender, grinder, shared_key):
    response = sender.post({"readings": [signed({"thing": grinder.slug, "value": 1}, shared_key)]})
    assert response.status_code == 200
    response = sender.post({"readings": [signed({"value": 2}, shared_key, with_key=True)]})
    assert response.status_code == 400 and response.json()["extra"]["pointer"] == "/readings/0/thing"
    assert Reading.objects.filter(twin=grinder).count() == 1


def test_a_key_of_one_thing_needs_no_thing_in_its_signature(sender, grinder, device):  # noqa: F811
    devices.device_key_add(twin=grinder, public_key=device.multibase)
    assert sender.post(signed({"value": 2}, device)).status_code == 200
    assert Reading.objects.get(twin=grinder).device_signed
