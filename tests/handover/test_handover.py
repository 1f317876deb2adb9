"""A handover: many things to one buyer, one acceptance, one rotation per twin, all or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from handover import services as handover_services
from handover.models import Handover, HandoverThing
from handover.services import HandoverRefused, acceptance_document, handover_accept, handover_cancel, handover_create
from owners.keys import owner_keys_ensure, owner_register_self_held, owner_signing_key, thing_keys
from owners.models import Notification, OwnerKey
from ssi import proofs, webvh
from ssi.keys import SigningKey
from ssi.sign import sign_json
from ssi.thing_keys import derive_key, thing_key
from tests.handover.conftest import did_logs, fresh, oracle_resolves
from twins import events
from twins import services as twin_services
from twins.identity import agent_key, log_state
from twins.models import HistoryEntry, TransferOffer
from twins.transfer import TransferRefused, offer_create
from twins.verification import verify_twin

pytestmark = pytest.mark.django_db


def bob_keys_for(bob, twin):
    """Bob's keys for one thing (per thing: owners.keys.thing_keys)."""
    return thing_keys(owner_keys_ensure(owner=bob), twin.did)


def _offer(herd, alice, **kwargs) -> Handover:
    return handover_create(seller=alice, twins=herd, redact_kinds=kwargs.pop("redact_kinds", ["note"]), **kwargs)


# --- the happy path ---------------------------------------------------------------------------------------


def test_one_acceptance_moves_every_thing_and_each_did_log_verifies_with_the_did_webvh_resolver(
    herd, alice, bob, tmp_path
):
    agents_before = {twin.pk: agent_key(twin).multibase for twin in herd}
    alice_next_root = owner_signing_key(owner_keys_ensure(owner=alice)[OwnerKey.Role.NEXT])
    handover = _offer(herd, alice)

    handover = handover_accept(handover=handover, buyer=bob)

    assert handover.status == Handover.Status.COMPLETED and handover.buyer == bob
    for twin in fresh(herd):
        assert twin.owner == bob
        # Exactly a single transfer's rotation: two entries signed by alice's pre-committed next key for this thing,
        # naming bob's keys for it, and a new agent key in the document.
        state = log_state(twin)
        bob_keys = bob_keys_for(bob, twin)
        alice_next = thing_key(alice_next_root, twin.did).multibase
        assert state.version_number == 3
        assert state.update_keys == (bob_keys.update_key,)
        assert state.next_key_hashes == (bob_keys.next_key_hash,)
        assert [version.signers for version in state.versions[1:]] == [(alice_next,), (alice_next,)]
        assert webvh.assertion_keys(state.document) == (agent_key(twin).multibase,) != (agents_before[twin.pk],)
        # The independent implementation agrees, proofs and all.
        meta = oracle_resolves(twin, tmp_path)
        assert meta["versionNumber"] == 3 and meta["deactivated"] is False
        assert verify_twin(twin).ok


def test_each_thing_gets_a_transfer_history_entry_carrying_the_one_acceptance_that_names_every_did(herd, alice, bob):
    handover = handover_accept(handover=_offer(herd, alice), buyer=bob)

    dids = [twin.did for twin in herd]
    assert handover.acceptance["twins"] == dids
    for twin in fresh(herd):
        entry = HistoryEntry.objects.get(twin=twin, kind=HistoryEntry.Kind.TRANSFER)
        content = entry.entry["content"]
        assert content["acceptance"] == handover.acceptance
        assert content["to"] == [bob_keys_for(bob, twin).update_key]
        assert content["redactedKinds"] == ["note"]
        assert content["didLogVersions"] == [version.version_id for version in log_state(twin).versions[1:]]
        # What the seller chose to remove went; the readings stayed.
        assert not HistoryEntry.objects.filter(twin=twin, kind=HistoryEntry.Kind.NOTE, redacted=False).exists()
        assert HistoryEntry.objects.filter(twin=twin, kind=HistoryEntry.Kind.READING, redacted=False).exists()
    # The acceptance is bob's signature over exactly that document, by his key for this handover alone (derived
    # from his current key and the offer's token): no key of his that shows anywhere else.
    unsigned = {key: value for key, value in handover.acceptance.items() if key != "proof"}
    signer = proofs.verify_proof(unsigned, handover.acceptance["proof"]).multibase
    bob_current = owner_signing_key(owner_keys_ensure(owner=bob)[OwnerKey.Role.CURRENT])
    assert signer == derive_key(bob_current, f"handover:{handover.token}").multibase
    assert unsigned["keys"] == {
        twin.did: {
            "updateKeys": [bob_keys_for(bob, twin).update_key],
            "nextKeyHashes": [bob_keys_for(bob, twin).next_key_hash],
        }
        for twin in herd
    }


