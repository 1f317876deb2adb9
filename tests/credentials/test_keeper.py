"""Keepers: alice lets bob look after her grinder. He sees it among his things with a keeper badge, opens its page
without her parts, adds readings, movements and journal entries; a revocation, an expiry or a sale ends it on his
very next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import keepers
from credentials.models import AccessCredential
from credentials.services import CredentialRefused
from credentials.verification import verify_document
from ssi import statuslist
from tests.conftest import api_for, client_for
from tests.credentials.helpers import published_list
from twins import services as twin_services
from twins.models import HistoryEntry, JournalNote, Reading
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


def make_keeper(twin, keeper, **options) -> AccessCredential:
    return keepers.access_credential_issue(
        twin=twin,
        issued_by=twin.owner,
        holder=keeper,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
        **options,
    )


@pytest.fixture
def kept(grinder, bob) -> AccessCredential:
    return make_keeper(grinder, bob)


# --- issuing ------------------------------------------------------------------------------------------------


def test_the_owner_makes_a_keeper_by_username_on_the_things_keepers_page(alice_client, grinder, bob):
    response = alice_client.post(f"/things/{grinder.slug}/keepers/", {"username": "Bob", "days": "30"})
    assert response.status_code == 302
    credential = AccessCredential.objects.get(twin=grinder, holder=bob)
    assert credential.role == "keeper" and credential.expires_at > timezone.now() + timedelta(days=29)
    page = alice_client.get(f"/things/{grinder.slug}/keepers/").content.decode()
    assert "bob" in page and "Revoke" in page


def test_an_unknown_username_is_a_400_that_says_what_to_check(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/keepers/", {"username": "nobody-here"})
    assert response.status_code == 400
    assert "no account of that name" in response.content.decode()
    assert not AccessCredential.objects.exists()


def test_the_owner_cannot_make_herself_keeper(alice_client, grinder):
    response = alice_client.post(f"/things/{grinder.slug}/keepers/", {"username": "alice"})
    assert response.status_code == 400
    assert not AccessCredential.objects.exists()


def test_the_keeper_credential_is_a_vc_signed_by_the_things_did_that_verifies(kept, grinder):
    document = kept.data
    assert document["issuer"] == grinder.did
    assert "KeeperCredential" in document["type"]
    assert document["credentialSubject"]["keeps"] == grinder.did
    assert document["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert verify_document(document).verdict == "valid"


def test_issuing_and_revoking_are_history_entries_and_revoking_sets_the_status_bit(kept, grinder):
    entries = HistoryEntry.objects.filter(twin=grinder, kind=HistoryEntry.Kind.CREDENTIAL).order_by("seq")
    assert [e.entry["content"]["action"] for e in entries if "KeeperCredential" in str(e.entry)] == ["issued"]
    keepers.access_credential_revoke(credential=kept)
    actions = [e.entry["content"] for e in entries.all() if e.entry["content"].get("type") == "KeeperCredential"]
    assert [a["action"] for a in actions] == ["issued", "revoked"]
    bits = statuslist.Bitstring.decode(published_list(kept)["credentialSubject"]["encodedList"])
    assert bits.test(kept.status_index)
    assert verify_document(kept.data).verdict == "revoked"


def test_only_the_owner_can_issue(grinder, bob, carol):
    with pytest.raises(CredentialRefused):
        keepers.access_credential_issue(
            twin=grinder, issued_by=bob, holder=carol, role="keeper", capabilities=keepers.KEEPER_CAPABILITIES
        )


# --- what the keeper gets -----------------------------------------------------------------------------------


def test_the_keeper_sees_the_thing_among_his_cards_with_a_keeper_badge(kept, grinder, bob):
    twin_services.twin_create(owner=bob, name="Bob's own kettle")
    page = client_for(bob).get("/things/").content.decode()
    assert "Coffee grinder" in page and "Bob&#x27;s own kettle" in page
    assert page.count('data-testid="access-badge"') == 1
    assert 'data-testid="access-badge">keeper</span>' in page


def test_the_owners_cards_are_unchanged_and_carry_no_badge(kept, alice_client):
    page = alice_client.get("/things/").content.decode()
    assert "Coffee grinder" in page and 'data-testid="access-badge"' not in page


def test_the_keepers_page_shows_readings_and_journal_but_none_of_the_owners_parts(kept, grinder, alice, bob):
    alice.contact_phone = "+44 7700 900123"
    alice.save()
    grinder.contact_email = "grinder-owner@example.org"
    grinder.save()
    twin_services.reading_add(twin=grinder, value=14)
    twin_services.note_create(twin=grinder, title="Burrs cleaned")
    response = client_for(bob).get(f"/things/{grinder.slug}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Burrs cleaned" in page and "Add reading" in page and "Add a note" in page
    assert 'data-testid="access-role"' in page
    for owners_part in (
        "+44 7700 900123",
        alice.email,
        "grinder-owner@example.org",
        "Transfer",
        "Public page",
        "Deactivate",
        "Archive this thing",
        "lost mode",
        f"/things/{grinder.slug}/keepers/",
        f"/things/{grinder.slug}/tags/",
        'id="credentials"',
    ):
        assert owners_part not in page, owners_part


def test_the_keeper_adds_readings_movements_and_journal_entries(kept, grinder, bob):
    client = client_for(bob)
    assert client.post(f"/things/{grinder.slug}/readings/new/", {"value": "15"}).status_code == 302
    api = api_for(bob)
    moved = api.post(f"/api/things/{grinder.slug}/readings/", {"value": 47.26, "kind": "location"}, format="json")
    assert moved.status_code == 201
    assert client.post(f"/things/{grinder.slug}/journal/new/", {"title": "Fed"}).status_code == 302
    note = JournalNote.objects.get(twin=grinder, title="Fed")
    edited = api.patch(f"/api/things/{grinder.slug}/journal/{note.pk}/", {"title": "Fed twice"}, format="json")
    assert edited.status_code == 200
    assert sorted(Reading.objects.filter(twin=grinder).values_list("kind", flat=True)) == ["grind", "location"]
    assert api.get(f"/api/things/{grinder.slug}/readings/").json()["count"] == 2


def test_the_keeper_cannot_delete_a_note_or_read_the_thing_api_with_its_contact_fields(kept, grinder, bob):
    note = twin_services.note_create(twin=grinder, title="Keep")
    api = api_for(bob)
    assert api.delete(f"/api/things/{grinder.slug}/journal/{note.pk}/").status_code == 404
    assert client_for(bob).post(f"/things/{grinder.slug}/journal/{note.pk}/delete/").status_code == 404
    assert api.get(f"/api/things/{grinder.slug}/").status_code == 404
    assert JournalNote.objects.filter(pk=note.pk).exists()


# --- the end of it ------------------------------------------------------------------------------------------


def test_a_revoked_keeper_loses_access_on_the_next_request(kept, grinder, bob, alice_client):
    client, api = client_for(bob), api_for(bob)
    assert client.get(f"/things/{grinder.slug}/").status_code == 200
    assert api.get(f"/api/things/{grinder.slug}/readings/").status_code == 200
    response = alice_client.post(f"/things/{grinder.slug}/access/revoke/", {"credential": str(kept.pk)})
    assert response.status_code == 302
    assert client.get(f"/things/{grinder.slug}/").status_code == 404
    assert api.get(f"/api/things/{grinder.slug}/readings/").status_code == 404
    assert client.post(f"/things/{grinder.slug}/readings/new/", {"value": "1"}).status_code == 404
    assert "Coffee grinder" not in client.get("/things/").content.decode()


def test_an_expired_keeper_credential_gives_nothing(grinder, bob):
    credential = make_keeper(grinder, bob, expires_at=timezone.now() + timedelta(days=1))
    assert client_for(bob).get(f"/things/{grinder.slug}/").status_code == 200
    AccessCredential.objects.filter(pk=credential.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_for(bob).get(f"/things/{grinder.slug}/").status_code == 404


def test_a_sale_revokes_every_keeper_of_the_seller(kept, grinder, alice, carol):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    offer_accept(offer=offer, buyer=carol)
    kept.refresh_from_db()
    assert kept.revoked and kept.revoked_reason == "transfer"
    assert client_for(kept.holder).get(f"/things/{grinder.slug}/").status_code == 404
    assert verify_document(kept.data).verdict == "revoked"


def test_the_buyer_does_not_see_the_sellers_keepers(kept, grinder, alice, carol):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    offer_accept(offer=offer, buyer=carol)
    for page in ("keepers", "service-access"):
        response = client_for(carol).get(f"/things/{grinder.slug}/{page}/")
        assert response.status_code == 200
        assert kept.holder.username not in response.content.decode()
    # Hers again, her own keeper is listed.
    mine = make_keeper(grinder.__class__.objects.get(pk=grinder.pk), alice)
    listed = keepers.credentials_of_twin(twin=mine.twin, role=AccessCredential.Role.KEEPER)
    assert listed == [mine]


def test_a_renewal_revokes_the_old_credential_as_it_issues_the_new(kept, grinder, bob):
    renewed = make_keeper(grinder, bob, expires_at=timezone.now() + timedelta(days=5))
    kept.refresh_from_db()
    assert kept.revoked and not renewed.revoked
    assert AccessCredential.objects.filter(twin=grinder, holder=bob, revoked_at__isnull=True).count() == 1


def test_revoking_anothers_credential_through_ones_own_thing_is_a_404(kept, carol):
    carols = twin_services.twin_create(owner=carol, name="Carol's")
    response = client_for(carol).post(f"/things/{carols.slug}/access/revoke/", {"credential": str(kept.pk)})
    assert response.status_code == 404
    kept.refresh_from_db()
    assert not kept.revoked


def test_a_revoke_without_a_credential_id_is_a_400(kept, grinder, alice_client):
    response = alice_client.post(f"/things/{grinder.slug}/access/revoke/", {"credential": "not-a-uuid"})
    assert response.status_code == 400
