"""Device-signed readings: device keys, signature checks in ingestion, and provenance anyone can re-check."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from ingest import devices
from ingest import services as ingest_services
from ingest.models import DeviceKey
from ssi import jcs, keys
from ssi.errors import SignatureError
from ssi.keys import SigningKey
from ssi.multibase import b64url_encode, multibase_encode
from twins.models import HistoryEntry, Reading

_moments = itertools.count()


def signed(reading: dict, key: SigningKey, *, form: str = "z", with_key: bool = False) -> dict:
    """The reading with a device signature over the JCS form of its thing/kind/value/unit/time members. A reading
    without a time is given one (a device-signed reading must sign its time), a second after the last one given."""
    if "time" not in reading:
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_moments))
        reading = {**reading, "time": moment.isoformat().replace("+00:00", "Z")}
    covered = {name: reading[name] for name in ("thing", "kind", "value", "unit", "time") if name in reading}
    raw = key.sign(jcs.canonicalize(covered))
    out = {**reading, "signature": multibase_encode(raw, "z") if form == "z" else b64url_encode(raw)}
    if with_key:
        out["key"] = key.multibase
    return out


@pytest.fixture
def device() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def registered(grinder, device) -> DeviceKey:
    return devices.device_key_add(twin=grinder, public_key=device.multibase, label="board")


# --- Accepting ------------------------------------------------------------------------------------------------


def test_a_reading_signed_by_a_registered_key_is_stored_device_signed(sender, grinder, device, registered):
    response = sender.post(signed({"thing": grinder.slug, "value": 14, "time": "2026-01-02T03:04:05Z"}, device))
    assert response.status_code == 200, response.content
    reading = Reading.objects.get(twin=grinder)
    assert reading.device_signed
    assert reading.device_key == device.multibase
    assert reading.signed_content == {"thing": grinder.slug, "value": 14, "time": "2026-01-02T03:04:05Z"}
    entry = HistoryEntry.objects.filter(twin=grinder, kind="reading").get()
    assert entry.entry["content"]["device"] == {
        "key": device.multibase,
        "signature": reading.signature,
        "signed": reading.signed_content,
    }


def test_plain_base64url_signatures_and_a_named_key_are_accepted(sender, grinder, device, registered):
    other = SigningKey.generate()
    devices.device_key_add(twin=grinder, public_key=other.multibase)
    payload = {"readings": [signed({"value": "21.5", "unit": "x"}, device, form="b64url", with_key=True)]}
    payload["readings"].append(signed({"value": 3}, other))
    assert sender.post(payload).status_code == 200
    assert sorted(Reading.objects.filter(twin=grinder).values_list("device_key", flat=True)) == sorted(
        [device.multibase, other.multibase]
    )


def test_an_unsigned_reading_is_stored_unsigned_when_the_thing_does_not_require_signatures(sender, grinder, registered):
    assert sender.post({"value": 1}).status_code == 200
    assert not Reading.objects.get(twin=grinder).device_signed


def test_a_mapping_may_point_at_the_signature_elsewhere(sender, grinder, device, registered):
    ingest_services.source_update(
        source=sender.source, name="Acme", mapping={"signature": "/sig/ed25519"}, rate_limit="60/60"
    )
    reading = signed({"value": 7}, device)
    reading["sig"] = {"ed25519": reading.pop("signature")}
    assert sender.post(reading).status_code == 200
    assert Reading.objects.get(twin=grinder).device_signed


# --- Rejecting ------------------------------------------------------------------------------------------------


def test_a_bad_signature_is_a_400_naming_its_pointer_and_nothing_of_the_batch_is_stored(
    sender, grinder, device, registered
):
    good = signed({"value": 1}, device)
    bad = signed({"value": 2}, device)
    bad["value"] = 3  # the device signed 2
    response = sender.post({"readings": [good, bad]})
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/readings/1/signature"
    assert not Reading.objects.filter(twin=grinder).exists()


def test_a_malformed_signature_is_a_400(sender, grinder, registered):
    response = sender.post({"value": 1, "signature": "not a signature"})
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/signature"


def test_a_signature_by_an_unregistered_key_is_a_400(sender, grinder, registered):
    response = sender.post(signed({"value": 1}, SigningKey.generate()))
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/signature"


def test_a_named_key_that_is_not_the_things_is_a_400_naming_the_key(sender, grinder, registered):
    response = sender.post(signed({"value": 1}, SigningKey.generate(), with_key=True))
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/key"


def test_a_revoked_key_verifies_nothing_new_but_old_readings_keep_their_provenance(sender, grinder, device, registered):
    assert sender.post(signed({"value": 1}, device)).status_code == 200
    devices.device_key_revoke(key=registered)
    response = sender.post(signed({"value": 2}, device))
    assert response.status_code == 400
    assert Reading.objects.get(twin=grinder).device_signed


def test_an_unsigned_reading_for_a_thing_that_requires_signatures_is_a_400(sender, grinder, device, registered):
    devices.twin_set_require_device_signature(twin=grinder, required=True)
    response = sender.post({"readings": [signed({"value": 1}, device), {"value": 2}]})
    assert response.status_code == 400
    assert response.json()["extra"]["pointer"] == "/readings/1/signature"
    assert not Reading.objects.filter(twin=grinder).exists()
    assert sender.post(signed({"value": 1}, device)).status_code == 200


# --- Provenance -------------------------------------------------------------------------------------------------


def test_anyone_can_reverify_a_stored_reading_from_the_api_output_with_ssi_alone(
    sender, grinder, device, registered, alice_client
):
    assert sender.post(signed({"thing": "acme-grinder-7", "value": 9.25, "unit": "setting"}, device)).status_code == 200
    response = alice_client.get(f"/api/things/{grinder.slug}/readings/")
    assert response.status_code == 200
    body = response.json()
    item = (body["results"] if isinstance(body, dict) else body)[0]
    assert item["device_signed"] is True
    # Only ssi and the JSON: the key, the signature and the signed object.
    keys.verify_signature(
        item["device_key"], jcs.canonicalize(item["signed_content"]), keys.decode_signature(item["signature"])
    )
    assert float(item["signed_content"]["value"]) == item["value"]
    tampered = {**item["signed_content"], "value": 9.5}
    with pytest.raises(SignatureError):
        keys.verify_signature(item["device_key"], jcs.canonicalize(tampered), keys.decode_signature(item["signature"]))


def test_the_private_page_marks_device_signed_readings(sender, grinder, device, registered, alice_client):
    sender.post(signed({"value": 1}, device))
    page = alice_client.get(f"/things/{grinder.slug}/").content.decode()
    assert 'data-testid="device-signed"' in page


# --- Device key page ------------------------------------------------------------------------------------------


def test_the_owner_adds_revokes_and_requires_device_keys_on_the_page(grinder, alice_client, device):
    url = f"/things/{grinder.slug}/device-keys/"
    assert alice_client.get(url).status_code == 200
    response = alice_client.post(url, {"action": "add", "public_key": device.multibase, "label": "board"})
    assert response.status_code == 302
    key = DeviceKey.objects.get(twin=grinder)
    assert alice_client.post(url, {"action": "add", "public_key": "z6Mkbad"}).status_code == 400
    assert alice_client.post(url, {"action": "revoke", "key_id": key.pk}).status_code == 302
    key.refresh_from_db()
    assert key.revoked
    assert alice_client.post(url, {"action": "require", "required": "1"}).status_code == 302
    grinder.refresh_from_db()
    assert grinder.require_device_signature


def test_a_stranger_gets_404_on_the_device_key_page(grinder, carol_client, device):
    url = f"/things/{grinder.slug}/device-keys/"
    assert carol_client.get(url).status_code == 404
    assert carol_client.post(url, {"action": "add", "public_key": device.multibase}).status_code == 404
    assert not DeviceKey.objects.exists()


def test_signatures_may_be_multibase_or_plain_base64url(device):
    raw = device.sign(b"x")
    for text in (multibase_encode(raw, "z"), multibase_encode(raw, "u"), b64url_encode(raw)):
        assert devices.decode_signature(text) == raw
    assert devices.decode_signature(b64url_encode(raw) + "==") == raw