def test_each_thing_is_recorded_as_its_own_completed_transfer_and_the_seller_sees_it_as_sold(herd, alice, bob):
    handover = handover_accept(handover=_offer(herd, alice), buyer=bob)

    items = list(HandoverThing.objects.filter(handover=handover).select_related("transfer_offer"))
    assert [item.twin_id for item in items] == [twin.pk for twin in herd]
    for item in items:
        assert item.transfer_offer.status == TransferOffer.Status.COMPLETED
        assert item.transfer_offer.buyer == bob and not item.open
    # One notice each side for the whole handover, not one per thing.
    assert list(Notification.objects.filter(owner=alice).values_list("title", flat=True)) == [
        "3 things now belong to bob"
    ]
    assert list(Notification.objects.filter(owner=bob).values_list("title", flat=True)) == [
        "3 things from alice are yours"
    ]


def test_a_self_held_buyer_accepts_with_one_cli_signed_acceptance(herd, alice, bob):
    current, upcoming = SigningKey.generate(), SigningKey.generate()
    owner_register_self_held(owner=bob, public_key=current.multibase, next_hash=webvh.next_key_hash(upcoming.multibase))
    handover = _offer(herd, alice)
    with pytest.raises(HandoverRefused, match="self-held"):
        handover_accept(handover=handover, buyer=bob)

    keys = handover_services.buyer_keys(bob, handover=handover, twins=herd)
    document = acceptance_document(handover=handover, twins=herd, keys=keys)
    handover_accept(handover=handover, buyer=bob, signed_acceptance=sign_json(document, current, attach=True))

    for twin in fresh(herd):
        assert twin.owner == bob and log_state(twin).update_keys == (current.multibase,)


def test_an_acceptance_that_leaves_out_a_thing_is_refused_and_nothing_changes(herd, alice, bob):
    handover = _offer(herd, alice)
    logs = did_logs(herd)
    current = owner_keys_ensure(owner=bob)[OwnerKey.Role.CURRENT]
    keys = handover_services.buyer_keys(bob, handover=handover, twins=herd)
    document = acceptance_document(handover=handover, twins=herd[:2], keys=keys)
    signed = proofs.sign_document(document, derive_key(owner_signing_key(current), f"handover:{handover.token}"))
    with pytest.raises(HandoverRefused, match="does not match"):
        handover_accept(handover=handover, buyer=bob, signed_acceptance=signed)

    assert did_logs(herd) == logs
    handover.refresh_from_db()
    assert handover.status == Handover.Status.OPEN and handover.buyer is None


# --- all or nothing ------------------------------------------------------------------------------------------


@pytest.fixture
def rotations_seen():
    """The twins whose Transferred event was sent inside the acceptance's transaction (a subscriber that only
    listens), to show that the failure below really came after other things had rotated."""
    seen: list[int] = []

    def listen(event: events.Transferred) -> None:
        seen.append(event.twin_id)

    events.subscribe(events.Transferred, listen, in_transaction=True)
    yield seen
    events.unsubscribe(events.Transferred, listen)


def test_a_thing_deactivated_after_the_offer_makes_the_whole_handover_fail_and_nothing_moves(
    herd, alice, bob, rotations_seen
):
    handover = _offer(herd, alice)
    # The last in lock order, so the first two rotate before it fails.
    twin_services.twin_deactivate(twin=herd[-1])
    logs = did_logs(herd)
    history = {twin.pk: HistoryEntry.objects.filter(twin=twin).count() for twin in herd}
    agents = {twin.pk: agent_key(twin).multibase for twin in fresh(herd)}

    with pytest.raises(HandoverRefused) as refused:
        handover_accept(handover=handover, buyer=bob)

    assert refused.value.status == 409
    assert "Cow 3 was deactivated" in refused.value.message
    assert rotations_seen == [herd[0].pk, herd[1].pk], "the failure came mid-way, after two rotations"
    # Every twin with the seller, every DID log byte-identical, no history added, no key rotated.
    for twin in fresh(herd):
        assert twin.owner == alice
        assert agent_key(twin).multibase == agents[twin.pk]
        assert HistoryEntry.objects.filter(twin=twin).count() == history[twin.pk]
    assert did_logs(herd) == logs
    assert not TransferOffer.objects.filter(twin__in=herd).exists()
    assert not Notification.objects.filter(owner=bob, title__contains="yours").exists()
    # The offer records why, for both sides; its link is used up.
    handover.refresh_from_db()
    assert handover.status == Handover.Status.FAILED and handover.buyer == bob
    assert "Cow 3 was deactivated" in handover.failure
    assert Notification.objects.filter(owner=alice, body__contains="Cow 3 was deactivated").exists()
    assert Notification.objects.filter(owner=bob, body__contains="Cow 3 was deactivated").exists()
    assert not HandoverThing.objects.filter(handover=handover, open=True).exists()


