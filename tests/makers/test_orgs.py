"""Creating an organisation: its account, its first admin, its did:webvh DID (verified by ssi.webvh), key rotation
with pre-rotation, and twins produced before a rotation still handed over to their buyers."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from didcomm.keys import agent_key_of, verkey_of
from didcomm.models import RecipientKey
from didcomm.services import agent_for_owner
from makers import orgs
from makers.access import NotAllowed
from makers.models import Membership, Organisation, OrganisationDidLogEntry
from owners.keys import owner_keys_ensure, owner_signing_key, thing_keys
from owners.models import Owner, OwnerKey
from ssi import webvh
from ssi.thing_keys import thing_key
from twins import services as twin_services
from twins.identity import log_state as twin_log_state
from twins.models import TransferOffer, Twin
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


def active_keys(owner: Owner) -> tuple[OwnerKey, OwnerKey]:
    keys = owner_keys_ensure(owner=owner)
    return keys[OwnerKey.Role.CURRENT], keys[OwnerKey.Role.NEXT]


def test_creation_makes_the_account_the_admin_and_a_did_webvh_log_that_verifies(acme, dora, settings):
    assert Membership.objects.get(organisation=acme, owner=dora).role == Membership.Role.ADMIN
    assert acme.did.startswith("did:webvh:")
    assert acme.did.endswith(f":{settings.DID_DOMAIN.replace(':', '%3A')}:orgs:acme")
    state = orgs.log_state(acme)
    assert state.did == acme.did and state.version_number == 1
    current, upcoming = active_keys(acme.account)
    assert state.update_keys == (current.public_multibase,)
    assert state.next_key_hashes == (upcoming.next_key_hash,)
    assert webvh.verify_jsonl(orgs.log_jsonl(acme)).version_id == state.version_id


def test_the_document_names_the_organisations_agent_and_its_didcomm_endpoint(acme, settings):
    document = orgs.log_state(acme).document
    agent = agent_for_owner(acme.account)
    key = agent_key_of(agent)
    by_id = {vm["id"]: vm["publicKeyMultibase"] for vm in document["verificationMethod"]}
    assert [by_id[ref] for ref in document["assertionMethod"]] == [key.multibase]
    assert [by_id[ref] for ref in document["keyAgreement"]] == [key.to_x25519().public_key.multibase]
    (service,) = document["service"]
    assert service["type"] == "did-communication"
    assert service["serviceEndpoint"] == f"{settings.SITE_URL}/didcomm/"
    # An envelope addressed to the key the document names finds the organisation's agent.
    assert RecipientKey.objects.get(verkey=verkey_of(key)).agent == agent


@pytest.mark.parametrize(
    "slug",
    ["", "ab", "Acme", "1acme", "acme_co", "acme--co", "acme-", "a" * 61, "new", "join", "acme co", "acmé"],
)
def test_a_bad_slug_is_refused_with_the_rule_and_writes_nothing(dora, slug):
    owners_before = Owner.objects.count()
    with pytest.raises(ValidationError) as caught:
        orgs.organisation_create(slug=slug, name="Acme", admin=dora)
    assert caught.value.message_dict["slug"]
    assert not Organisation.objects.exists()
    assert Owner.objects.count() == owners_before


def test_a_duplicate_slug_is_refused_and_leaves_no_second_account(acme, dora):
    owners_before = Owner.objects.count()
    with pytest.raises(ValidationError) as caught:
        orgs.organisation_create(slug="acme", name="Another Acme", admin=dora)
    assert caught.value.message_dict["slug"] == [orgs.SLUG_TAKEN]
    assert Owner.objects.count() == owners_before
    assert OrganisationDidLogEntry.objects.filter(organisation=acme).count() == 1


def test_an_oversize_name_or_a_bad_website_is_refused(dora):
    with pytest.raises(ValidationError) as caught:
        orgs.organisation_create(slug="big", name="x" * 121, admin=dora)
    assert "name" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        orgs.organisation_create(slug="big", name="Big", admin=dora, website="not a url")
    assert "website" in caught.value.message_dict
    assert not Organisation.objects.exists()


def test_two_rotations_reveal_the_committed_keys_and_the_log_verifies(acme, dora):
    first_current, first_next = active_keys(acme.account)
    state = orgs.organisation_keys_rotate(organisation=acme, by=dora)
    second_current, second_next = active_keys(acme.account)
    assert second_current.pk == first_next.pk  # the pre-committed key became current
    assert state.version_number == 2
    assert state.update_keys == (first_next.public_multibase,)
    assert state.next_key_hashes == (second_next.next_key_hash,)
    assert state.latest.signers == (first_next.public_multibase,)
    assert OwnerKey.objects.get(pk=first_current.pk).retired_at is not None

    state = orgs.organisation_keys_rotate(organisation=acme, by=dora)
    third_current, third_next = active_keys(acme.account)
    assert third_current.pk == second_next.pk
    assert state.version_number == 3
    assert state.update_keys == (second_next.public_multibase,)
    assert state.next_key_hashes == (third_next.next_key_hash,)
    verified = webvh.verify_jsonl(orgs.log_jsonl(acme))
    assert verified.version_number == 3 and verified.did == acme.did
    # The document (agent key, endpoint) is unchanged: only who may update changed.
    assert verified.document == verified.versions[0].document


def test_a_member_cannot_rotate_the_keys(acme, erin):
    with pytest.raises(NotAllowed):
        orgs.organisation_keys_rotate(organisation=acme, by=erin)
    assert orgs.log_state(acme).version_number == 1


def test_a_twin_produced_before_two_rotations_is_still_handed_to_its_buyer(acme, dora, bob):
    twin = twin_services.twin_create(owner=acme.account, name="Grindmaster 3000 #1")
    produced_with = twin_log_state(twin)
    orgs.organisation_keys_rotate(organisation=acme, by=dora)
    orgs.organisation_keys_rotate(organisation=acme, by=dora)
    # The twin's log still commits to its key derived from the account's key from before both rotations (now
    # retired).
    (committed,) = [
        key
        for key in OwnerKey.objects.filter(owner=acme.account)
        if webvh.next_key_hash(thing_key(owner_signing_key(key), twin.did).multibase) in produced_with.next_key_hashes
    ]
    assert committed.retired_at is not None

    offer = offer_create(twin=twin, seller=acme.account, redact_kinds=[])
    offer = offer_accept(offer=offer, buyer=bob)
    assert offer.status == TransferOffer.Status.COMPLETED
    twin = Twin.objects.get(pk=twin.pk)
    assert twin.owner_id == bob.pk
    assert twin_log_state(twin).update_keys == (thing_keys(owner_keys_ensure(owner=bob), twin.did).update_key,)


def test_a_twin_produced_after_a_rotation_commits_to_the_new_keys_and_transfers(acme, dora, bob):
    orgs.organisation_keys_rotate(organisation=acme, by=dora)
    current, upcoming = active_keys(acme.account)
    twin = twin_services.twin_create(owner=acme.account, name="Grindmaster 3000 #2")
    state = twin_log_state(twin)
    assert state.update_keys == (thing_key(owner_signing_key(current), twin.did).multibase,)
    assert state.next_key_hashes == (webvh.next_key_hash(thing_key(owner_signing_key(upcoming), twin.did).multibase),)
    offer = offer_accept(offer=offer_create(twin=twin, seller=acme.account, redact_kinds=[]), buyer=bob)
    assert offer.status == TransferOffer.Status.COMPLETED


def test_the_log_is_served_as_did_jsonl_and_did_json(acme, anon_client):
    response = anon_client.get("/orgs/acme/did.jsonl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert webvh.verify_jsonl(response.content.decode()).did == acme.did
    response = anon_client.get("/orgs/acme/did.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/did+json"
    document = json.loads(response.content)
    assert document["id"].startswith("did:web:") and document["id"].endswith(":orgs:acme")
    assert acme.did in document["alsoKnownAs"]
    assert anon_client.get("/orgs/nobody/did.jsonl").status_code == 404


def test_no_private_key_appears_in_the_log(acme):
    text = orgs.log_jsonl(acme)
    account_keys = OwnerKey.objects.filter(owner=acme.account)
    from owners.keys import owner_signing_key

    for key in account_keys:
        assert owner_signing_key(key).private_multibase() not in text
    assert agent_key_of(agent_for_owner(acme.account)).private_multibase() not in text
