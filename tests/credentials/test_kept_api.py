"""GET /api/things/ for a keeper or a service party: their kept things are listed beside their own, marked with
their role, carrying only what the credential lets them see; the owner's list is unchanged; the schema says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from credentials import keepers
from credentials.models import AccessCredential
from tests.conftest import api_for
from twins import access
from twins import services as twin_services

pytestmark = pytest.mark.django_db

OWNER_ONLY_FIELDS = {"contact_email", "contact_phone", "contact_name", "use_profile_contact", "tag_count", "url"}


def issue(twin, holder, role=AccessCredential.Role.KEEPER, capabilities=keepers.KEEPER_CAPABILITIES, hours=None):
    return keepers.access_credential_issue(
        twin=twin,
        issued_by=twin.owner,
        holder=holder,
        role=role,
        capabilities=capabilities,
        expires_at=timezone.now() + timedelta(hours=hours) if hours else None,
    )


@pytest.fixture
def contact_grinder(grinder):
    grinder.contact_phone = "+44 7700 900456"
    grinder.contact_email = "alice-private@example.com"
    grinder.save()
    twin_services.reading_add(twin=grinder, value=12.75)
    return grinder


def rows_of(owner) -> list[dict]:
    response = api_for(owner).get("/api/things/")
    assert response.status_code == 200
    return response.json()["results"]


def test_a_keeper_gets_the_kept_thing_marked_keeper_beside_his_own(contact_grinder, bob):
    twin_services.twin_create(owner=bob, name="Bob's tractor")
    issue(contact_grinder, bob)
    rows = {row["name"]: row for row in rows_of(bob)}
    assert rows["Bob's tractor"]["role"] == "owner" and "tag_count" in rows["Bob's tractor"]
    kept = rows["Coffee grinder"]
    assert kept["role"] == "keeper" and kept["id"] == contact_grinder.slug
    assert kept["latest"]["value"] == 12.75
    assert kept["readings_url"] == f"/api/things/{contact_grinder.slug}/readings/"
    assert set(kept["allows"]) == set(access.CAPABILITIES)


def test_a_kept_thing_carries_nothing_of_the_owners_private_data(contact_grinder, bob):
    issue(contact_grinder, bob)
    (kept,) = rows_of(bob)
    assert not OWNER_ONLY_FIELDS & set(kept)
    assert "900456" not in str(kept) and "alice-private" not in str(kept)


def test_a_service_party_without_readings_gets_no_latest_value(contact_grinder, bob):
    issue(contact_grinder, bob, AccessCredential.Role.SERVICE, [access.VIEW, access.JOURNAL_READ], hours=2)
    (kept,) = rows_of(bob)
    assert kept["role"] == "service" and kept["latest"] is None and kept["readings_url"] is None
    assert kept["allows"] == sorted([access.VIEW, access.JOURNAL_READ])


def test_a_service_access_without_the_page_is_not_listed(contact_grinder, bob):
    issue(contact_grinder, bob, AccessCredential.Role.SERVICE, [access.READINGS_WRITE], hours=2)
    assert rows_of(bob) == []


def test_a_revoked_keeper_is_not_listed_on_the_next_request(contact_grinder, bob):
    credential = issue(contact_grinder, bob)
    assert len(rows_of(bob)) == 1
    keepers.access_credential_revoke(credential=credential)
    assert rows_of(bob) == []


def test_the_owners_list_marks_her_things_owner_and_shows_no_kept_ones(contact_grinder, bob, alice):
    issue(contact_grinder, bob)
    (own,) = rows_of(alice)
    assert own["role"] == "owner" and own["contact_phone"] == "+44 7700 900456"


def test_the_schema_says_an_entry_is_the_owners_thing_or_a_kept_one(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    entry = schema["components"]["schemas"]["ThingListEntry"]
    assert entry["discriminator"]["propertyName"] == "role"
    assert set(entry["discriminator"]["mapping"]) == {"owner", "keeper", "service"}
    kept = schema["components"]["schemas"]["KeptThing"]["properties"]
    assert "allows" in kept and not OWNER_ONLY_FIELDS & set(kept)
    assert "keeper" in schema["paths"]["/api/things/"]["get"]["description"]
