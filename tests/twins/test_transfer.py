"""Owner transfer by key rotation: offers, acceptance, the rotation, and what each side can do afterwards."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from owners.keys import owner_keys_ensure, owner_register_self_held, owner_signing_key
from owners.models import Notification, OwnerKey
from owners.recent_auth import SESSION_KEY
from ssi import proofs, webvh
from ssi.bundle import BundleError, verify_bundle
from ssi.keys import SigningKey
from ssi.sign import sign_json
from ssi.thing_keys import thing_key
from tests.conftest import client_for
from twins import services
from twins.identity import agent_key, log_state
from twins.models import DidLogEntry, HistoryEntry, Reading, TransferOffer, Twin
from twins.transfer import (
    TransferRefused,
    acceptance_document,
    buyer_keys,
    offer_accept,
    offer_cancel,
    offer_create,
    transfer_complete,
)
from twins.verification import export_bundle, verify_twin

pytestmark = pytest.mark.django_db


def _log_snapshot(twin: Twin) -> tuple[int, str]:
    last = DidLogEntry.objects.filter(twin=twin).order_by("-version_number").first()
    return DidLogEntry.objects.filter(twin=twin).count(), last.version_id


@pytest.fixture
def sold(grinder, alice, bob):
    """The grinder with a reading and a note, offered with readings removed, accepted by bob."""
    services.reading_add(twin=grinder, value=12)
    services.note_create(twin=grinder, title="Descaled")
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=["reading"])
    offer = offer_accept(offer=offer, buyer=bob)
    grinder.refresh_from_db()
    return grinder, offer


def test_new_twin_gets_a_did_log_naming_the_creators_keys_with_pre_rotation(grinder, alice):
    state = log_state(grinder)
    keys = owner_keys_ensure(owner=alice)
    assert grinder.did.startswith("did:webvh:") and grinder.did.endswith(f":twins:{grinder.slug}")
    # Alice's keys for the grinder alone (per thing: derived from her root keys and the DID's path).
    assert state.version_number == 1
    assert state.update_keys == (thing_key(owner_signing_key(keys[OwnerKey.Role.CURRENT]), grinder.did).multibase,)
    upcoming = thing_key(owner_signing_key(keys[OwnerKey.Role.NEXT]), grinder.did)
    assert state.next_key_hashes == (webvh.next_key_hash(upcoming.multibase),)
    assert webvh.assertion_keys(state.document) == (agent_key(grinder).multibase,)
    assert state.document["keyAgreement"] and state.document["service"][0]["type"] == "did-communication"


def test_platform_held_transfer_hands_over_in_one_step(sold, alice, bob):
    twin, offer = sold
    assert offer.status == TransferOffer.Status.COMPLETED
    assert twin.owner == bob
    state = log_state(twin)
    bob_keys = buyer_keys(bob, twin)
    assert state.version_number == 3
    assert state.update_keys == (bob_keys.update_key,)
    assert state.next_key_hashes == (bob_keys.next_key_hash,)
    # The seller's pre-committed next key for this thing signed both transfer entries.
    alice_next = thing_key(owner_signing_key(owner_keys_ensure(owner=alice)[OwnerKey.Role.NEXT]), twin.did).multibase
    assert [version.signers for version in state.versions[1:]] == [(alice_next,), (alice_next,)]
    # The twin's own keys rotated with it.
    assert webvh.assertion_keys(state.document) == (agent_key(twin).multibase,)
    assert webvh.assertion_keys(state.versions[0].document) != webvh.assertion_keys(state.document)


def test_transfer_redacts_the_chosen_kinds_and_the_chain_still_verifies(sold):
    twin, _ = sold
    readings = HistoryEntry.objects.filter(twin=twin, kind="reading")
    assert readings.count() == 1 and all(entry.redacted for entry in readings)
    assert "content" not in readings.get().entry and "content_hash" in readings.get().entry
    assert not HistoryEntry.objects.get(twin=twin, kind="note").redacted
    assert Reading.objects.filter(twin=twin).count() == 0
    twin.refresh_from_db()
    assert twin.latest_value is None
    result = verify_twin(twin)
    assert result.ok and result.redacted == 1
    report = verify_bundle(json.loads(json.dumps(export_bundle(twin))))
    assert report.redacted == 1 and report.owner_keys == log_state(twin).update_keys


def test_an_exported_bundle_with_its_last_entries_cut_off_fails_offline(sold):
    """Issue "Proven under load" item 6: the export carries a head signed by the twin's agent key, and the
    offline verifier refuses a history that stops short of it."""
    twin, _ = sold
    data = json.loads(json.dumps(export_bundle(twin)))
    count = len(data["history"])
    assert verify_bundle(data).entries == count
    data["history"] = data["history"][:-1]
    with pytest.raises(BundleError, match=f"the history was cut after entry {count - 1} "):
        verify_bundle(data)


def test_transfer_is_itself_a_history_entry_carrying_the_buyers_countersignature(sold, bob):
    twin, offer = sold
    # The transfer's entry (features may record theirs after it: the buyer's ownership credential).
    entry = HistoryEntry.objects.get(twin=twin, kind="transfer")
    content = entry.entry["content"]
    assert content["acceptance"] == offer.acceptance
    assert content["didLogVersions"] == [line.version_id for line in DidLogEntry.objects.filter(twin=twin)[1:]]
    assert entry.entry["key"] == agent_key(twin).multibase
    assert proofs.verify_proof(content["acceptance"]).multibase == buyer_keys(bob, twin).update_key


FEATURE_PAGES = ("tag-labels", "device-keys", "thing-connections")


def _routed(url_name: str) -> bool:
    try:
        reverse(url_name, args=["x"])
    except NoReverseMatch:
        return False
    return True


def test_seller_loses_every_capability_at_once(sold, alice, bob):
    twin, _ = sold
    Notification.objects.filter(owner=alice).delete()
    message = Notification.objects.create(owner=alice, twin=twin, kind="message", title="Found your grinder")
    seller = client_for(alice)
    for url in (
        reverse("thing", args=[twin.slug]),
        reverse("thing-edit", args=[twin.slug]),
        reverse("thing-export", args=[twin.slug]),
        reverse("thing-transfer", args=[twin.slug]),
        reverse("inbox-item", args=[message.pk]),
        f"/api/things/{twin.slug}/",
        f"/api/things/{twin.slug}/readings/",
        # And the features' pages of the thing, those installed.
        *[
            reverse(name, args=[twin.slug])
            for name in ("tag-labels", "device-keys", "thing-connections")
            if _routed(name)
        ],
    ):
        assert seller.get(url).status_code == 404, url
    assert seller.post(reverse("reading-new", args=[twin.slug]), {"value": "1"}).status_code == 404
    assert twin.slug not in seller.get(reverse("things")).content.decode()
    buyer = client_for(bob)
    assert twin.name in buyer.get(reverse("things")).content.decode()
    assert buyer.get(reverse("thing", args=[twin.slug])).status_code == 200


def test_both_sides_are_notified(sold, alice, bob):
    twin, _ = sold
    assert Notification.objects.filter(owner=alice, title__contains="now belongs to bob").exists()
    assert Notification.objects.filter(owner=bob, twin=twin, title__contains="is yours").exists()


@pytest.mark.needs("tags")
def test_public_page_shows_the_buyers_contact_choices_none_until_set(grinder, alice, bob, grinder_tag):
    alice.contact_name, alice.show_name = "Alice Seller", True
    alice.save()
    services.twin_update(twin=grinder, use_profile_contact=False, contact_phone="+1 555 0100", show_phone=True)
    services.twin_set_lost(twin=grinder, lost=True, reward="Beans")
    offer_accept(offer=offer_create(twin=grinder, seller=alice, redact_kinds=[]), buyer=bob)
    page = client_for(None).get(grinder_tag.get_absolute_url()).content.decode()
    assert "Alice Seller" not in page and "555 0100" not in page and "Beans" not in page
    bob.contact_name, bob.show_name = "Bob Buyer", True
    bob.save()
    assert "Bob Buyer" in client_for(None).get(grinder_tag.get_absolute_url()).content.decode()


@pytest.mark.needs("tags")
def test_tags_follow_the_thing_to_the_buyer(sold, bob):
    from tags.models import Tag

    twin, _ = sold
    tag = Tag.objects.create(twin=twin)
    assert client_for(bob).get(tag.get_absolute_url()).content.decode().count('inputmode="decimal"') == 1


def test_one_open_offer_per_twin_is_enforced_by_the_database(grinder, alice):
    offer_create(twin=grinder, seller=alice, redact_kinds=[])
    with pytest.raises(TransferRefused) as refused:
        offer_create(twin=grinder, seller=alice, redact_kinds=[])
    assert refused.value.status == 409
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferOffer.objects.create(twin=grinder, seller=alice, expires_at=timezone.now() + timedelta(days=1))


def test_buyer_cannot_accept_their_own_offer(grinder, alice):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    with pytest.raises(TransferRefused) as refused:
        offer_accept(offer=offer, buyer=alice)
    assert refused.value.status == 403
    assert _log_snapshot(grinder)[0] == 1


@pytest.mark.parametrize("state", ["used", "expired", "cancelled"])
def test_used_expired_or_cancelled_offer_is_refused_and_changes_nothing(grinder, alice, bob, carol, state):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    if state == "used":
        offer_accept(offer=offer, buyer=bob)
    elif state == "expired":
        TransferOffer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        offer_cancel(offer=offer, seller=alice)
    before = _log_snapshot(grinder)
    with pytest.raises(TransferRefused) as refused:
        offer_accept(offer=offer, buyer=carol)
    assert refused.value.status == (409 if state == "used" else 410)
    assert _log_snapshot(grinder) == before
    grinder.refresh_from_db()
    assert grinder.owner == (bob if state == "used" else alice)


def test_acceptance_not_signed_by_the_buyers_key_is_refused_and_the_log_is_unchanged(grinder, alice, bob):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    stranger_key = SigningKey.generate()
    forged = proofs.sign_document(acceptance_document(offer=offer, keys=buyer_keys(bob, grinder)), stranger_key)
    before = _log_snapshot(grinder)
    with pytest.raises(TransferRefused) as refused:
        offer_accept(offer=offer, buyer=bob, signed_acceptance=forged)
    assert refused.value.status == 400
    assert _log_snapshot(grinder) == before
    offer.refresh_from_db()
    assert offer.status == TransferOffer.Status.OPEN


def test_acceptance_for_other_keys_is_refused(grinder, alice, bob):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    attacker = SigningKey.generate()
    keys = buyer_keys(bob, grinder)
    document = acceptance_document(offer=offer, keys=keys)
    document["updateKeys"] = [attacker.multibase]
    with pytest.raises(TransferRefused, match="does not match"):
        offer_accept(offer=offer, buyer=bob, signed_acceptance=proofs.sign_document(document, attacker))


# --- self-held keys --------------------------------------------------------------------------------------


def _self_held(owner) -> tuple[SigningKey, SigningKey]:
    current, upcoming = SigningKey.generate(), SigningKey.generate()
    owner_register_self_held(
        owner=owner, public_key=current.multibase, next_hash=webvh.next_key_hash(upcoming.multibase)
    )
    return current, upcoming


def _offer_awaiting_self_held_seller(alice, bob):
    _, upcoming = _self_held(alice)
    twin = services.twin_create(owner=alice, name="Door lock")
    offer = offer_accept(offer=offer_create(twin=twin, seller=alice, redact_kinds=[]), buyer=bob)
    assert offer.status == TransferOffer.Status.AWAITING_SELLER
    return twin, offer, upcoming


def test_self_held_seller_signs_the_transfer_with_the_cli_format(alice, bob):
    twin, _, upcoming = _offer_awaiting_self_held_seller(alice, bob)
    seller = client_for(alice)
    response = seller.post(reverse("thing-transfer-entries", args=[twin.slug]), {"next_public_key": upcoming.multibase})
    assert response.status_code == 200
    entries = json.loads(response.content)
    signed = [sign_json(entry, upcoming, attach=True) for entry in entries]
    response = seller.post(reverse("thing-transfer-sign", args=[twin.slug]), {"signed": json.dumps(signed)})
    assert response.status_code == 302
    twin.refresh_from_db()
    assert twin.owner == bob
    assert log_state(twin).update_keys == (buyer_keys(bob, twin).update_key,)


def test_transfer_signed_by_a_key_not_authorised_by_the_log_is_rejected_with_403(alice, bob):
    twin, _, upcoming = _offer_awaiting_self_held_seller(alice, bob)
    seller = client_for(alice)
    entries = json.loads(
        seller.post(
            reverse("thing-transfer-entries", args=[twin.slug]), {"next_public_key": upcoming.multibase}
        ).content
    )
    before = _log_snapshot(twin)
    stranger = SigningKey.generate()
    signed = [sign_json(entry, stranger, attach=True) for entry in entries]
    response = seller.post(reverse("thing-transfer-sign", args=[twin.slug]), {"signed": json.dumps(signed)})
    assert response.status_code == 403
    assert _log_snapshot(twin) == before
    twin.refresh_from_db()
    assert twin.owner == alice


def test_holding_only_the_current_update_key_cannot_transfer(alice, bob):
    """SECURITY 4: the key named in updateKeys alone is not enough; pre-rotation demands the committed next key."""
    current, _ = _self_held(alice)
    twin = services.twin_create(owner=alice, name="Bike")
    offer = offer_accept(offer=offer_create(twin=twin, seller=alice, redact_kinds=[]), buyer=bob)
    seller = client_for(alice)
    response = seller.post(reverse("thing-transfer-entries", args=[twin.slug]), {"next_public_key": current.multibase})
    assert response.status_code == 403
    before = _log_snapshot(twin)
    with pytest.raises(TransferRefused) as refused:
        transfer_complete(offer=offer, signer=current)
    assert refused.value.status == 403
    assert _log_snapshot(twin) == before


def test_twin_created_by_a_self_held_owner_commits_to_their_next_key(alice):
    _, upcoming = _self_held(alice)
    twin = services.twin_create(owner=alice, name="Cow")
    state = log_state(twin)
    assert state.next_key_hashes == (webvh.next_key_hash(upcoming.multibase),)


def test_self_held_buyer_accepts_with_a_cli_signed_acceptance(grinder, alice, bob):
    current, _ = _self_held(bob)
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    buyer = client_for(bob)
    page = buyer.get(reverse("transfer-offer", args=[offer.token]))
    assert page.status_code == 200
    document = json.loads(page.context["acceptance"])
    signed = sign_json(document, current, attach=True)
    response = buyer.post(reverse("transfer-accept", args=[offer.token]), {"signed": json.dumps(signed)})
    assert response.status_code == 302
    grinder.refresh_from_db()
    assert grinder.owner == bob
    assert log_state(grinder).update_keys == (current.multibase,)


# --- pages ---------------------------------------------------------------------------------------------


def test_offer_and_acceptance_through_the_pages(grinder, alice, bob):
    seller = client_for(alice)
    assert seller.get(reverse("thing-transfer", args=[grinder.slug])).status_code == 200
    response = seller.post(reverse("thing-transfer", args=[grinder.slug]), {"redact_kinds": ["scan"], "days": "3"})
    assert response.status_code == 302
    offer = TransferOffer.objects.get(twin=grinder)
    page = seller.get(reverse("thing-transfer", args=[grinder.slug])).content.decode()
    assert offer.token in page
    assert seller.get(reverse("thing-transfer-qr", args=[grinder.slug]))["Content-Type"] == "image/svg+xml"
    buyer = client_for(bob)
    page = buyer.get(reverse("transfer-offer", args=[offer.token]))
    assert page.status_code == 200 and b"verifies" in page.content
    response = buyer.post(reverse("transfer-accept", args=[offer.token]))
    assert response.status_code == 302 and response.url == reverse("thing", args=[grinder.slug])


def test_anonymous_visitor_of_an_offer_link_is_sent_to_log_in(grinder, alice):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    response = client_for(None).get(reverse("transfer-offer", args=[offer.token]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_unknown_offer_link_is_404(bob):
    assert client_for(bob).get(reverse("transfer-offer", args=["nope"])).status_code == 404


def test_second_buyer_gets_a_clear_message(grinder, alice, bob, carol):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    offer_accept(offer=offer, buyer=bob)
    response = client_for(carol).post(reverse("transfer-accept", args=[offer.token]))
    assert response.status_code == 409
    assert b"Someone else has already accepted this offer" in response.content
    assert client_for(carol).get(reverse("transfer-offer", args=[offer.token])).status_code == 410


def _stale(client):
    session = client.session
    session[SESSION_KEY] = int(time.time()) - 3600
    session.save()
    return client


def test_creating_an_offer_needs_a_fresh_login(grinder, alice):
    seller = _stale(client_for(alice))
    response = seller.post(reverse("thing-transfer", args=[grinder.slug]), {"days": "7"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not TransferOffer.objects.exists()


def test_accepting_needs_a_fresh_login(grinder, alice, bob):
    offer = offer_create(twin=grinder, seller=alice, redact_kinds=[])
    buyer = _stale(client_for(bob))
    response = buyer.post(reverse("transfer-accept", args=[offer.token]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    grinder.refresh_from_db()
    assert grinder.owner == alice and _log_snapshot(grinder)[0] == 1


def test_private_key_download_needs_a_fresh_login_and_gives_a_cli_key_file(alice, tmp_path):
    assert _stale(client_for(alice)).post(reverse("owner-key-download")).status_code == 302
    response = client_for(alice).post(reverse("owner-key-download"), {"role": "current"})
    assert response.status_code == 200
    path = tmp_path / "alice.key"
    path.write_bytes(response.content)
    from ssi.sign import read_key

    assert read_key(path).multibase == owner_keys_ensure(owner=alice)[OwnerKey.Role.CURRENT].public_multibase


def test_private_keys_never_appear_in_pages_or_api_output(grinder, alice):
    key = owner_keys_ensure(owner=alice)[OwnerKey.Role.CURRENT]
    from owners.keys import owner_signing_key

    secret = owner_signing_key(key).private_multibase()
    agent_secret = agent_key(grinder).private_multibase()
    owner = client_for(alice)
    for url in (
        reverse("owner-keys"),
        reverse("thing", args=[grinder.slug]),
        reverse("thing-export", args=[grinder.slug]),
        reverse("twin-did-log", args=[grinder.slug]),
        reverse("twin-verify", args=[grinder.slug]),
        f"/api/things/{grinder.slug}/",
    ):
        body = owner.get(url).content.decode()
        assert secret not in body and agent_secret not in body, url


def test_verify_page_reveals_no_private_content(grinder):
    services.note_create(twin=grinder, title="Secret location: garage")
    services.twin_update(twin=grinder, show_thing_name=False)
    anonymous = client_for(None)
    page = anonymous.get(reverse("twin-verify", args=[grinder.slug])).content.decode()
    assert "The history verifies" in page and "garage" not in page and "Coffee grinder" not in page
    data = anonymous.get(reverse("twin-verify", args=[grinder.slug]) + "?format=json").json()
    entries = HistoryEntry.objects.filter(twin=grinder).count()
    assert data["ok"] is True and data["entries"] == entries and "garage" not in json.dumps(data)


def test_did_log_and_did_json_are_served_at_the_did_webvh_path(grinder):
    anonymous = client_for(None)
    response = anonymous.get(f"/twins/{grinder.slug}/did.jsonl")
    assert response.status_code == 200
    assert webvh.verify_jsonl(response.content.decode()).did == grinder.did
    document = anonymous.get(f"/twins/{grinder.slug}/did.json").json()
    assert document["id"].startswith("did:web:") and grinder.did in document["alsoKnownAs"]
    assert anonymous.get("/twins/unknown-slug/did.jsonl").status_code == 404


def test_tampered_history_in_the_database_makes_the_verify_page_say_so(grinder):
    services.reading_add(twin=grinder, value=3)
    entry = HistoryEntry.objects.get(twin=grinder, kind="reading")
    entry.entry = {**entry.entry, "content": {**entry.entry["content"], "value": 99.0}}
    entry.save()
    result = verify_twin(grinder)
    assert not result.ok and f"history entry {entry.seq}" in result.problem


def test_deleting_a_note_redacts_it_from_the_history(grinder, alice):
    note = services.note_create(twin=grinder, title="Private diary")
    services.note_delete(note=note)
    entries = HistoryEntry.objects.filter(twin=grinder, kind="note").order_by("seq")
    assert [entry.redacted for entry in entries] == [True, False]
    assert "Private diary" not in json.dumps(export_bundle(grinder))
    assert verify_twin(grinder).ok


# --- deactivation (SECURITY 10) --------------------------------------------------------------------------


@pytest.mark.needs("tags")
def test_after_deactivation_every_append_is_409_and_pages_say_deactivated(grinder, alice, bob, grinder_tag):
    owner = client_for(alice)
    response = owner.post(reverse("thing-deactivate", args=[grinder.slug]), {"confirm": grinder.name})
    assert response.status_code == 302
    grinder.refresh_from_db()
    assert grinder.deactivated_at is not None
    assert log_state(grinder).deactivated
    before = (HistoryEntry.objects.filter(twin=grinder).count(), _log_snapshot(grinder))
    assert owner.post(reverse("reading-new", args=[grinder.slug]), {"value": "3"}).status_code == 409
    assert owner.post(reverse("note-new", args=[grinder.slug]), {"title": "x"}).status_code == 409
    assert owner.post(reverse("tag-new", args=[grinder.slug])).status_code == 409
    assert (
        owner.post(f"/api/things/{grinder.slug}/readings/", {"value": 3}, content_type="application/json").status_code
        == 409
    )
    with pytest.raises(TransferRefused) as refused:
        offer_create(twin=grinder, seller=alice, redact_kinds=[])
    assert refused.value.status == 409
    assert (HistoryEntry.objects.filter(twin=grinder).count(), _log_snapshot(grinder)) == before
    assert Reading.objects.filter(twin=grinder).count() == 0
    assert "deactivated" in client_for(None).get(grinder_tag.get_absolute_url()).content.decode()
    result = verify_twin(grinder)
    assert result.ok and result.deactivated
    assert "deactivated" in client_for(None).get(reverse("twin-verify", args=[grinder.slug])).content.decode()


def test_deactivation_needs_the_name_typed_and_a_fresh_login(grinder, alice):
    assert client_for(alice).post(reverse("thing-deactivate", args=[grinder.slug]), {"confirm": "x"}).status_code == 302
    assert (
        _stale(client_for(alice))
        .post(reverse("thing-deactivate", args=[grinder.slug]), {"confirm": grinder.name})
        .url.startswith(reverse("login"))
    )
    grinder.refresh_from_db()
    assert grinder.deactivated_at is None


def test_while_a_self_held_seller_signs_the_buyer_sees_a_note_and_others_a_409(alice, bob, carol):
    twin, offer, _ = _offer_awaiting_self_held_seller(alice, bob)
    page = client_for(bob).get(reverse("transfer-offer", args=[offer.token]))
    assert page.status_code == 200 and page.context["problem"].startswith("You accepted this offer")
    assert client_for(carol).get(reverse("transfer-offer", args=[offer.token])).status_code == 409
    seller = client_for(alice).get(reverse("thing-transfer", args=[twin.slug]))
    assert seller.context["seller_self_held"] is True and seller.context["offer"] == offer
    assert seller.context["counts"]["created"] == 1 and "note" not in seller.context["counts"]
