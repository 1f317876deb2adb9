"""Ownership credentials: issued by the twin's DID at creation and at transfer, revoked at transfer, in the
change's own transaction."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import transaction

from credentials.models import OwnershipCredential, StatusList
from owners.models import OwnerKey
from ssi import credentials as vc
from ssi.didkey import did_key
from tests.credentials.helpers import published_list, standing
from twins import services
from twins.identity import log_state
from twins.models import HistoryEntry, Twin
from twins.transfer import offer_accept, offer_create

pytestmark = pytest.mark.django_db


def _sell(twin: Twin, seller, buyer) -> None:
    offer = offer_create(twin=twin, seller=seller, redact_kinds=[])
    offer_accept(offer=offer, buyer=buyer)  # platform-held keys on both sides: completes at once


def test_creation_issues_a_credential_the_ssi_verifier_accepts(grinder, alice):
    credential = standing(grinder)
    doc = credential.data
    current = OwnerKey.objects.get(owner=alice, role=OwnerKey.Role.CURRENT, retired_at__isnull=True)
    assert doc["issuer"] == grinder.did
    assert doc["proof"]["verificationMethod"] == f"{grinder.did}#key-1"
    assert doc["credentialSubject"]["id"] == did_key(current.public_multibase)
    assert doc["credentialSubject"]["owns"] == grinder.did
    assert doc["credentialSubject"]["name"] == "Coffee grinder"
    assert "validFrom" in doc and "validUntil" not in doc
    assert doc["credentialStatus"]["type"] == "BitstringStatusListEntry"
    result = vc.verify_credential(
        doc, resolver=vc.log_resolver(log_state(grinder)), status_lists=[published_list(credential)]
    )
    assert result.ok, result.line()


def test_issuing_is_an_entry_in_the_twins_signed_history(grinder):
    entries = HistoryEntry.objects.filter(twin=grinder, kind="credential")
    assert entries.count() == 1
    assert entries.get().entry["content"]["action"] == "issued"


def test_transfer_revokes_the_sellers_and_issues_the_buyers(grinder, alice, bob):
    sellers = standing(grinder)
    _sell(grinder, alice, bob)
    grinder.refresh_from_db()
    sellers.refresh_from_db()
    buyers = standing(grinder)
    assert sellers.revoked and buyers.holder == bob
    # Both happened in the transfer's transaction (test_a_transfer_that_fails_leaves_both_unchanged).
    resolver = vc.log_resolver(log_state(grinder))
    lists = vc.StatusLists([published_list(buyers)])
    old = vc.verify_credential(sellers.data, resolver=resolver, status_lists=lists)
    assert old.verdict is vc.Verdict.REVOKED, old.line()
    new = vc.verify_credential(buyers.data, resolver=resolver, status_lists=lists)
    assert new.ok, new.line()
    assert buyers.status_index != sellers.status_index
    kinds = [e.entry["content"]["action"] for e in HistoryEntry.objects.filter(twin=grinder, kind="credential")]
    assert kinds == ["issued", "revoked", "issued"]


def test_a_transfer_that_fails_leaves_both_unchanged(grinder, alice, bob):
    sellers = standing(grinder)
    document_before = StatusList.objects.get(twin=grinder).document
    with pytest.raises(RuntimeError), transaction.atomic():
        _sell(grinder, alice, bob)
        assert OwnershipCredential.objects.standing().get(twin=grinder).holder == bob  # it happened inside
        raise RuntimeError("the transfer's transaction fails after the event")
    assert standing(grinder) == sellers and not OwnershipCredential.objects.filter(holder=bob).exists()
    assert StatusList.objects.get(twin=grinder).document == document_before


def test_a_rolled_back_creation_issues_nothing(alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.twin_create(owner=alice, name="Ephemeral")
        assert OwnershipCredential.objects.exists()
        raise RuntimeError("rolled back")
    assert not OwnershipCredential.objects.exists()
    assert not StatusList.objects.exists()


def test_backfill_issues_for_older_twins_once(grinder, alice):
    OwnershipCredential.objects.all().delete()
    call_command("issue_ownership_credentials")
    first = standing(grinder)
    call_command("issue_ownership_credentials")
    assert standing(grinder) == first
    assert OwnershipCredential.objects.count() == 1
    # The backfilled bit is a new one: indices are never reused.
    assert first.status_index == 1
