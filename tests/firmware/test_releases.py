"""Publishing firmware releases: platform-signed and offline-signed manifests, co-signatures for critical models,
and the server's half of SECURITY 34-36 (each refusal with its reason, nothing stored)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from firmware import services
from firmware.models import Release
from makers import orgs
from owners.keys import owner_signing_key
from owners.models import OwnerKey
from ssi import firmware as fw
from ssi import proofs
from ssi.keys import SigningKey
from tests.conftest import api_for, client_for
from tests.firmware.conftest import PAYLOAD, upload
from tests.makers.conftest import organisation_make

OFFICERS = [SigningKey.from_seed(bytes([40 + i]) * 32) for i in range(3)]


def current_key(organisation) -> SigningKey:
    row = OwnerKey.objects.get(owner=organisation.account, role=OwnerKey.Role.CURRENT, retired_at__isnull=True)
    return owner_signing_key(row)


def offline(organisation, model, *, sequence=1, version=None, key=None, data=PAYLOAD, **over) -> dict:
    m = fw.build(
        vendor_id=organisation.did,
        class_id=model.gtin,
        version=version or f"1.{sequence}",
        sequence=sequence,
        payload=data,
        payload_ref="grinder.bin",
    )
    m.update(over)
    return fw.sign(m, key or current_key(organisation))


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "firmware"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def post_release(who, acme, model, *, manifest: dict | None = None, data: bytes = PAYLOAD, **fields):
    body = {"payload": upload(data), **fields}
    if manifest is not None:
        body["manifest"] = upload(json.dumps(manifest).encode(), "manifest.json")
    return api_for(who).post(f"/api/orgs/{acme.slug}/models/{model.gtin}/firmware/", body, format="multipart")


def test_a_member_publishes_and_the_platform_signs_with_the_organisations_current_key(acme, acme_model, erin):
    response = post_release(erin, acme, acme_model, version="2.0.1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sequence"] == 1 and body["status"] == "published" and body["size"] == len(PAYLOAD)
    accepted = fw.verify(
        body["manifest"], PAYLOAD, maker=orgs.log_state(acme), class_id=acme_model.gtin, last_sequence=None
    )
    assert accepted.maker_keys == (current_key(acme).multibase,)
    assert [p.read_bytes() for p in stored_files()] == [PAYLOAD]
    # The next one gets the next sequence.
    assert post_release(erin, acme, acme_model, version="2.0.2").json()["sequence"] == 2


def test_security_36_an_offline_manifest_whose_hash_differs_is_refused_before_anything_is_stored(
    acme, acme_model, dora
):
    other = PAYLOAD[:-1] + b"\x00"
    response = post_release(dora, acme, acme_model, manifest=offline(acme, acme_model, data=other))
    assert response.status_code == 400
    assert response.json()["extra"]["reason"] == "hash-mismatch"
    assert not Release.objects.exists() and stored_files() == []


def test_security_36_an_offline_manifest_whose_size_differs_is_refused_before_anything_is_stored(
    acme, acme_model, dora
):
    response = post_release(dora, acme, acme_model, manifest=offline(acme, acme_model, data=PAYLOAD + b"x"))
    assert response.status_code == 400 and response.json()["extra"]["reason"] == "size-mismatch"
    assert not Release.objects.exists() and stored_files() == []


def test_security_35_rollback_vendor_and_model_mismatches_are_refused(acme, acme_model, dora):
    assert post_release(dora, acme, acme_model, manifest=offline(acme, acme_model, sequence=5)).status_code == 201
    rollback = post_release(dora, acme, acme_model, manifest=offline(acme, acme_model, sequence=5, version="again"))
    assert rollback.status_code == 409 and rollback.json()["extra"]["reason"] == "rollback"
    assert post_release(dora, acme, acme_model, version="x", sequence=4).json()["extra"]["reason"] == "rollback"
    globex = organisation_make(slug="globex", name="Globex", admin=dora)
    vendor = post_release(dora, acme, acme_model, manifest=offline(acme, acme_model, sequence=6, vendor_id=globex.did))
    assert vendor.status_code == 400 and vendor.json()["extra"]["reason"] == "vendor-mismatch"
    model = post_release(
        dora, acme, acme_model, manifest=offline(acme, acme_model, sequence=6, class_id="09506000134369")
    )
    assert model.status_code == 400 and model.json()["extra"]["reason"] == "model-mismatch"
    assert Release.objects.count() == 1 and len(stored_files()) == 1


def test_security_34_a_manifest_signed_by_a_rotated_out_key_is_refused(acme, acme_model, dora):
    old = current_key(acme)
    orgs.organisation_keys_rotate(organisation=acme, by=dora)
    stale = offline(acme, acme_model, key=old, created="2020-01-01T00:00:00Z")  # any date
    response = post_release(dora, acme, acme_model, manifest=stale)
    assert response.status_code == 400 and response.json()["extra"]["reason"] == "unauthorised-key"
    assert not Release.objects.exists() and stored_files() == []
    fresh = post_release(dora, acme, acme_model, manifest=offline(acme, acme_model, key=current_key(acme)))
    assert fresh.status_code == 201


def test_critical_model_waits_for_k_of_n_officers_and_counts_each_once(acme, acme_model, dora, erin):
    policy = api_for(dora).put(
        f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/policy",
        {"critical": True, "threshold": 2, "officers": [k.multibase for k in OFFICERS]},
        format="json",
    )
    assert policy.status_code == 200, policy.json()
    created = post_release(erin, acme, acme_model, version="3.0")
    assert created.status_code == 201 and created.json()["status"] == "awaiting"
    manifest = created.json()["manifest"]
    url = f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/cosign"
    one = fw.sign(manifest, OFFICERS[0])
    response = api_for(erin).post(url, {"sequence": 1, "manifest": one}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "awaiting"
    # The same officer again (another proof, made at another time): one signer, counted once.
    unsigned = {k: v for k, v in one.items() if k != "proof"}
    again = proofs.create_proof(unsigned, OFFICERS[0], created="2026-01-01T00:00:00Z")
    twice = {**one, "proof": [*one["proof"], again]}
    response = api_for(erin).post(url, {"sequence": 1, "manifest": twice}, format="json")
    assert response.status_code == 400 and response.json()["extra"]["reason"] == "duplicate-signer"
    stranger = fw.sign(one, SigningKey.from_seed(b"\x63" * 32))
    response = api_for(erin).post(url, {"sequence": 1, "manifest": stranger}, format="json")
    assert response.json()["extra"]["reason"] == "unauthorised-key"
    two = fw.sign(one, OFFICERS[2])
    response = api_for(erin).post(url, {"sequence": 1, "manifest": two}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "published"
    release = Release.objects.get()
    policy_now = services.policy_of(acme_model)
    assert fw.verify(
        release.manifest,
        PAYLOAD,
        maker=orgs.log_state(acme),
        class_id=acme_model.gtin,
        last_sequence=0,
        policy=policy_now,
    )


def test_cosign_and_withdraw_of_a_release_that_does_not_exist_both_answer_404_and_write_nothing(
    acme, acme_model, dora, erin
):
    base = f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/"
    cosign = api_for(erin).post(base + "cosign", {"sequence": 9, "manifest": {"sequence": 9}}, format="json")
    withdraw = api_for(dora).post(base + "withdraw", {"sequence": 9, "reason": "bad batch"}, format="json")
    assert (cosign.status_code, withdraw.status_code) == (404, 404)
    assert cosign.json()["message"] == withdraw.json()["message"] == "This model has no release with that sequence."
    assert not Release.objects.exists()


def test_only_an_admin_sets_the_policy_and_a_bad_policy_is_a_400(acme, acme_model, dora, erin):
    url = f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/policy"
    body = {"critical": True, "threshold": 2, "officers": [OFFICERS[0].multibase]}
    assert api_for(erin).put(url, body, format="json").status_code == 403
    response = api_for(dora).put(url, body, format="json")
    assert response.status_code == 400 and "exceeds" in response.json()["message"]
    bad = api_for(dora).put(url, {**body, "officers": ["z6Mk-not-a-key", "x"]}, format="json")
    assert bad.status_code == 400
    # The organisation's own key (the platform signs every release with it) cannot be a release officer's.
    own = sorted(fw.maker_keys_now(orgs.log_state(acme)))[0]
    mixed = api_for(dora).put(url, {**body, "officers": [own, OFFICERS[1].multibase]}, format="json")
    assert mixed.status_code == 400 and "organisation's own key" in mixed.json()["message"]


def test_a_sequence_out_of_range_is_a_400_in_words(acme, acme_model, erin):
    for sequence in (str(2**53), "99999999999999999", "\u00b2", "-1"):
        response = post_release(erin, acme, acme_model, version="1.0", sequence=sequence)
        assert response.status_code == 400, sequence
        assert "whole number" in response.json()["message"]
    url = f"/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/"
    page = client_for(erin).post(url, {"payload": upload(), "version": "1.0", "sequence": str(10**19)})
    assert page.status_code == 400
    assert not Release.objects.exists()


def test_an_offline_manifest_with_a_number_json_cannot_sign_is_refused_as_malformed(acme, acme_model, dora):
    manifest = {**offline(acme, acme_model), "notes": 1e400}
    body = json.dumps(manifest).replace("Infinity", "1e400").encode()
    response = api_for(dora).post(
        f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/",
        {"payload": upload(), "manifest": upload(body, "manifest.json")},
        format="multipart",
    )
    assert response.status_code == 400 and response.json()["extra"]["reason"] == "malformed"
    assert not Release.objects.exists()


def test_the_release_page_publishes_with_a_form_and_shows_errors(acme, acme_model, erin, carol):
    url = f"/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/"
    assert client_for(carol).get(url).status_code == 404
    client = client_for(erin)
    assert client.get(url).status_code == 200
    response = client.post(url, {"payload": upload(), "version": ""})
    assert response.status_code == 400 and "Give the version" in response.content.decode()
    response = client.post(url, {"payload": upload(), "version": "4.2"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "4.2" in page and "Published" in page


def test_the_models_page_links_to_its_firmware_releases(acme, acme_model, erin):
    page = client_for(erin).get(f"/orgs/{acme.slug}/models/{acme_model.gtin}/").content.decode()
    assert f'<a href="/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/">Firmware</a>' in page


def test_the_api_refuses_a_missing_payload_and_a_bad_manifest_with_a_message(acme, acme_model, erin):
    url = f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/"
    response = api_for(erin).post(url, {"version": "1"}, format="multipart")
    assert response.status_code == 400 and "payload" in response.json()["message"]
    response = api_for(erin).post(
        url, {"payload": upload(), "manifest": upload(b"{nope", "m.json")}, format="multipart"
    )
    assert response.status_code == 400 and "not JSON" in response.json()["message"]
    assert not Release.objects.exists()


@pytest.mark.parametrize("change", [{"sequence": "7"}, {"sha256": "zz"}, {"type": "Other"}])
def test_a_malformed_offline_manifest_is_refused_as_malformed(acme, acme_model, dora, change):
    response = post_release(dora, acme, acme_model, manifest={**offline(acme, acme_model), **change})
    assert response.status_code == 400 and response.json()["extra"]["reason"] == "malformed"


def test_a_payload_larger_than_the_in_memory_upload_limit_is_hashed_from_its_temporary_file(acme, acme_model, erin):
    big = bytes(range(256)) * (12 * 1024)  # 3 MB: Django spools it to a temporary file (over 2.5 MB)
    manifest = offline(acme, acme_model, data=big)
    response = post_release(erin, acme, acme_model, manifest=manifest, data=big)
    assert response.status_code == 201, response.json()
    assert [p.stat().st_size for p in stored_files()] == [len(big)]
    assert response.json()["sha256"] == manifest["sha256"]


def test_policy_and_cosign_pages(acme, acme_model, dora, erin):
    base = f"/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/"
    keys = "\n".join(k.multibase for k in OFFICERS)
    assert (
        client_for(erin).post(base + "policy", {"critical": "on", "threshold": 1, "officers": keys}).status_code == 403
    )
    bad = client_for(dora).post(base + "policy", {"critical": "on", "threshold": 0, "officers": keys})
    assert bad.status_code == 400 and "at least one" in bad.content.decode()
    assert (
        client_for(dora).post(base + "policy", {"critical": "on", "threshold": 1, "officers": keys}).status_code == 302
    )
    assert "1 of 3 release officers" in client_for(erin).get(base).content.decode()
    assert client_for(erin).post(base, {"payload": upload(), "version": "5.0"}).status_code == 302
    release = Release.objects.get()
    assert release.status == Release.Status.AWAITING
    signed = fw.sign(release.manifest, OFFICERS[1])
    response = client_for(erin).post(
        base + "cosign", {"sequence": 1, "manifest": upload(json.dumps(signed).encode(), "m.json")}
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.status == Release.Status.PUBLISHED and len(release.manifest["proof"]) == 2
    other = fw.sign({**release.manifest, "version": "6.0"}, OFFICERS[2])
    response = client_for(erin).post(
        base + "cosign", {"sequence": 1, "manifest": upload(json.dumps(other).encode(), "m.json")}
    )
    assert response.status_code == 400 and "not this release" in response.content.decode()
    missing = client_for(erin).post(base + "cosign", {"sequence": 9, "manifest": upload(b"{}", "m.json")})
    assert missing.status_code == 400


def test_a_payload_over_the_size_limit_is_refused_with_413(acme, acme_model, erin, settings):
    settings.FIRMWARE_MAX_BYTES = 1000
    response = post_release(erin, acme, acme_model, version="9.9")
    assert response.status_code == 413 and "at most 1000" in response.json()["message"]
    assert not Release.objects.exists() and stored_files() == []
