"""A twin accepting updates (the server's run of ssi.firmware.verify), what its owner sees, and the device URLs
(`/twins/<slug>/firmware/latest` and the payload, with ETag and Range). The maker rotating its key between two
releases, checked with `python -m ssi.firmware` against the DID log the server publishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from firmware import services
from firmware.models import Release, UpdateCheck
from makers import orgs
from makers.production import produce
from owners.models import Notification, OwnerKey
from ssi import firmware as fw
from tests.conftest import api_for, client_for
from tests.firmware.conftest import PAYLOAD, upload
from twins.models import HistoryEntry, Reading

ROOT = Path(__file__).resolve().parents[2]


def publish(model, by, version: str) -> Release:
    return services.release_publish(model=model, by=by, upload=upload(), version=version)


def cli(tmp_path: Path, manifest: dict, organisation, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    (tmp_path / "fw.bin").write_bytes(PAYLOAD)
    (tmp_path / "did.jsonl").write_text(client_for(None).get(f"/orgs/{organisation.slug}/did.jsonl").content.decode())
    return subprocess.run(
        [sys.executable, "-m", "ssi.firmware", "verify", "m.json", "fw.bin", "--maker", "did.jsonl", *extra],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_owner_sees_an_update_accepts_it_and_history_records_it(alices_grinder, acme_model, erin, alice):
    client = client_for(alice)
    page = client.get(f"/things/{alices_grinder.slug}/").content.decode()
    assert 'data-testid="firmware-panel"' in page and "An update is available" not in page
    publish(acme_model, erin, "1.0")
    page = client.get(f"/things/{alices_grinder.slug}/").content.decode()
    assert "An update is available" in page
    assert "Update available" in client.get("/things/").content.decode()  # the card's badge
    response = client.post(f"/things/{alices_grinder.slug}/firmware/accept", {"sequence": 1})
    assert response.status_code == 302
    entry = HistoryEntry.objects.get(twin=alices_grinder, kind="firmware")
    assert entry.ref_id == UpdateCheck.objects.get(outcome="accepted").pk
    page = client.get(f"/things/{alices_grinder.slug}/").content.decode()
    assert "An update is available" not in page and "1.0 accepted" in page
    assert "Update available" not in client.get("/things/").content.decode()


def test_rollback_and_a_tampered_payload_are_refused_with_their_reasons_and_shown(
    alices_grinder, acme_model, erin, alice
):
    first, second = publish(acme_model, erin, "1.0"), publish(acme_model, erin, "1.1")
    api = api_for(alice)
    url = f"/api/things/{alices_grinder.slug}/firmware/accept"
    assert api.post(url, {"sequence": 2}, format="json").status_code == 200
    response = api.post(url, {"sequence": 1}, format="json")
    assert response.status_code == 409 and response.json()["extra"]["reason"] == "rollback"
    third = publish(acme_model, erin, "1.2")
    Path(third.payload.path).write_bytes(PAYLOAD[:-1] + b"\x00")  # the stored file altered behind our back
    response = api.post(url, {"sequence": 3}, format="json")
    assert response.status_code == 409 and response.json()["extra"]["reason"] == "hash-mismatch"
    status = api.get(f"/api/things/{alices_grinder.slug}/firmware/").json()
    assert status["accepted"]["sequence"] == 2
    assert [c["reason"] for c in status["checks"]] == ["hash-mismatch", "rollback", ""]
    page = client_for(alice).get(f"/things/{alices_grinder.slug}/").content.decode()
    assert "hash-mismatch" in page and "rollback" in page
    assert first.pk and second.pk


def test_the_device_state_is_outdated_then_current_from_its_firmware_sequence_reading(alices_grinder, acme_model, erin):
    publish(acme_model, erin, "1.0")
    publish(acme_model, erin, "1.1")
    Reading.objects.create(twin=alices_grinder, kind=services.READING_KIND, value=1, time=datetime.now(UTC))
    assert (
        api_for(alices_grinder.owner).get(f"/api/things/{alices_grinder.slug}/firmware/").json()["device"] == "outdated"
    )
    Reading.objects.create(twin=alices_grinder, kind=services.READING_KIND, value=2, time=datetime.now(UTC))
    status = api_for(alices_grinder.owner).get(f"/api/things/{alices_grinder.slug}/firmware/").json()
    assert status["device"] == "current" and status["reported_sequence"] == 2


def test_device_urls_serve_the_accepted_manifest_and_payload_with_etag_and_range(
    alices_grinder, acme_model, erin, alice
):
    device = client_for(None)
    base = f"/twins/{alices_grinder.slug}/firmware"
    assert device.get(f"{base}/latest").status_code == 404
    publish(acme_model, erin, "1.0")
    assert device.get(f"{base}/latest").status_code == 404  # published, not yet accepted by this twin
    api_for(alice).post(f"/api/things/{alices_grinder.slug}/firmware/accept", {"sequence": 1}, format="json")
    latest = device.get(f"{base}/latest")
    assert latest.status_code == 200 and latest.json()["sequence"] == 1
    assert device.get(f"{base}/latest", headers={"if-none-match": latest["ETag"]}).status_code == 304
    assert "sequence=1" in latest["Link"]
    whole = device.get(f"{base}/payload")
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == PAYLOAD
    etag = whole["ETag"]
    assert whole["Accept-Ranges"] == "bytes"
    part = device.get(f"{base}/payload", headers={"range": "bytes=10-19"})
    assert part.status_code == 206 and b"".join(part.streaming_content) == PAYLOAD[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(PAYLOAD)}"
    tail = device.get(f"{base}/payload", headers={"range": "bytes=-5"})
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == PAYLOAD[-5:]
    rest = device.get(f"{base}/payload?sequence=1", headers={"range": f"bytes={len(PAYLOAD) - 3}-"})
    assert b"".join(rest.streaming_content) == PAYLOAD[-3:]
    for unsatisfiable in (f"bytes={len(PAYLOAD)}-", "bytes=-0", f"bytes={len(PAYLOAD) + 10}-{len(PAYLOAD) + 20}"):
        response = device.get(f"{base}/payload", headers={"range": unsatisfiable})
        assert response.status_code == 416, unsatisfiable
        assert response["Content-Range"] == f"bytes */{len(PAYLOAD)}"
    # A range we do not serve (inverted, several, another unit, not ASCII digits, longer than any offset) is
    # ignored, as RFC 9110 §14.2 allows: the whole payload, never a 416 for something satisfiable, never a 500.
    for ignored in ("bytes=9-2", "bytes=1-2,5-6", "items=0-1", "bytes=\u00b2-3", "bytes=0-" + "9" * 4400, "bytes=-"):
        response = device.get(f"{base}/payload", headers={"range": ignored})
        assert response.status_code == 200, ignored
        assert b"".join(response.streaming_content) == PAYLOAD
    assert device.get(f"{base}/payload", headers={"if-none-match": "*"}).status_code == 304
    assert device.get(f"{base}/payload?sequence=%C2%B2").status_code == 404  # "²".isdigit() is True in Python
    changed = device.get(f"{base}/payload", headers={"range": "bytes=0-1", "if-range": '"other"'})
    assert changed.status_code == 200  # the resumed download's validator no longer matches: the whole payload
    assert device.get(f"{base}/payload", headers={"if-none-match": etag}).status_code == 304
    assert device.get(f"{base}/payload?sequence=9").status_code == 404
    assert device.get("/twins/no-such-thing/firmware/latest").status_code == 404


def test_rotation_between_two_releases(tmp_path, alices_grinder, acme, acme_model, dora, erin, alice):
    """Release 1 is signed by the key Acme then had; Acme rotates; release 2 is signed by the new key. The stored
    manifest of release 1 is refused against the log now (its key was rotated out: SECURITY 34), the device is
    served it re-attested by the current key (docs/firmware.md; Acme's policy asks for it), which verifies; release
    2 is accepted."""
    services.policy_set(model=acme_model, by=dora, critical=False, threshold=0, officers=[], reattest=True)
    first = publish(acme_model, erin, "1.0")
    api = api_for(alice)
    accept = f"/api/things/{alices_grinder.slug}/firmware/accept"
    assert api.post(accept, {"sequence": 1}, format="json").status_code == 200
    orgs.organisation_keys_rotate(organisation=acme, by=dora)
    first.refresh_from_db()
    refused = cli(tmp_path, first.manifest, acme, "--model", acme_model.gtin)
    assert refused.returncode == 1 and "unauthorised-key" in refused.stdout, refused.stdout
    served = client_for(None).get(f"/twins/{alices_grinder.slug}/firmware/latest").json()
    ok = cli(tmp_path, served, acme, "--model", acme_model.gtin)
    assert ok.returncode == 0, ok.stdout
    again = cli(tmp_path, served, acme, "--model", acme_model.gtin, "--last-sequence", "1")
    assert again.returncode == 1 and "rollback" in again.stdout
    publish(acme_model, erin, "2.0")
    assert api.post(accept, {"sequence": 2}, format="json").status_code == 200
    latest = client_for(None).get(f"/twins/{alices_grinder.slug}/firmware/latest").json()
    assert fw.verify(latest, PAYLOAD, maker=orgs.log_state(acme), class_id=acme_model.gtin, last_sequence=1)
    assert cli(tmp_path, latest, acme, "--last-sequence", "1").returncode == 0


def test_by_default_a_release_signed_only_by_a_rotated_out_key_is_refused_after_the_rotation(
    alices_grinder, acme, acme_model, dora, erin, alice
):
    """A key may be rotated out because it leaked: unless the maker's policy says its releases are re-signed, the
    platform does not carry them on under the new key (SECURITY 34, at the twin and for the device)."""
    first = publish(acme_model, erin, "1.0")
    orgs.organisation_keys_rotate(organisation=acme, by=dora)

    response = api_for(alice).post(f"/api/things/{alices_grinder.slug}/firmware/accept", {"sequence": 1}, format="json")

    assert response.status_code == 409 and response.json()["extra"]["reason"] == "unauthorised-key"
    assert services.device_manifest(Release.objects.get(pk=first.pk)) == first.manifest


def test_a_thing_without_a_makers_model_has_no_firmware(alice, grinder):
    response = api_for(alice).post(f"/api/things/{grinder.slug}/firmware/accept", {"sequence": 1}, format="json")
    assert response.status_code == 409 and "no such release" in response.json()["message"]
    assert api_for(alice).get(f"/api/things/{grinder.slug}/firmware/").json()["model"] is None


def test_a_stranger_cannot_accept_for_alices_thing(alices_grinder, acme_model, erin, carol):
    publish(acme_model, erin, "1.0")
    url = f"/api/things/{alices_grinder.slug}/firmware/accept"
    assert api_for(carol).post(url, {"sequence": 1}, format="json").status_code == 404
    assert client_for(carol).post(f"/things/{alices_grinder.slug}/firmware/accept", {"sequence": 1}).status_code == 404
    assert not UpdateCheck.objects.exists()


def test_security_34_the_twin_refuses_a_release_whose_key_was_rotated_out_when_nobody_may_reattest_it(
    alices_grinder, acme, acme_model, dora, erin, alice
):
    """If the organisation holds its new key itself, the platform cannot re-attest: the old release's only maker
    proof is by a rotated-out key, and the twin refuses it (with the reason, shown to the owner)."""
    publish(acme_model, erin, "1.0")
    orgs.organisation_keys_rotate(organisation=acme, by=dora)
    OwnerKey.objects.filter(owner=acme.account, role=OwnerKey.Role.CURRENT, retired_at__isnull=True).update(
        self_held=True, sealed_seed=None
    )
    response = api_for(alice).post(f"/api/things/{alices_grinder.slug}/firmware/accept", {"sequence": 1}, format="json")
    assert response.status_code == 409 and response.json()["extra"]["reason"] == "unauthorised-key"
    assert not HistoryEntry.objects.filter(twin=alices_grinder, kind="firmware").exists()
    assert "unauthorised-key" in client_for(alice).get(f"/things/{alices_grinder.slug}/").content.decode()
    assert client_for(None).get(f"/twins/{alices_grinder.slug}/firmware/latest").status_code == 404


def test_the_reattested_manifest_is_the_same_on_every_answer(alices_grinder, acme, acme_model, dora, erin, alice):
    publish(acme_model, erin, "1.0")
    api_for(alice).post(f"/api/things/{alices_grinder.slug}/firmware/accept", {"sequence": 1}, format="json")
    orgs.organisation_keys_rotate(organisation=acme, by=dora)
    url = f"/twins/{alices_grinder.slug}/firmware/latest"
    first, second = client_for(None).get(url), client_for(None).get(url)
    assert first.content == second.content and first["ETag"] == second["ETag"]
    assert client_for(None).get(url, headers={"if-none-match": first["ETag"]}).status_code == 304


def test_owners_are_told_once_when_a_release_is_published(
    alices_grinder, acme_model, erin, alice, django_capture_on_commit_callbacks
):
    produce(model=acme_model, serials=["G-2"], by=None)
    with django_capture_on_commit_callbacks(execute=True):
        release = publish(acme_model, erin, "1.0")
    told = Notification.objects.filter(owner=alice, twin=alices_grinder, title__startswith="Firmware")
    assert told.count() == 1 and "Firmware 1.0 is available" in told.get().title
    assert told.get().action_url == f"/things/{alices_grinder.slug}/"
    assert services.release_announce(release.pk) == 0  # once per release
    # The maker's unclaimed stock (another grinder, still the organisation's) is not told.
    assert not Notification.objects.filter(owner=acme_model.organisation.account, title__startswith="Firmware").exists()


def test_a_device_may_ask_for_the_headers_alone(alices_grinder, acme_model, erin, alice):
    publish(acme_model, erin, "1.0")
    api_for(alice).post(f"/api/things/{alices_grinder.slug}/firmware/accept", {"sequence": 1}, format="json")
    head = client_for(None).head(f"/twins/{alices_grinder.slug}/firmware/payload")
    assert head.status_code == 200 and head["Content-Length"] == str(len(PAYLOAD)) and head["ETag"]
    assert client_for(None).post(f"/twins/{alices_grinder.slug}/firmware/payload").status_code == 405
