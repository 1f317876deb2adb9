"""PUT /api/things/<slug>/device-keys/required: the device keys page's "require device signatures" switch, by API;
while it is on, an unsigned reading is refused."""

from __future__ import annotations

import pytest

from tests.conftest import api_for
from tests.ingest.test_devices import device, registered, signed  # noqa: F401 - fixtures
from twins.models import Reading

pytestmark = pytest.mark.django_db


def url(twin) -> str:
    return f"/api/things/{twin.slug}/device-keys/required"


def test_owner_requires_signatures_and_an_unsigned_reading_is_then_refused(alice, grinder, sender, device, registered):  # noqa: F811
    client = api_for(alice, token=True)
    response = client.put(url(grinder), {"required": True}, format="json")
    assert response.status_code == 200 and response.json() == {"required": True}
    grinder.refresh_from_db()
    assert grinder.require_device_signature is True
    assert sender.post({"value": 2}).status_code == 400
    assert sender.post(signed({"value": 1}, device)).status_code == 200

    assert client.put(url(grinder), {"required": False}, format="json").json() == {"required": False}
    assert sender.post({"value": 3}).status_code == 200
    assert Reading.objects.filter(twin=grinder).count() == 2


def test_only_true_or_false_is_taken(alice, grinder):
    client = api_for(alice, token=True)
    for body in ({"required": "yes"}, {"required": 1}, {}):
        assert client.put(url(grinder), body, format="json").status_code == 400
    grinder.refresh_from_db()
    assert grinder.require_device_signature is False


def test_stranger_gets_404_and_changes_nothing(grinder, carol):
    response = api_for(carol, token=True).put(url(grinder), {"required": True}, format="json")
    assert response.status_code == 404
    grinder.refresh_from_db()
    assert grinder.require_device_signature is False