def test_a_thing_given_its_own_offer_after_the_handover_makes_it_fail_and_nothing_moves(herd, alice, bob):
    """offer_create refuses a thing in an open handover (handover.guards); should a single offer exist anyway
    (written straight to the database here), the acceptance still checks each thing and moves none."""
    handover = _offer(herd, alice)
    TransferOffer.objects.create(
        twin=herd[-1], seller=alice, redact_kinds=[], expires_at=timezone.now() + timedelta(days=1)
    )
    logs = did_logs(herd)

    with pytest.raises(HandoverRefused, match="open transfer offer of its own"):
        handover_accept(handover=handover, buyer=bob)

    assert did_logs(herd) == logs
    assert {twin.owner_id for twin in fresh(herd)} == {alice.pk}


def test_a_failure_in_a_features_reaction_mid_way_rolls_every_thing_back(herd, alice, bob):
    """Any error inside the transaction, not only the checks of the handover, undoes every earlier rotation."""
    handover = _offer(herd, alice)
    logs = did_logs(herd)

    def refuse_the_third(event: events.Transferred) -> None:
        if event.twin_id == herd[-1].pk:
            raise RuntimeError("a feature could not follow the thing")

    events.subscribe(events.Transferred, refuse_the_third, in_transaction=True)
    try:
        with pytest.raises(RuntimeError):
            handover_accept(handover=handover, buyer=bob)
    finally:
        events.unsubscribe(events.Transferred, refuse_the_third)

    assert did_logs(herd) == logs
    assert {twin.owner_id for twin in fresh(herd)} == {alice.pk}
    assert not TransferOffer.objects.filter(twin__in=herd).exists()
    handover.refresh_from_db()
    assert handover.status == Handover.Status.OPEN and handover.acceptance is None


# --- who may do what ------------------------------------------------------------------------------------------


def test_a_stranger_cannot_accept_a_used_offer(herd, alice, bob, carol):
    handover = handover_accept(handover=_offer(herd, alice), buyer=bob)
    logs = did_logs(herd)

    with pytest.raises(HandoverRefused) as refused:
        handover_accept(handover=handover, buyer=carol)

    assert refused.value.status == 409 and "already accepted" in refused.value.message
    assert {twin.owner_id for twin in fresh(herd)} == {bob.pk}
    assert did_logs(herd) == logs


def test_carol_cannot_offer_alices_things(herd, carol):
    with pytest.raises(HandoverRefused) as refused:
        handover_create(seller=carol, twins=herd, redact_kinds=[])
    assert refused.value.status == 404
    assert not Handover.objects.exists()


def test_the_seller_cannot_accept_their_own_offer(herd, alice):
    with pytest.raises(HandoverRefused, match="your own offer"):
        handover_accept(handover=_offer(herd, alice), buyer=alice)


def test_a_cancelled_offer_is_refused_and_its_things_may_be_offered_again(herd, alice, bob):
    handover = handover_cancel(handover=_offer(herd, alice), seller=alice)
    assert handover.status == Handover.Status.CANCELLED

    with pytest.raises(HandoverRefused) as refused:
        handover_accept(handover=handover, buyer=bob)
    assert refused.value.status == 410 and "cancelled" in refused.value.message
    assert {twin.owner_id for twin in fresh(herd)} == {alice.pk}
    assert _offer(herd, alice).status == Handover.Status.OPEN


def test_only_the_seller_cancels(herd, alice, carol):
    handover = _offer(herd, alice)
    with pytest.raises(HandoverRefused) as refused:
        handover_cancel(handover=handover, seller=carol)
    assert refused.value.status == 404
    handover.refresh_from_db()
    assert handover.status == Handover.Status.OPEN


