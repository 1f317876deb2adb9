"""Review finding 5: an owner's things must not be linkable through their public DID logs.

Each thing's log names its owner's per-thing keys (owners.keys.thing_keys, ssi.thing_keys), so two logs share no
key: not in `updateKeys`, not in `nextKeyHashes`, not as a proof's signer. Every log still verifies, with our
verifier and (tests/interop, tests/twins/test_did_webvh_oracle) with the independent did-webvh resolver.
"""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from django.core.management import call_command

from owners.keys import ThingKeys, owner_keys_ensure, owner_register_self_held, owner_signing_key
from owners.models import OwnerKey
from ssi import proofs, webvh
from ssi.keys import SigningKey
from ssi.thing_keys import thing_key
from twins import services
from twins.identity import log_jsonl, log_state
from twins.models import TransferOffer, Twin
from twins.transfer import (
    TransferRefused,
    acceptance_document,
    buyer_keys,
    offer_accept,
    offer_create,
    transfer_complete,
    transfer_prepare,
)
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db


def log_keys(twin: Twin) -> set[str]:
    """Every key and key hash the twin's public did.jsonl shows: updateKeys, nextKeyHashes and proof signers."""
    found: set[str] = set()
    for line in log_jsonl(twin).splitlines():
        entry = json.loads(line)
        params = entry["parameters"]
        found.update(params.get("updateKeys") or [])
        found.update(params.get("nextKeyHashes") or [])
        for proof in entry["proof"]:
            found.add(proof["verificationMethod"].split("#")[-1])
    return found


def make(owner, name: str) -> Twin:
    return services.twin_create(owner=owner, name=name, icon="coffee", reading_kind="grind", reading_unit="setting")


def test_two_things_of_one_owner_share_no_update_keys_or_next_key_hashes_in_their_public_logs(alice):
    kettle, lamp = make(alice, "Kettle"), make(alice, "Lamp")
    assert log_keys(kettle) and log_keys(lamp)
    assert log_keys(kettle).isdisjoint(log_keys(lamp))
    # Nor do they show the owner's root keys.
    roots = owner_keys_ensure(owner=alice)
    shown = {roots[OwnerKey.Role.CURRENT].public_multibase, roots[OwnerKey.Role.NEXT].next_key_hash}
    assert shown.isdisjoint(log_keys(kettle) | log_keys(lamp))
    # Yet each names its owner's keys for it, which the owner's downloadable key file derives.
    current = owner_signing_key(roots[OwnerKey.Role.CURRENT])
    assert log_state(kettle).update_keys == (thing_key(current, kettle.did).multibase,)
    upcoming = owner_signing_key(roots[OwnerKey.Role.NEXT])
    assert log_state(kettle).next_key_hashes == (webvh.next_key_hash(thing_key(upcoming, kettle.did).multibase),)


def test_many_things_made_at_once_share_no_key(alice):
    made = services.twins_create_many(owner=alice, items=[{"name": f"Chair {n}"} for n in range(3)])
    keys = [log_keys(twin) for twin in made]
    assert all(log_state(twin).version_number == 1 for twin in made)
    for i, mine in enumerate(keys):
        for other in keys[i + 1 :]:
            assert mine.isdisjoint(other)


def test_transfer_to_a_buyer_who_owns_another_thing_gives_logs_with_no_key_in_common(alice, bob):
    grinder, alices_lamp = make(alice, "Grinder"), make(alice, "Lamp")
    bobs_kettle = make(bob, "Kettle")
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    grinder.refresh_from_db()
    assert grinder.owner == bob
    assert log_keys(grinder).isdisjoint(log_keys(bobs_kettle))
    # The buyer cannot recognise the seller's other things either: the key the seller revealed to sign the sale
    # is their key for the grinder alone.
    assert log_keys(grinder).isdisjoint(log_keys(alices_lamp))
    assert verify_twin(grinder).ok
    # Bob's keys for the grinder are his per-thing keys, and they still let him sell it on.
    assert log_state(grinder).update_keys == (buyer_keys(bob, grinder).update_key,)
    offer_accept(offer=offer_create(twin=grinder, seller=bob, redact_kinds=[]), buyer=alice)
    grinder.refresh_from_db()
    assert grinder.owner == alice and verify_twin(grinder).ok


def test_transfer_signed_by_a_stranger_is_still_rejected(alice, bob):
    grinder = make(alice, "Grinder")
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    # Bob accepts, but the seller's key is taken to be one the log did not commit to.
    offer.buyer = bob
    offer.acceptance = proofs.sign_document(
        acceptance_document(offer=offer, keys=buyer_keys(bob, grinder)),
        thing_key(owner_signing_key(owner_keys_ensure(owner=bob)[OwnerKey.Role.CURRENT]), grinder.did),
    )
    offer.status = TransferOffer.Status.AWAITING_SELLER
    offer.save()
    before = log_jsonl(grinder)
    # Alice's root next key (the key every thing of hers named before per-thing keys) is a stranger to this log.
    for stranger in (SigningKey.generate(), owner_signing_key(owner_keys_ensure(owner=alice)[OwnerKey.Role.NEXT])):
        with pytest.raises(TransferRefused) as refused:
            transfer_complete(offer=offer, signer=stranger)
        assert refused.value.status == 403
    assert log_jsonl(grinder) == before


def _self_held(owner) -> tuple[SigningKey, SigningKey]:
    current, upcoming = SigningKey.generate(), SigningKey.generate()
    owner_register_self_held(
        owner=owner, public_key=current.multibase, next_hash=webvh.next_key_hash(upcoming.multibase)
    )
    return current, upcoming


