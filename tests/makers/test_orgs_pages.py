"""The organisation pages: create (with clear errors), my organisations, the profile link, the public profile,
the settings page, and key rotation's confirmation."""

from __future__ import annotations

import pytest

from makers import orgs
from makers.models import Membership, Organisation
from owners.models import Owner
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

FORM = {"name": "Vet & Co", "slug": "vetco", "kind": "vet", "description": "", "website": "", "support_url": ""}


def test_any_signed_in_person_creates_an_organisation_and_becomes_its_admin(carol):
    response = client_for(carol).post("/orgs/new/", FORM)
    assert response.status_code == 302 and response["Location"] == "/orgs/vetco/settings/"
    organisation = Organisation.objects.get(slug="vetco")
    assert organisation.did.endswith(":orgs:vetco")
    assert Membership.objects.get(organisation=organisation).owner == carol
    page = client_for(carol).get("/orgs/")
    assert b"Vet &amp; Co" in page.content and b"Admin" in page.content


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"slug": "Vet Co"}, orgs.SLUG_HELP),
        ({"slug": "join"}, "This address is reserved"),
        ({"name": "x" * 121}, "at most 120 characters"),
        ({"name": ""}, "This field is required"),
        ({"website": "nope"}, "Enter a valid URL"),
        ({"kind": "castle"}, "Select a valid choice"),
        ({"name": "Vet\x00Co"}, "NUL"),
    ],
)
def test_bad_input_on_the_create_page_is_a_400_with_the_reason(carol, changes, message):
    owners = Owner.objects.count()
    response = client_for(carol).post("/orgs/new/", {**FORM, **changes})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Organisation.objects.exists() and Owner.objects.count() == owners


def test_a_taken_slug_is_a_form_error(acme, carol):
    response = client_for(carol).post("/orgs/new/", {**FORM, "slug": "acme"})
    assert response.status_code == 400
    assert orgs.SLUG_TAKEN in response.content.decode()
    assert Organisation.objects.count() == 1


def test_the_profile_page_links_to_my_organisations(carol):
    assert b'href="/orgs/"' in client_for(carol).get("/profile/").content


def test_the_public_profile_shows_who_the_organisation_is_and_its_models(acme, acme_model, dora, anon_client):
    orgs.organisation_update(
        organisation=acme,
        by=dora,
        description="Grinders since 1921.",
        website="https://acme.example",
        support_url="https://acme.example/support",
    )
    page = anon_client.get("/orgs/acme/").content.decode()
    for text in (
        "Acme Grinders",
        "Manufacturer",
        "Grinders since 1921.",
        "https://acme.example/support",
        acme.did,
        'href="/orgs/acme/did.jsonl"',
        "Grindmaster 3000",
        "09506000134352",
    ):
        assert text in page, text
    assert "Settings and members" not in page


def test_the_settings_page_lists_members_with_roles(acme, erin):
    page = client_for(erin).get("/orgs/acme/settings/").content.decode()
    assert 'data-testid="member-dora"' in page and 'data-testid="member-erin"' in page
    assert "Admin" in page and "Member" in page
    assert "Make an invitation link" not in page, "a member sees no admin forms"


def test_rotation_needs_the_confirmation(acme, dora):
    client = client_for(dora)
    page = client.get("/orgs/acme/keys/")
    assert page.status_code == 200 and b"Rotate the keys" in page.content
    response = client.post("/orgs/acme/keys/", {})
    assert response.status_code == 400
    assert orgs.log_state(acme).version_number == 1
    response = client.post("/orgs/acme/keys/", {"confirm": "on"})
    assert response.status_code == 302
    assert orgs.log_state(acme).version_number == 2


def test_rotation_and_tokens_need_a_recent_login(acme, dora, settings):
    client = client_for(dora)
    settings.RECENT_AUTH_SECONDS = -1
    for url, data in (("/orgs/acme/keys/", {"confirm": "on"}), ("/orgs/acme/tokens/", {"label": "x"})):
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert orgs.log_state(acme).version_number == 1
    assert not acme.tokens.exists()


def test_renaming_the_organisation_renames_its_agent(acme, dora):
    response = client_for(dora).post(
        "/orgs/acme/settings/profile/",
        {"name": "Acme Mills", "kind": "manufacturer", "description": "", "website": "", "support_url": ""},
    )
    assert response.status_code == 302
    from didcomm.services import agent_for_owner

    assert agent_for_owner(Organisation.objects.get(pk=acme.pk).account).label == "Acme Mills"
