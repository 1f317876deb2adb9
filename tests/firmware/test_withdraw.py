"""Withdrawing a firmware release (issue 19): admins only (page and API), idempotent; a withdrawn release is never
offered, refused on acceptance with reason `withdrawn`, not served to devices; owners of things that run it are
told once; its sequence stays used."""

from __future__ import annotations

import pytest

from firmware import services
from firmware.models import Release, UpdateCheck
from makers.access import NotAllowed
from makers.claims import claim
from makers.production import produce
from owners.models import Notification
from ssi import firmware as fw
from ssi.keys import SigningKey
from tests.conftest import api_for, client_for
from tests.firmware.conftest import upload


def publish(model, by, version: str, **kw) -> Release:
    return services.release_publish(model=model, by=by, upload=upload(), version=version, **kw)


def withdraw_url(acme, model) -> str:
    return f"/api/orgs/{acme.slug}/models/{model.gtin}/firmware/withdraw"


def accept(owner, twin, sequence: int):
    return api_for(owner).post(f"/api/things/{twin.slug}/firmware/accept", {"sequence": sequence}, format="json")


def test_an_admin_withdraws_with_the_api_a_member_and_a_stranger_cannot(acme, acme_model, dora, erin, carol):
    publish(acme_model, erin, "1.0")
    url = withdraw_url(acme, acme_model)
    body = {"sequence": 1, "reason": "Bricks grinders with the old motor board."}
    refused = api_for(erin).post(url, body, format="json")
    assert refused.status_code == 403 and "admin" in refused.json()["message"]
    assert api_for(carol).post(url, body, format="json").status_code == 404
    assert api_for(None).post(url, body, format="json").status_code in (401, 403)
    assert Release.objects.get().status == Release.Status.PUBLISHED
    # Bad input: a 400 in words, nothing written.
    empty = api_for(dora).post(url, {"sequence": 1, "reason": "   "}, format="json")
    assert empty.status_code == 400 and "reason" in empty.json()["message"]
    assert api_for(dora).post(url, {"sequence": 1}, format="json").status_code == 400
    assert api_for(dora).post(url, {"sequence": 1, "reason": "x" * 501}, format="json").status_code == 400
    missing = api_for(dora).post(url, {"sequence": 7, "reason": "no"}, format="json")
    assert missing.status_code == 404 and "no release" in missing.json()["message"]
    assert Release.objects.get().status == Release.Status.PUBLISHED
    done = api_for(dora).post(url, body, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "withdrawn" and done.json()["withdrawal_reason"] == body["reason"]
    release = Release.objects.get()
    assert release.withdrawn_by == dora and release.withdrawn_at is not None
    # Idempotent: again is a 200 and the first reason stays.
    again = api_for(dora).post(url, {"sequence": 1, "reason": "Another reason"}, format="json")
    assert again.status_code == 200 and again.json()["withdrawal_reason"] == body["reason"]
    assert Release.objects.get().withdrawn_at == release.withdrawn_at
    listed = api_for(erin).get(f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/").json()
    assert [(r["sequence"], r["status"]) for r in listed] == [(1, "withdrawn")]


def test_an_admin_withdraws_on_the_releases_page_and_a_member_cannot(acme, acme_model, dora, erin):
    publish(acme_model, erin, "1.0")
    base = f"/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/"
    assert 'data-testid="withdraw-1"' not in client_for(erin).get(base).content.decode()
    assert 'data-testid="withdraw-1"' in client_for(dora).get(base).content.decode()
    member = client_for(erin).post(base + "withdraw", {"sequence": 1, "reason": "bad"})
    assert member.status_code == 403 and "admin" in member.content.decode()
    blank = client_for(dora).post(base + "withdraw", {"sequence": 1, "reason": ""})
    assert blank.status_code == 400 and "Nothing was withdrawn" in blank.content.decode()
    assert client_for(dora).post(base + "withdraw", {"sequence": 5, "reason": "bad"}).status_code == 400
    assert Release.objects.get().status == Release.Status.PUBLISHED
    response = client_for(dora).post(base + "withdraw", {"sequence": 1, "reason": "Overheats the motor"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "is withdrawn" in page and "Overheats the motor" in page and 'data-testid="withdrawn-1"' in page
    assert 'data-testid="withdraw-1"' not in page  # nothing left to withdraw
    assert Release.objects.get().status == Release.Status.WITHDRAWN


def test_a_withdrawn_release_is_not_offered_and_acceptance_is_refused_with_reason_withdrawn(
    alices_grinder, acme_model, dora, erin, alice
):
    publish(acme_model, erin, "1.0")
    second = publish(acme_model, erin, "1.1")
    services.release_withdraw(release=second, by=dora, reason="Drains the battery")
    client = client_for(alice)
    page = client.get(f"/things/{alices_grinder.slug}/").content.decode()
    # The newest *published* release is offered, not the withdrawn one above it.
    assert "An update is available" in page and "Check and accept 1.0" in page and "1.1" not in page
    status = api_for(alice).get(f"/api/things/{alices_grinder.slug}/firmware/").json()
    assert status["newest"]["sequence"] == 1 and status["update_available"]
    stale = Release.objects.get(pk=second.pk)
    services.release_withdraw(release=stale, by=dora, reason="ignored: withdrawn already")
    # A row read before the withdrawal is refused too (the service reads the status again).
    stale.status = Release.Status.PUBLISHED
    assert services.update_accept(twin=alices_grinder, release=stale, by=alice).reason == "withdrawn"
    UpdateCheck.objects.filter(twin=alices_grinder).delete()
    refused = accept(alice, alices_grinder, 2)
    assert refused.status_code == 409 and refused.json()["extra"]["reason"] == "withdrawn"
    assert "Drains the battery" in refused.json()["message"]
    check = UpdateCheck.objects.get(twin=alices_grinder)
    assert check.outcome == "refused" and check.reason == "withdrawn"
    page = client.get(f"/things/{alices_grinder.slug}/").content.decode()
    assert "withdrawn: The maker withdrew 1.1" in page
    # The page's form refuses it too, and says why.
    flash = client.post(f"/things/{alices_grinder.slug}/firmware/accept", {"sequence": 2}, follow=True)
    assert "refused (withdrawn)" in flash.content.decode()
    assert accept(alice, alices_grinder, 1).status_code == 200
    assert "Update available" not in client.get("/things/").content.decode()
    # Nothing published above what it accepted: no card badge, no offer, even with a withdrawn release above.
    third = publish(acme_model, erin, "1.2")
    assert "Update available" in client.get("/things/").content.decode()
    services.release_withdraw(release=third, by=dora, reason="Wrong build")
    assert "Update available" not in client.get("/things/").content.decode()
    assert "An update is available" not in client.get(f"/things/{alices_grinder.slug}/").content.decode()


def test_device_urls_do_not_serve_a_withdrawn_release(alices_grinder, acme_model, dora, erin, alice):
    device = client_for(None)
    base = f"/twins/{alices_grinder.slug}/firmware"
    first = publish(acme_model, erin, "1.0")
    assert accept(alice, alices_grinder, 1).status_code == 200
    assert device.get(f"{base}/latest").status_code == 200
    services.release_withdraw(release=first, by=dora, reason="Overheats")
    latest = device.get(f"{base}/latest")
    assert latest.status_code == 404
    assert latest.json()["extra"] == {"reason": "withdrawn", "sequence": 1}
    assert "withdrawn" in latest.json()["message"]
    for url in (f"{base}/payload", f"{base}/payload?sequence=1"):
        gone = device.get(url)
        assert gone.status_code == 410 and gone.json()["extra"]["reason"] == "withdrawn", url
    assert device.head(f"{base}/payload").status_code == 410
    # The owner's page says so.
    page = client_for(alice).get(f"/things/{alices_grinder.slug}/").content.decode()
    assert 'data-testid="firmware-withdrawn"' in page and "Overheats" in page
    # A later release accepted: served again; the withdrawn one's payload stays gone.
    publish(acme_model, erin, "1.1")
    assert accept(alice, alices_grinder, 2).status_code == 200
    assert device.get(f"{base}/latest").json()["sequence"] == 2
    assert device.get(f"{base}/payload?sequence=2").status_code == 200
    assert device.get(f"{base}/payload?sequence=1").status_code == 410


def test_owners_of_things_that_run_it_are_told_once(
    alices_grinder, acme_model, dora, erin, alice, bob, django_capture_on_commit_callbacks
):
    ((other, code),) = produce(model=acme_model, serials=["G-2"], by=None)
    claim(twin=other.twin, buyer=bob, code=code)
    release = publish(acme_model, erin, "1.0")
    assert accept(alice, alices_grinder, 1).status_code == 200  # bob's grinder never accepted it
    with django_capture_on_commit_callbacks(execute=True):
        services.release_withdraw(release=release, by=dora, reason="Overheats the motor")
    with django_capture_on_commit_callbacks(execute=True):
        services.release_withdraw(release=release, by=dora, reason="Overheats the motor")  # idempotent
    told = Notification.objects.filter(title__contains="was withdrawn")
    assert [(n.owner, n.twin) for n in told] == [(alice, alices_grinder)]
    assert "Overheats the motor" in told.get().body and told.get().action_url == f"/things/{alices_grinder.slug}/"
    assert services.withdrawal_announce(release.pk) == 0  # once per release
    assert Release.objects.get().withdrawal_told_at is not None


def test_the_sequence_of_a_withdrawn_release_stays_used(acme, acme_model, dora, erin):
    first = publish(acme_model, erin, "1.0")
    with pytest.raises(services.FirmwareRefused, match="Say why"):
        services.release_withdraw(release=first, by=dora, reason=" \n ")
    with pytest.raises(NotAllowed, match="admin"):
        services.release_withdraw(release=first, by=erin, reason="Bad")
    services.release_withdraw(release=first, by=dora, reason="Bad")
    response = api_for(erin).post(
        f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/",
        {"payload": upload(), "version": "1.0-fixed", "sequence": 1},
        format="multipart",
    )
    assert response.status_code == 409 and response.json()["extra"]["reason"] == "rollback"
    assert publish(acme_model, erin, "1.0.1").sequence == 2
    assert Release.objects.count() == 2


def test_withdrawing_a_release_awaiting_cosignatures_cancels_it(
    acme, acme_model, dora, erin, django_capture_on_commit_callbacks
):
    officer = SigningKey.from_seed(b"\x51" * 32)
    services.policy_set(model=acme_model, by=dora, critical=True, threshold=1, officers=[officer.multibase])
    release = publish(acme_model, erin, "2.0")
    assert release.status == Release.Status.AWAITING
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_for(dora).post(
            withdraw_url(acme, acme_model), {"sequence": 1, "reason": "Superseded"}, format="json"
        )
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert callbacks == []  # nobody was offered it, so nobody is told
    cosign = api_for(erin).post(
        f"/api/orgs/{acme.slug}/models/{acme_model.gtin}/firmware/cosign",
        {"sequence": 1, "manifest": fw.sign(release.manifest, officer)},
        format="json",
    )
    assert cosign.status_code == 409 and cosign.json()["extra"]["reason"] == "withdrawn"
    assert Release.objects.get().status == Release.Status.WITHDRAWN
    assert Release.objects.get().manifest == release.manifest  # the new signature was not added