def test_self_held_buyer_names_their_own_per_thing_keys_and_signs_the_next_sale_with_them(alice, bob, carol):
    grinder = make(alice, "Grinder")
    bobs_root, bobs_next_root = _self_held(bob)
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    # What `python -m ssi.sign thingkey KEYFILE DID` prints for bob's two key files.
    mine, following = thing_key(bobs_root, grinder.did), thing_key(bobs_next_root, grinder.did)
    document = acceptance_document(
        offer=offer,
        keys=ThingKeys(update_key=mine.multibase, next_key_hash=webvh.next_key_hash(following.multibase)),
    )
    offer_accept(offer=offer, buyer=bob, signed_acceptance=proofs.sign_document(document, mine))
    grinder.refresh_from_db()
    assert grinder.owner == bob
    state = log_state(grinder)
    assert state.update_keys == (mine.multibase,)
    assert bobs_root.multibase not in log_keys(grinder)
    # Bob sells it on: the platform cannot sign for him; he reveals and signs with his per-thing next key.
    sale = offer_accept(offer=offer_create(twin=grinder, seller=bob, redact_kinds=[]), buyer=carol)
    assert sale.status == TransferOffer.Status.AWAITING_SELLER
    with pytest.raises(TransferRefused):  # his root next key is not what the log committed to
        transfer_prepare(offer=sale, seller=bob, revealed_key=bobs_next_root.multibase)
    entries = transfer_prepare(offer=sale, seller=bob, revealed_key=following.multibase)
    signed = [webvh.sign_entry(entry, following) for entry in entries]
    transfer_complete(offer=sale, signed_entries=signed)
    grinder.refresh_from_db()
    assert grinder.owner == carol and verify_twin(grinder).ok


def test_self_held_buyer_naming_keys_not_signed_by_the_named_key_is_refused(alice, bob):
    grinder = make(alice, "Grinder")
    _self_held(bob)
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    named, thief = SigningKey.generate(), SigningKey.generate()
    document = acceptance_document(
        offer=offer,
        keys=ThingKeys(update_key=named.multibase, next_key_hash=webvh.next_key_hash(SigningKey.generate().multibase)),
    )
    with pytest.raises(TransferRefused, match="signed by your current key"):
        offer_accept(offer=offer, buyer=bob, signed_acceptance=proofs.sign_document(document, thief))
    grinder.refresh_from_db()
    assert grinder.owner == alice


# --- twins incepted before per-thing keys ----------------------------------------------------------------------


@pytest.fixture
def legacy(alice, monkeypatch) -> list[Twin]:
    """Two of alice's things incepted as before per-thing keys: both logs name her shared root keys."""
    monkeypatch.setattr("twins.identity.thing_key", lambda root, did: root)
    made = [make(alice, "Old kettle"), make(alice, "Old lamp")]
    monkeypatch.undo()
    roots = owner_keys_ensure(owner=alice)
    for twin in made:
        assert log_state(twin).update_keys == (roots[OwnerKey.Role.CURRENT].public_multibase,)
    assert not log_keys(made[0]).isdisjoint(log_keys(made[1]))
    return made


def oracle_accepts(twin: Twin, tmp_path) -> dict:
    from did_webvh.history import load_local_history
    from did_webvh.resolver import resolve

    path = tmp_path / f"{twin.slug}.jsonl"
    path.write_text(log_jsonl(twin))
    _, meta = asyncio.run(load_local_history(path, verify_proofs=True))
    result = asyncio.run(resolve(twin.did, local_history=path))
    serialized = result if isinstance(result, dict) else result.serialize()
    assert serialized["didDocument"]["id"] == twin.did, serialized
    return meta.serialize()


def test_a_thing_on_shared_keys_still_sells_and_its_buyer_gets_per_thing_keys(legacy, alice, bob, tmp_path):
    kettle, _ = legacy
    offer_accept(offer=offer_create(twin=kettle, seller=alice, redact_kinds=[]), buyer=bob)
    kettle.refresh_from_db()
    assert kettle.owner == bob and verify_twin(kettle).ok
    assert log_state(kettle).update_keys == (buyer_keys(bob, kettle).update_key,)
    assert oracle_accepts(kettle, tmp_path)["versionNumber"] == 3


def test_the_command_moves_things_on_shared_keys_to_per_thing_keys_and_old_history_still_verifies(
    legacy, alice, bob, tmp_path
):
    out = io.StringIO()
    call_command("twins_thing_keys", stdout=out)
    assert out.getvalue().strip() == "2 moved to per-thing keys, 0 left as they were, 0 failed"
    kettle, lamp = (Twin.objects.get(pk=twin.pk) for twin in legacy)
    for twin in (kettle, lamp):
        state = log_state(twin)
        assert state.version_number == 3
        assert state.update_keys == (buyer_keys(alice, twin).update_key,)
        assert state.next_key_hashes == (buyer_keys(alice, twin).next_key_hash,)
        assert verify_twin(twin).ok
        assert oracle_accepts(twin, tmp_path)["versionNumber"] == 3
    # From here on they share nothing new: what the two logs have in common is their old entries only.
    new = [{*state.update_keys, *state.next_key_hashes} for state in (log_state(kettle), log_state(lamp))]
    assert new[0].isdisjoint(new[1])
    # Again: nothing to do.
    call_command("twins_thing_keys", stdout=(again := io.StringIO()))
    assert again.getvalue().strip() == "0 moved to per-thing keys, 2 left as they were, 0 failed"
    # And the platform still signs their sale, with alice's key for that thing.
    offer_accept(offer=offer_create(twin=kettle, seller=alice, redact_kinds=[]), buyer=bob)
    kettle.refresh_from_db()
    assert kettle.owner == bob and verify_twin(kettle).ok
