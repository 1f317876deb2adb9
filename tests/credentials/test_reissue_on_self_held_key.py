"""Registering a self-held key changes the owner's holder DID: each ownership credential they hold is re-issued
to the new DID and the old one revoked, in the registration's own transaction (owners.signals seam)."""

from __future__ import annotations

import pytest

from credentials.models import OwnershipCredential, StatusList
from credentials.services import CredentialRefused, verifier_session_start
from credentials.verification import verify_document
from owners.keys import owner_register_self_held
from owners.models import OwnerKey
from ssi import credentials as vc
from ssi.didkey import did_key
from ssi.keys import SigningKey
from ssi.webvh import next_key_hash
from tests.credentials.helpers import standing
from twins import services

pytestmark = pytest.mark.django_db


def register(owner) -> SigningKey:
    current, upcoming = SigningKey.generate(), SigningKey.generate()
    owner_register_self_held(owner=owner, public_key=current.multibase, next_hash=next_key_hash(upcoming.multibase))
    return current


def test_each_credential_is_reissued_to_the_new_did_and_the_old_one_revoked(alice, bob):
    mine = [services.twin_create(owner=alice, name=f"Thing {i}") for i in range(2)]
    theirs = services.twin_create(owner=bob, name="Bob's thing")
    before = {twin.pk: standing(twin) for twin in mine}
    bobs = standing(theirs)
    current = register(alice)
    for twin in mine:
        new, old = standing(twin), before[twin.pk]
        old.refresh_from_db()
        assert new.pk != old.pk and new.holder_did == did_key(current.multibase) != old.holder_did
        assert old.revoked_at is not None
        assert verify_document(old.data).verdict == "revoked"
        assert verify_document(new.data).verdict == "valid"
        actions = [e.entry["content"]["action"] for e in twin.history.filter(kind="credential").order_by("seq")]
        assert actions[-2:] == ["revoked", "issued"]
    assert standing(theirs).pk == bobs.pk  # someone else's are left alone


def test_the_owner_presents_the_reissued_credential_with_their_own_key(alice):
    twin = services.twin_create(owner=alice, name="Grinder", model_name="Encore")
    old = standing(twin)
    current = register(alice)
    session = verifier_session_start()
    for credential, verdict in ((standing(twin), "valid"), (old, "revoked")):
        credential.refresh_from_db()
        vp = vc.present([credential.data], current, challenge=session.challenge, domain=session.domain)
        outcome = verify_document(vp, challenge=session.challenge, domain=session.domain)
        assert outcome.verdict == verdict, outcome


def test_registering_again_with_the_same_did_issues_nothing_more(alice):
    twin = services.twin_create(owner=alice, name="Lamp")
    register(alice)
    count = OwnershipCredential.objects.filter(twin=twin).count()
    from credentials.holder_keys import ownership_credentials_reissue

    assert ownership_credentials_reissue(owner=alice) == []
    assert OwnershipCredential.objects.filter(twin=twin).count() == count == 2


def test_a_reissue_that_fails_rolls_the_key_registration_back(alice):
    twin = services.twin_create(owner=alice, name="Full list")
    old = standing(twin)
    StatusList.objects.filter(twin=twin).update(next_index=old.status_list.length)
    keys_before = set(OwnerKey.objects.filter(owner=alice, retired_at__isnull=True).values_list("pk", flat=True))
    with pytest.raises(CredentialRefused):
        register(alice)
    assert set(OwnerKey.objects.filter(owner=alice, retired_at__isnull=True).values_list("pk", flat=True)) == (
        keys_before
    )
    assert standing(twin).pk == old.pk
