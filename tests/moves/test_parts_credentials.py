"""The credentials part of a move: the status list keeps its id, bits and next index; what the twin issued to
accounts of the source is revoked on the way in; once the twin is live here its new owner holds the ownership
credential, issued by the twin's DID on this host, on a fresh bit, the list signed again here."""

# ruff: noqa: F811 (pytest fixtures imported by name from other test modules)
from __future__ import annotations

import json

import pytest

from credentials.keepers import access_credential_issue
from credentials.models import AccessCredential, OwnershipCredential, StatusList
from credentials.portability import export
from credentials.services import holder_did
from credentials.verification import verify_document
from ssi import statuslist
from tests.moves.test_parts_harness import (  # noqa: F401 (on_a and mover are fixtures)
    B_DOMAIN,
    B_URL,
    assert_portable,
    mover,
    on_a,
)
from twins import access
from twins import services as twin_services

pytestmark = [pytest.mark.django_db, pytest.mark.needs("credentials"), pytest.mark.usefixtures("on_a")]


@pytest.fixture
def kept(alice, carol):
    """Alice's grinder (ownership credential on bit 0) with carol as its keeper (bit 1)."""
    twin = twin_services.twin_create(owner=alice, name="Coffee grinder")
    access_credential_issue(
        twin=twin, issued_by=alice, holder=carol, role="keeper", capabilities=[access.READINGS_WRITE]
    )
    return twin


def _bits(twin) -> statuslist.Bitstring:
    return statuslist.Bitstring.from_bytes(bytes(StatusList.objects.get(twin=twin).bits))


def test_the_status_list_comes_back_with_its_id_and_index_and_what_stood_is_revoked(mover, kept, bob):
    before = export(kept)
    assert before["revoke"] == [0, 1] and before["status_list"]["next_index"] == 2
    _, moved = mover(kept, to_owner=bob)
    after = export(moved)
    assert after["status_list"]["public_id"] == before["status_list"]["public_id"]
    assert after["status_list"]["next_index"] == 2
    bits = _bits(moved)
    assert bits.test(0) and bits.test(1)
    assert after["revoke"] == []  # the rows stay with their holders on the source
    assert not OwnershipCredential.objects.filter(twin=moved).exists()
    assert not AccessCredential.objects.filter(twin=moved).exists()


def test_on_arrival_the_new_owner_holds_the_ownership_credential_issued_here(mover, kept, bob, on_a):
    _, moved = mover(kept, to_owner=bob, activate=True)
    (credential,) = OwnershipCredential.objects.filter(twin=moved)
    assert credential.holder == bob and credential.holder_did == holder_did(bob) and credential.revoked_at is None
    assert credential.status_index == 2  # the next bit: none handed out twice
    data = credential.data
    assert data["issuer"] == moved.did and ":b.example.com:" in moved.did
    assert data["credentialSubject"]["owns"] == moved.did
    assert data["credentialStatus"]["statusListCredential"].startswith(B_URL)
    listed = json.loads(StatusList.objects.get(twin=moved).document)
    assert listed["issuer"] == moved.did and listed["id"].startswith(B_URL)
    bits = _bits(moved)
    assert bits.test(0) and bits.test(1) and not bits.test(2)
    on_a.DID_DOMAIN, on_a.SITE_URL = B_DOMAIN, B_URL  # verified where the twin lives now, as a verifier there does
    outcome = verify_document(data)
    assert outcome.ok, outcome.reason


def test_the_package_is_json_and_holds_no_sealed_blob_of_ours(mover, kept, bob):
    package, _ = mover(kept, to_owner=bob)
    assert_portable(package, "credentials")