def test_an_expired_offer_is_refused_and_no_longer_holds_its_things(herd, alice, bob):
    handover = _offer(herd, alice, days=1)
    Handover.objects.filter(pk=handover.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(HandoverRefused) as refused:
        handover_accept(handover=handover, buyer=bob)
    assert refused.value.status == 410 and "expired" in refused.value.message
    assert {twin.owner_id for twin in fresh(herd)} == {alice.pk}
    # A new handover of the same things marks the old one expired.
    assert _offer(herd, alice).status == Handover.Status.OPEN
    handover.refresh_from_db()
    assert handover.status == Handover.Status.EXPIRED


# --- refusals when offering ----------------------------------------------------------------------------------


def test_things_under_an_open_offer_or_deactivated_are_refused_with_words(herd, alice):
    offer_create(twin=herd[0], seller=alice, redact_kinds=[])
    twin_services.twin_deactivate(twin=herd[1])

    with pytest.raises(HandoverRefused) as refused:
        _offer(fresh(herd), alice)

    assert refused.value.status == 409
    assert refused.value.problems == [
        "Cow 1 already has an open transfer offer of its own. Cancel it first.",
        "Cow 2 is deactivated and can no longer change hands.",
    ]
    assert not Handover.objects.exists()


def test_a_thing_in_another_open_handover_is_refused(herd, alice):
    _offer(herd[:2], alice)
    with pytest.raises(HandoverRefused) as refused:
        _offer(herd[1:], alice)
    assert refused.value.problems == ["Cow 2 is already in another open handover. Cancel that one first."]


def test_a_thing_in_an_open_handover_cannot_also_be_offered_on_its_own(herd, alice):
    handover = _offer(herd[:2], alice)

    with pytest.raises(TransferRefused) as refused:
        offer_create(twin=fresh(herd)[1], seller=alice, redact_kinds=[])

    assert refused.value.status == 409
    assert refused.value.message == "Cow 2 is in an open handover of several things. Cancel that handover first."
    assert not TransferOffer.objects.exists()
    # A thing outside it can; once the handover is cancelled, so can its things.
    offer_create(twin=fresh(herd)[2], seller=alice, redact_kinds=[])
    handover_cancel(handover=handover, seller=alice)
    offer_create(twin=fresh(herd)[1], seller=alice, redact_kinds=[])


def test_an_expired_handover_holds_its_things_no_longer(herd, alice):
    handover = _offer(herd[:1], alice)
    Handover.objects.filter(pk=handover.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    offer = offer_create(twin=fresh(herd)[0], seller=alice, redact_kinds=[])

    assert offer.status == TransferOffer.Status.OPEN


def test_a_selection_over_the_maximum_is_refused(herd, alice, monkeypatch):
    monkeypatch.setattr(handover_services, "MAX_THINGS", 2)
    with pytest.raises(HandoverRefused, match="at most 2 things; you chose 3"):
        _offer(herd, alice)
    with pytest.raises(HandoverRefused, match="at least one thing"):
        handover_create(seller=alice, twins=[], redact_kinds=[])


# --- a self-held seller signs every thing at once --------------------------------------------------------------


@pytest.fixture
def self_held_herd(settings, alice) -> tuple[list, SigningKey]:
    """Alice holds her own keys; three things made since, whose logs commit to her self-held next key."""
    settings.DID_DOMAIN = "example.com:8000"
    current, upcoming = SigningKey.generate(), SigningKey.generate()
    owner_register_self_held(
        owner=alice, public_key=current.multibase, next_hash=webvh.next_key_hash(upcoming.multibase)
    )
    return [twin_services.twin_create(owner=alice, name=f"Calf {i}") for i in (1, 2, 3)], upcoming


def test_a_self_held_seller_signs_every_things_entries_at_once_in_the_cli_format(self_held_herd, alice, bob, tmp_path):
    twins, upcoming = self_held_herd
    handover = handover_accept(handover=_offer(twins, alice), buyer=bob)
    assert handover.status == Handover.Status.AWAITING_SELLER
    assert {twin.owner_id for twin in fresh(twins)} == {alice.pk}, "nothing moves before the seller signs"

    entries = handover_services.handover_prepare(handover=handover, seller=alice, revealed_key=upcoming.multibase)
    assert len(entries) == 6
    signed = [sign_json(entry, upcoming, attach=True) for entry in entries]
    handover = handover_services.handover_sign(handover=handover, seller=alice, signed_entries=signed)

    assert handover.status == Handover.Status.COMPLETED
    for twin in fresh(twins):
        assert twin.owner == bob
        state = log_state(twin)
        assert state.update_keys == (bob_keys_for(bob, twin).update_key,)
        assert [version.signers for version in state.versions[1:]] == [(upcoming.multibase,), (upcoming.multibase,)]
        assert webvh.assertion_keys(state.document) == (agent_key(twin).multibase,)
        assert oracle_resolves(twin, tmp_path)["versionNumber"] == 3


def test_entries_signed_by_another_key_are_refused_and_the_seller_may_sign_again(self_held_herd, alice, bob):
    twins, upcoming = self_held_herd
    handover = handover_accept(handover=_offer(twins, alice), buyer=bob)
    entries = handover_services.handover_prepare(handover=handover, seller=alice, revealed_key=upcoming.multibase)
    logs = did_logs(twins)

    stranger = SigningKey.generate()
    with pytest.raises(HandoverRefused) as refused:
        handover_services.handover_sign(
            handover=handover,
            seller=alice,
            signed_entries=[sign_json(entry, stranger, attach=True) for entry in entries],
        )
    assert refused.value.status == 403 and "Nothing moved" in refused.value.message
    assert did_logs(twins) == logs and {twin.owner_id for twin in fresh(twins)} == {alice.pk}
    handover.refresh_from_db()
    assert handover.status == Handover.Status.AWAITING_SELLER
    # The last entry signed but the list cut short: refused before anything is tried.
    with pytest.raises(HandoverRefused, match="Upload the 6 signed entries"):
        handover_services.handover_sign(
            handover=handover, seller=alice, signed_entries=[sign_json(entries[0], upcoming, attach=True)]
        )

    signed = [sign_json(entry, upcoming, attach=True) for entry in entries]
    handover_services.handover_sign(handover=handover, seller=alice, signed_entries=signed)
    assert {twin.owner_id for twin in fresh(twins)} == {bob.pk}


def test_a_thing_offered_alone_before_the_self_held_seller_signs_fails_the_handover_and_nothing_moves(
    self_held_herd, alice, bob
):
    twins, upcoming = self_held_herd
    handover = handover_accept(handover=_offer(twins, alice), buyer=bob)
    entries = handover_services.handover_prepare(handover=handover, seller=alice, revealed_key=upcoming.multibase)
    # While the handover waits for the seller's signature its things are still held (handover.guards) ...
    with pytest.raises(TransferRefused, match="open handover"):
        offer_create(twin=twins[-1], seller=alice, redact_kinds=[])
    # ... and a single offer that exists anyway (written straight to the database) makes the signing fail.
    TransferOffer.objects.create(
        twin=twins[-1], seller=alice, redact_kinds=[], expires_at=timezone.now() + timedelta(days=1)
    )
    logs = did_logs(twins)

    with pytest.raises(HandoverRefused) as refused:
        handover_services.handover_sign(
            handover=handover,
            seller=alice,
            signed_entries=[sign_json(entry, upcoming, attach=True) for entry in entries],
        )

    assert refused.value.status == 409 and "Calf 3" in refused.value.message
    assert did_logs(twins) == logs and {twin.owner_id for twin in fresh(twins)} == {alice.pk}
    handover.refresh_from_db()
    assert handover.status == Handover.Status.FAILED and "Calf 3" in handover.failure


def test_the_buyer_cannot_accept_twice_and_others_are_told_it_is_taken(self_held_herd, alice, bob, carol):
    twins, _ = self_held_herd
    handover = handover_accept(handover=_offer(twins, alice), buyer=bob)
    with pytest.raises(HandoverRefused, match="when the seller signs"):
        handover_accept(handover=handover, buyer=bob)
    with pytest.raises(HandoverRefused, match="Someone else"):
        handover_accept(handover=handover, buyer=carol)


def test_things_signed_over_with_different_kinds_of_key_go_in_separate_handovers(herd, alice):
    current, upcoming = SigningKey.generate(), SigningKey.generate()
    owner_register_self_held(
        owner=alice, public_key=current.multibase, next_hash=webvh.next_key_hash(upcoming.multibase)
    )
    newer = twin_services.twin_create(owner=alice, name="Calf 9")
    with pytest.raises(HandoverRefused, match="separate handovers"):
        _offer([*herd, newer], alice)
    assert _offer(herd, alice).status == Handover.Status.OPEN
