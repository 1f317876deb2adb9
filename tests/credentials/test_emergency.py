"""Emergency access: alice, a guardian, opens her father's watch's location and glucose to a rescue service for a
few hours. The link shows exactly those kinds before its end; after the expiry or a revocation it is a 404;
every opening is in the guardian's log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from credentials import emergency
from credentials.models import AccessCredential, EmergencyAccess, EmergencyGrant
from credentials.services import CredentialRefused
from credentials.verification import verify_document
from tests.conftest import client_for
from twins import services as twin_services
from twins.models import HistoryEntry
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def watch(alice):
    watch = twin_services.twin_create(owner=alice, name="Dad's watch", reading_kind="glucose", reading_unit="mmol/L")
    twin_services.reading_add(twin=watch, value=5.4)
    twin_services.reading_add(twin=watch, value=47.2631, kind="location", unit="lat")
    twin_services.reading_add(twin=watch, value=72, kind="pulse", unit="bpm")
    return watch


def open_to_rescue(alice, twins, kinds=("location", "glucose"), hours=4):
    return emergency.emergency_grant_create(
        guardian=alice, recipient="Mountain rescue", twins=twins, kinds=list(kinds), hours=hours
    )


def test_the_link_shows_exactly_the_granted_kinds_before_its_end(alice, watch):
    _grant, token = open_to_rescue(alice, [watch])
    response = Client().get(f"/emergency/{token}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dad&#x27;s watch" in page and "5.4 mmol/L" in page and "47.2631 lat" in page
    assert "pulse" not in page and "72 bpm" not in page
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert watch.slug not in page, "the rescuer learns no private id of the thing"


def test_only_the_tokens_hash_is_stored(alice, watch):
    grant, token = open_to_rescue(alice, [watch])
    assert token not in str(list(EmergencyGrant.objects.values()))
    assert grant.token_hash == emergency.token_hash(token)


def test_the_link_is_a_404_after_its_expiry(alice, watch):
    grant, token = open_to_rescue(alice, [watch])
    assert Client().get(f"/emergency/{token}").status_code == 200
    EmergencyGrant.objects.filter(pk=grant.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert Client().get(f"/emergency/{token}").status_code == 404


def test_the_link_is_a_404_after_revocation_in_one_tap(alice, alice_client, watch):
    grant, token = open_to_rescue(alice, [watch])
    assert Client().get(f"/emergency/{token}").status_code == 200
    response = alice_client.post("/emergency/revoke/", {"grant": grant.public_id})
    assert response.status_code == 302
    assert Client().get(f"/emergency/{token}").status_code == 404
    credential = AccessCredential.objects.get(grant=grant)
    assert credential.revoked and verify_document(credential.data).verdict == "revoked"


def test_an_unknown_token_is_a_404(alice, watch):
    open_to_rescue(alice, [watch])
    assert Client().get("/emergency/not-a-real-token").status_code == 404


def test_the_guardian_sees_every_access(alice, alice_client, watch):
    grant, token = open_to_rescue(alice, [watch])
    for agent in ("Rescue tablet", "Rescue phone"):
        Client(HTTP_USER_AGENT=agent).get(f"/emergency/{token}")
    assert list(EmergencyAccess.objects.filter(grant=grant).values_list("channel", flat=True)) == ["page", "page"]
    page = alice_client.get("/emergency/").content.decode()
    assert page.count('data-testid="access-log-entry"') == 2
    assert "Rescue tablet" in page and "Rescue phone" in page and "Mountain rescue" in page


def test_another_guardian_sees_nothing_of_it_and_cannot_end_it(alice, carol, watch):
    grant, token = open_to_rescue(alice, [watch])
    carol_client = client_for(carol)
    assert "Mountain rescue" not in carol_client.get("/emergency/").content.decode()
    assert carol_client.post("/emergency/revoke/", {"grant": grant.public_id}).status_code == 404
    assert Client().get(f"/emergency/{token}").status_code == 200


def test_the_guardian_makes_a_link_on_the_form_and_sees_it_once(alice_client, watch):
    response = alice_client.post(
        "/emergency/new/",
        {"recipient": "Mountain rescue", "things": [watch.pk], "kinds": "location, glucose", "hours": "3"},
    )
    assert response.status_code == 200
    link = response.context["link"]
    assert "/emergency/" in link and "no-store" in response["Cache-Control"]
    grant = EmergencyGrant.objects.get()
    assert grant.kinds == ["location", "glucose"]
    assert timedelta(hours=2, minutes=59) < grant.valid_until - timezone.now() <= timedelta(hours=3)
    assert Client().get("/emergency/" + link.rsplit("/", 1)[1]).status_code == 200


def test_the_form_refuses_bad_input_with_reasons(alice_client, watch, carol):
    carols = twin_services.twin_create(owner=carol, name="Carol's")
    cases = [
        {"recipient": "", "things": [watch.pk], "kinds": "location", "hours": "3"},
        {"recipient": "R", "things": [carols.pk], "kinds": "location", "hours": "3"},
        {"recipient": "R", "things": [watch.pk], "kinds": " , ", "hours": "3"},
        {"recipient": "R", "things": [watch.pk], "kinds": "loc<script>", "hours": "3"},
        {"recipient": "R", "things": [watch.pk], "kinds": "location", "hours": "500"},
        {"recipient": "R", "things": ["99999999999999999999999"], "kinds": "location", "hours": "3"},
        {"recipient": "R", "things": [str(2**63)], "kinds": "location", "hours": "3"},
        {"recipient": "R", "things": ["-1"], "kinds": "location", "hours": "3"},
    ]
    for data in cases:
        assert alice_client.post("/emergency/new/", data).status_code == 400, data
    assert not EmergencyGrant.objects.exists()


def test_a_guardian_cannot_open_anothers_thing(alice, carol):
    carols = twin_services.twin_create(owner=carol, name="Carol's")
    with pytest.raises(CredentialRefused):
        open_to_rescue(alice, [carols])
    assert not EmergencyGrant.objects.exists()


def test_the_credential_is_signed_by_each_things_did_and_is_in_its_history(alice, watch):
    grant, _ = open_to_rescue(alice, [watch])
    document = AccessCredential.objects.get(grant=grant).data
    assert document["issuer"] == watch.did and "EmergencyAccessCredential" in document["type"]
    assert document["credentialSubject"]["kinds"] == ["location", "glucose"]
    assert verify_document(document).verdict == "valid"
    contents = [e.entry["content"] for e in HistoryEntry.objects.filter(twin=watch, kind="credential")]
    assert any(c.get("type") == "EmergencyAccessCredential" and c["action"] == "issued" for c in contents)


def test_a_sale_takes_the_thing_out_of_the_link(alice, carol, watch):
    _grant, token = open_to_rescue(alice, [watch])
    offer_accept(offer=offer_create(twin=watch, seller=alice, redact_kinds=[]), buyer=carol)
    page = Client().get(f"/emergency/{token}").content.decode()
    assert "Dad" not in page and "5.4" not in page


@pytest.mark.parametrize("state", ["leaving", "moved"])
def test_an_emergency_link_is_cut_at_once_even_when_one_of_its_things_is_moving_or_moved(alice, alice_client, state):
    from owners.models import Notification
    from twins import leaving
    from twins.models import Twin

    watch = twin_services.twin_create(owner=alice, name="Dad's watch", reading_kind="glucose", reading_unit="mmol/L")
    twin_services.reading_add(twin=watch, value=5.4)
    bike = twin_services.twin_create(owner=alice, name="Bike", reading_kind="glucose", reading_unit="mmol/L")
    grant, token = emergency.emergency_grant_create(
        guardian=alice, recipient="Mountain rescue", twins=[watch, bike], kinds=["glucose"], hours=4
    )
    assert Client().get(f"/emergency/{token}").status_code == 200
    if state == "leaving":
        leaving.freeze(bike, destination_url="https://b.example")
    else:
        Twin.objects.filter(pk=bike.pk).update(moved_to="https://b.example", leaving_to="https://b.example")
    bike_history = HistoryEntry.objects.filter(twin=bike).count()

    response = alice_client.post("/emergency/revoke/", {"grant": grant.public_id})
    assert response.status_code in (200, 302), response.content[:300]
    assert Client().get(f"/emergency/{token}").status_code == 404  # the rescue link is dead
    assert not AccessCredential.objects.filter(grant=grant, revoked_at__isnull=True).exists()
    assert HistoryEntry.objects.filter(twin=watch, kind="credential").latest("seq").entry["content"]["action"] == (
        "revoked"
    )
    assert HistoryEntry.objects.filter(twin=bike).count() == bike_history  # closed here: no entry, no refusal
    told = Notification.objects.filter(owner=alice, title__contains="revoke the emergency access there again")
    assert told.exists() == (state == "leaving")
