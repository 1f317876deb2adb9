"""Service access: alice lets a repairer's account work on her grinder for a few hours. Exactly what the
credential lists is allowed; it needs an end; revoking it (the job is done) ends it on the next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import keepers
from credentials.models import AccessCredential
from credentials.services import CredentialRefused
from credentials.verification import verify_document
from tests.conftest import api_for, client_for, make_owner
from twins import access
from twins import services as twin_services
from twins.models import JournalNote

pytestmark = pytest.mark.django_db


@pytest.fixture
def repairer(db):
    return make_owner("fixit")


def give(twin, holder, capabilities, hours=4) -> AccessCredential:
    return keepers.access_credential_issue(
        twin=twin,
        issued_by=twin.owner,
        holder=holder,
        role=AccessCredential.Role.SERVICE,
        capabilities=capabilities,
        expires_at=timezone.now() + timedelta(hours=hours),
    )


def test_the_owner_gives_service_access_with_the_capabilities_she_ticks(alice_client, grinder, repairer):
    response = alice_client.post(
        f"/things/{grinder.slug}/service-access/",
        {"username": "fixit", "capabilities": [access.READINGS_READ, access.JOURNAL_WRITE], "hours": "6"},
    )
    assert response.status_code == 302
    credential = AccessCredential.objects.get(twin=grinder, holder=repairer)
    assert credential.role == "service"
    assert credential.capabilities == [access.READINGS_READ, access.JOURNAL_WRITE]
    document = credential.data
    assert "ServiceAccessCredential" in document["type"]
    assert document["credentialSubject"]["allows"] == [access.READINGS_READ, access.JOURNAL_WRITE]
    assert document["validUntil"]
    assert verify_document(document).verdict == "valid"


def test_service_access_without_an_end_is_refused(alice_client, grinder, repairer):
    response = alice_client.post(
        f"/things/{grinder.slug}/service-access/", {"username": "fixit", "capabilities": [access.READINGS_READ]}
    )
    assert response.status_code == 400
    with pytest.raises(CredentialRefused, match="needs an end"):
        keepers.access_credential_issue(
            twin=grinder, issued_by=grinder.owner, holder=repairer, role="service", capabilities=[access.VIEW]
        )
    assert not AccessCredential.objects.exists()


def test_an_unknown_capability_is_refused(grinder, repairer):
    with pytest.raises(CredentialRefused):
        give(grinder, repairer, ["owner"])
    with pytest.raises(CredentialRefused):
        give(grinder, repairer, ["transfer"])


def test_exactly_what_it_lists_is_allowed(grinder, repairer):
    note = twin_services.note_create(twin=grinder, title="Descaled")
    twin_services.reading_add(twin=grinder, value=12)
    give(grinder, repairer, [access.READINGS_READ, access.JOURNAL_WRITE])
    api, client = api_for(repairer), client_for(repairer)
    # Listed: read readings, write the journal.
    assert api.get(f"/api/things/{grinder.slug}/readings/").json()["count"] == 1
    assert api.get(f"/api/things/{grinder.slug}/readings/series").status_code == 200
    created = api.post(f"/api/things/{grinder.slug}/journal/", {"title": "Replaced burrs"}, format="json")
    assert created.status_code == 201
    assert api.patch(f"/api/things/{grinder.slug}/journal/{note.pk}/", {"text": "ok"}, format="json").status_code == 200
    # Not listed: add readings, read the journal, open the page; never the owner's routes.
    assert api.post(f"/api/things/{grinder.slug}/readings/", {"value": 1}, format="json").status_code == 404
    assert api.get(f"/api/things/{grinder.slug}/journal/").status_code == 404
    assert api.get(f"/api/things/{grinder.slug}/journal/{note.pk}/").status_code == 404
    assert client.get(f"/things/{grinder.slug}/").status_code == 404
    assert api.get(f"/api/things/{grinder.slug}/").status_code == 404
    assert api.post(f"/api/things/{grinder.slug}/archive").status_code == 404
    assert client.get(f"/things/{grinder.slug}/transfer/").status_code == 404
    assert JournalNote.objects.filter(twin=grinder).count() == 2


def test_the_page_shows_only_the_listed_sections(grinder, repairer):
    twin_services.reading_add(twin=grinder, value=12)
    twin_services.note_create(twin=grinder, title="Secret journal line")
    give(grinder, repairer, [access.VIEW, access.READINGS_READ])
    page = client_for(repairer).get(f"/things/{grinder.slug}/").content.decode()
    assert 'data-testid="readings"' in page
    assert "Secret journal line" not in page and "Add reading" not in page and "Add a note" not in page


def test_a_service_party_sees_the_thing_among_its_cards_with_a_service_badge_and_no_reading(grinder, repairer):
    twin_services.reading_add(twin=grinder, value=12.75)
    give(grinder, repairer, [access.VIEW])
    page = client_for(repairer).get("/things/").content.decode()
    assert "Coffee grinder" in page and 'data-testid="access-badge">service</span>' in page
    assert "12.75" not in page  # its readings are not his to read


def test_a_service_access_without_the_page_gives_no_card(grinder, repairer):
    give(grinder, repairer, [access.READINGS_READ])
    assert "Coffee grinder" not in client_for(repairer).get("/things/").content.decode()


def test_the_service_card_goes_at_the_end_of_the_time_box(grinder, repairer):
    credential = give(grinder, repairer, [access.VIEW])
    AccessCredential.objects.filter(pk=credential.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "Coffee grinder" not in client_for(repairer).get("/things/").content.decode()


def test_a_keeper_credential_wins_the_badge_over_a_service_one(grinder, repairer):
    give(grinder, repairer, [access.VIEW])
    keepers.access_credential_issue(
        twin=grinder,
        issued_by=grinder.owner,
        holder=repairer,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
    )
    page = client_for(repairer).get("/things/").content.decode()
    assert page.count('data-testid="access-badge"') == 1 and 'data-testid="access-badge">keeper</span>' in page


def test_a_revoked_service_credential_loses_access_on_the_next_request(grinder, repairer, alice_client):
    credential = give(grinder, repairer, [access.READINGS_READ])
    api = api_for(repairer)
    assert api.get(f"/api/things/{grinder.slug}/readings/").status_code == 200
    alice_client.post(f"/things/{grinder.slug}/access/revoke/", {"credential": str(credential.pk)})
    assert api.get(f"/api/things/{grinder.slug}/readings/").status_code == 404
    credential.refresh_from_db()
    assert credential.revoked and verify_document(credential.data).verdict == "revoked"


def test_an_expired_service_credential_gives_nothing(grinder, repairer):
    credential = give(grinder, repairer, [access.READINGS_READ])
    AccessCredential.objects.filter(pk=credential.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_for(repairer).get(f"/api/things/{grinder.slug}/readings/").status_code == 404


def test_a_credential_issued_by_a_previous_owner_gives_nothing(grinder, repairer, carol):
    credential = give(grinder, repairer, [access.READINGS_READ])
    # Even were a sale's revocation missed, only the current owner's credentials count.
    type(grinder).objects.filter(pk=grinder.pk).update(owner=carol)
    assert not AccessCredential.objects.get(pk=credential.pk).revoked
    assert api_for(repairer).get(f"/api/things/{grinder.slug}/readings/").status_code == 404
