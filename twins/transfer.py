"""Owner transfer: an offer, the buyer's signed acceptance, and the rotation of the twin's DID log.

1. The seller creates an offer (single use, expiring, one pending per twin) naming the history kinds to remove.
2. The buyer accepts with a countersignature: an acceptance document naming the offer, the twin and the
   buyer's keys for this twin (`updateKeys` and the pre-rotation `nextKeyHashes`: per-thing keys, derived from
   the buyer's root keys and the twin's DID path, owners.keys.thing_keys), signed eddsa-jcs-2022 by the key it names
   in `updateKeys`. A platform-held buyer key is derived and used by the platform; a self-held buyer derives
   theirs with `python -m ssi.sign thingkey`, writes them into the document and signs it with the CLI.
3. The rotation (see twins.identity): two log entries signed by the seller's pre-committed next key. A
   platform-held seller key signs at once on the seller's standing authorization (the offer); a self-held
   seller uploads both entries signed with `python -m ssi.sign sign KEY entries.json --attach`.
4. In the same transaction: history redaction, new agent key, ownership moves, public contact reset, both sides
   notified, and a `transfer` history entry that carries the acceptance and names the log versions. Then the
   `Transferred` domain event (twins.events): features react to it, twins names none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict
from core.vault import seal_key, unseal_key
from owners.keys import (
    SelfHeldKeyRequired,
    ThingKeys,
    owner_keys_ensure,
    owner_log_signer,
    thing_keys,
    thing_signing_key,
)
from owners.models import Notification, Owner, OwnerKey
from owners.selectors import owner_keys_active
from owners.services import notify
from ssi import proofs, webvh
from ssi.errors import SSIError
from ssi.keys import SigningKey, VerifyKey
from twins import events, leaving
from twins import history as twin_history
from twins.identity import handover_entries, log_append, log_state, twin_document
from twins.models import HistoryEntry, TransferOffer, Twin

OFFER_DAYS = 7
ACCEPTANCE_TYPE = "ThingsteadTransferAcceptance"


class TransferRefused(Conflict):
    """A transfer step that cannot proceed; `status` is the HTTP status that fits (400 unless it says), `message`
    says why. An API lets it rise: core's exception handler answers it."""

    status = 400


# The keys an acceptance names: the buyer's per-thing keys for the twin.
BuyerKeys = ThingKeys


# --- offers -----------------------------------------------------------------------------------------------

# What else may hold a twin for sale (a feature's own offer, e.g. a handover of many things): each guard gets the
# locked twin and answers why it cannot be offered now, or None. Registered from a feature's AppConfig.ready().
OfferGuard = Callable[[Twin], str | None]
_OFFER_GUARDS: list[OfferGuard] = []


def register_offer_guard(guard: OfferGuard) -> None:
    if guard not in _OFFER_GUARDS:
        _OFFER_GUARDS.append(guard)


@transaction.atomic
def offer_create(*, twin: Twin, seller: Owner, redact_kinds: list[str], days: int = OFFER_DAYS) -> TransferOffer:
    twin = twin_history.lock_twin(twin)
    if twin.owner_id != seller.pk:
        raise TransferRefused("Only the owner can offer this thing.", status=404)
    if twin.deactivated_at is not None:
        raise TransferRefused("This twin is deactivated and can no longer change hands.", status=409)
    leaving.check(twin)  # moved away or on its way: offered here, it would be sold where it no longer lives
    unknown = set(redact_kinds) - set(HistoryEntry.REDACTABLE)
    if unknown:
        raise TransferRefused(f"These history kinds cannot be removed: {', '.join(sorted(unknown))}.")
    if not 1 <= days <= 30:
        raise TransferRefused("An offer lasts between 1 and 30 days.")
    if TransferOffer.objects.filter(twin=twin).pending().exists():
        raise TransferRefused("This thing already has an open offer. Cancel it first.", status=409)
    # The twin is locked: a guard's answer holds until this offer exists (a handover locks its twins as well).
    for guard in _OFFER_GUARDS:
        if reason := guard(twin):
            raise TransferRefused(reason, status=409)
    try:
        with transaction.atomic():
            return TransferOffer.objects.create(
                twin=twin,
                seller=seller,
                redact_kinds=sorted(set(redact_kinds)),
                expires_at=timezone.now() + timedelta(days=days),
            )
    except IntegrityError:
        raise TransferRefused("This thing already has an open offer. Cancel it first.", status=409) from None


@transaction.atomic
def offer_cancel(*, offer: TransferOffer, seller: Owner) -> TransferOffer:
    offer = TransferOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.seller_id != seller.pk or offer.twin.owner_id != seller.pk:
        raise TransferRefused("No such offer.", status=404)
    if offer.status not in TransferOffer.PENDING:
        raise TransferRefused("This offer is no longer open.", status=409)
    offer.status = TransferOffer.Status.CANCELLED
    offer.cancelled_at = timezone.now()
    offer.save(update_fields=["status", "cancelled_at"])
    return offer


def offer_check_open(offer: TransferOffer, *, buyer: Owner | None = None) -> None:
    if offer.status == TransferOffer.Status.CANCELLED:
        raise TransferRefused("This offer was cancelled by the seller.", status=410)
    if offer.status == TransferOffer.Status.COMPLETED:
        raise TransferRefused("This offer has already been used.", status=410)
    if offer.expires_at <= timezone.now():
        raise TransferRefused("This offer has expired. Ask the seller for a new one.", status=410)
    if offer.twin.owner_id != offer.seller_id:
        raise TransferRefused("This offer is no longer valid.", status=410)
    if buyer is not None and buyer.pk == offer.seller_id:
        raise TransferRefused("You cannot accept your own offer.", status=403)


def offer_check_viewable(offer: TransferOffer, *, buyer: Owner) -> str:
    """May `buyer` see the offer's page? Raises TransferRefused when the offer is closed to them; returns a note
    for the buyer who accepted it and now waits for the seller's signature ("" otherwise)."""
    if offer.status == TransferOffer.Status.AWAITING_SELLER and offer.buyer_id == buyer.pk:
        return "You accepted this offer. The transfer completes when the seller signs it."
    offer_check_open(offer, buyer=buyer)
    if offer.status != TransferOffer.Status.OPEN:
        raise TransferRefused("Someone else has already accepted this offer.", status=409)
    return ""


# --- acceptance ---------------------------------------------------------------------------------------------


def acceptance_document(*, offer: TransferOffer, keys: BuyerKeys) -> dict[str, Any]:
    """What the buyer signs: the offer, the twin, the log version it applies to and the buyer's keys."""
    return {
        "type": ACCEPTANCE_TYPE,
        "offer": offer.token,
        "twin": offer.twin.did,
        "updateKeys": [keys.update_key],
        "nextKeyHashes": [keys.next_key_hash],
    }


def buyer_keys(buyer: Owner, twin: Twin) -> BuyerKeys:
    """The keys an acceptance of `twin` names: the buyer's per-thing keys for it (for a self-held buyer, whose keys
    the platform cannot derive, their root keys: see acceptance_keys). Read only (every account has its keys from
    creation, owners.keys), so the buyer's offer page can show the document without writing."""
    return thing_keys(owner_keys_active(owner=buyer), twin.did)


def acceptance_keys(*, buyer: Owner, twin: Twin, signed: Any) -> BuyerKeys:
    """The keys the buyer's acceptance must name. A platform-held buyer: their per-thing keys (buyer_keys). A
    self-held buyer may name their own per-thing keys (`python -m ssi.sign thingkey CURRENT_KEYFILE DID` and
    `thingkey NEXT_KEYFILE DID`) instead of their root keys: the platform cannot derive them, and the signature
    by the named update key (acceptance_verify) proves the buyer holds it."""
    keys = buyer_keys(buyer, twin)
    current = owner_keys_active(owner=buyer).get(OwnerKey.Role.CURRENT)
    if current is None or not current.self_held or not isinstance(signed, dict):
        return keys
    update, hashes = signed.get("updateKeys"), signed.get("nextKeyHashes")
    if not (isinstance(update, list) and len(update) == 1 and isinstance(hashes, list) and len(hashes) == 1):
        return keys
    named = BuyerKeys(update_key=str(update[0]), next_key_hash=str(hashes[0]))
    if named == keys:
        return keys
    try:
        VerifyKey.from_multibase(named.update_key)
    except SSIError:
        raise TransferRefused("The acceptance's updateKeys must name one Ed25519 public key (z6Mk…).") from None
    if not (named.next_key_hash.startswith("Qm") and len(named.next_key_hash) == 46):
        raise TransferRefused("The acceptance's nextKeyHashes must name one key hash (Qm…, 46 characters).")
    if named.next_key_hash == webvh.next_key_hash(named.update_key):
        raise TransferRefused("The next key must be a different key from the update key.")
    return named


def acceptance_verify(
    *,
    signed: Any,
    expected: dict[str, Any],
    keys: BuyerKeys,
    mismatch: str,
    refused: type[TransferRefused] = TransferRefused,
) -> dict[str, Any]:
    """One check for a transfer's and a handover's acceptance: `signed` must be exactly `expected` plus one proof by
    the buyer's current key. `mismatch` is the words for a document that differs; `refused` the error raised."""
    if not isinstance(signed, dict) or "proof" not in signed:
        raise refused("The acceptance must be the signed acceptance document (JSON with a proof).")
    unsigned = {key: value for key, value in signed.items() if key != "proof"}
    if unsigned != expected:
        raise refused(mismatch)
    proof = signed["proof"]
    # One proof, as an object or (python -m ssi.sign --attach) a one-element list.
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    try:
        signer = proofs.verify_proof(unsigned, proof, expected_purpose="assertionMethod")
    except SSIError as exc:
        raise refused(f"The acceptance signature is not valid: {exc}") from None
    if signer.multibase != keys.update_key:
        raise refused("The acceptance must be signed by your current key.")
    return signed


def verify_acceptance(*, offer: TransferOffer, signed: Any, keys: BuyerKeys) -> dict[str, Any]:
    """The acceptance must be the expected document, signed by the buyer's (new update) key (SECURITY 2)."""
    return acceptance_verify(
        signed=signed,
        expected=acceptance_document(offer=offer, keys=keys),
        keys=keys,
        mismatch="The acceptance does not match this offer and your keys.",
    )


@transaction.atomic
def offer_accept(*, offer: TransferOffer, buyer: Owner, signed_acceptance: Any = None) -> TransferOffer:
    """The buyer accepts. With a platform-held seller key the transfer completes at once."""
    offer = TransferOffer.objects.select_for_update(of=("self",)).select_related("twin").get(pk=offer.pk)
    # The loser of two simultaneous acceptances waits on the row lock and then finds it taken: 409 (SECURITY 7).
    if offer.status in (TransferOffer.Status.AWAITING_SELLER, TransferOffer.Status.COMPLETED):
        raise TransferRefused("Someone else has already accepted this offer.", status=409)
    offer_check_open(offer, buyer=buyer)
    # A write, so it may make keys an account still lacks; buyer_keys only reads them.
    current = owner_keys_ensure(owner=buyer)[OwnerKey.Role.CURRENT]
    keys = acceptance_keys(buyer=buyer, twin=offer.twin, signed=signed_acceptance)
    if signed_acceptance is None:
        try:
            signer = thing_signing_key(current, offer.twin.did)
        except SelfHeldKeyRequired:
            raise TransferRefused(
                "Your key is self-held: sign the acceptance with python -m ssi.sign and upload it."
            ) from None
        signed_acceptance = proofs.sign_document(acceptance_document(offer=offer, keys=keys), signer)
    acceptance = verify_acceptance(offer=offer, signed=signed_acceptance, keys=keys)
    offer.buyer = buyer
    offer.acceptance = acceptance
    offer.accepted_at = timezone.now()
    offer.status = TransferOffer.Status.AWAITING_SELLER
    offer.save(update_fields=["buyer", "acceptance", "accepted_at", "status"])
    state = log_state(offer.twin)
    try:
        # The seller's key that the twin's log pre-committed to: it signs the transfer.
        signer = owner_log_signer(owner=offer.seller, did=state.did, committed=state.next_key_hashes)
    except SelfHeldKeyRequired:
        notify(
            owner=offer.seller,
            kind=Notification.Kind.SYSTEM,
            title=f"{buyer.username} accepted your offer for {offer.twin.name}: sign the transfer",
            twin=offer.twin,
        )
        return offer
    if signer is None:
        raise TransferRefused("The seller's key does not control this twin's log.", status=409)
    return transfer_complete(offer=offer, signer=signer)


# --- the rotation -------------------------------------------------------------------------------------------


def _build_entries(
    offer: TransferOffer, *, new_agent: SigningKey, revealed_key: str
) -> tuple[webvh.LogState, list[dict[str, Any]]]:
    state = log_state(offer.twin)
    if webvh.next_key_hash(revealed_key) not in state.next_key_hashes:
        raise TransferRefused("That is not the next key this twin's log committed to.", status=403)
    update_keys, next_key_hashes = named_keys(offer.acceptance or {}, offer.twin.did)
    entries = handover_entries(
        state,
        revealed_key=revealed_key,
        update_keys=update_keys,
        next_key_hashes=next_key_hashes,
        document=twin_document(state.did, new_agent, also_known_as=state.document.get("alsoKnownAs") or ()),
    )
    return state, entries


@transaction.atomic
def transfer_prepare(*, offer: TransferOffer, seller: Owner, revealed_key: str) -> list[dict[str, Any]]:
    """For a self-held seller: the two unsigned entries to sign, kept on the offer with the new agent key."""
    offer = TransferOffer.objects.select_for_update(of=("self",)).select_related("twin").get(pk=offer.pk)
    if offer.seller_id != seller.pk or offer.status != TransferOffer.Status.AWAITING_SELLER:
        raise TransferRefused("This offer is not waiting for your signature.", status=409)
    agent = SigningKey.generate()
    _, entries = _build_entries(offer, new_agent=agent, revealed_key=revealed_key.strip())
    offer.prepared_entries = entries
    offer.pending_agent_sealed = seal_key(agent)
    offer.save(update_fields=["prepared_entries", "pending_agent_sealed"])
    return entries


@transaction.atomic
def transfer_complete(
    *, offer: TransferOffer, signer: SigningKey | None = None, signed_entries: Any = None
) -> TransferOffer:
    """Rotate the log to the buyer and hand the twin over, all or nothing.

    Either `signer` (the seller's platform-held key) or `signed_entries` (the entries from transfer_prepare,
    signed by a self-held seller) must be given. A signature by any key that the log does not authorise is
    refused with 403 and nothing changes (SECURITY 1).
    """
    offer = (
        TransferOffer.objects.select_for_update(of=("self",)).select_related("twin", "seller", "buyer").get(pk=offer.pk)
    )
    if offer.status != TransferOffer.Status.AWAITING_SELLER:
        raise TransferRefused("This offer is not waiting for a transfer.", status=409)
    if offer.expires_at <= timezone.now():
        raise TransferRefused("This offer has expired.", status=410)
    twin = twin_history.lock_twin(offer.twin)
    offer.twin = twin
    keys = acceptance_keys(buyer=offer.buyer, twin=twin, signed=offer.acceptance)
    verify_acceptance(offer=offer, signed=offer.acceptance, keys=keys)
    if signer is not None:
        agent = SigningKey.generate()
        state, entries = _build_entries(offer, new_agent=agent, revealed_key=signer.multibase)
        signed_entries = [webvh.sign_entry(entry, signer) for entry in entries]
    else:
        if not offer.prepared_entries or offer.pending_agent_sealed is None:
            raise TransferRefused("Download the entries to sign first.", status=409)
        check_signed_entries(signed_entries, offer.prepared_entries)
        agent = unseal_key(offer.pending_agent_sealed)
        state = log_state(twin)
    return _hand_over(offer, twin=twin, state=state, signed_entries=signed_entries, agent=agent)


def check_signed_entries(signed_entries: Any, entries: list[dict[str, Any]]) -> None:
    """The uploaded entries must be exactly the prepared ones, each with a proof (checked by the log itself)."""
    if not isinstance(signed_entries, list) or len(signed_entries) != len(entries):
        raise TransferRefused(f"Upload the {len(entries)} signed entries, as a JSON list.")
    for signed, expected in zip(signed_entries, entries, strict=True):
        if not isinstance(signed, dict) or {k: v for k, v in signed.items() if k != "proof"} != expected:
            raise TransferRefused("These are not the entries this transfer needs: download them again.")


def transfer_entries(*, offer: TransferOffer, new_agent: SigningKey, revealed_key: str) -> list[dict[str, Any]]:
    """The two unsigned log entries that hand `offer.twin` to the keys of `offer.acceptance` with `new_agent` as
    its agent key, for a caller preparing them for a self-held seller (handover). Read only."""
    return _build_entries(offer, new_agent=new_agent, revealed_key=revealed_key.strip())[1]


@transaction.atomic
def transfer_rotate(
    *,
    offer: TransferOffer,
    signer: SigningKey | None = None,
    prepared: list[dict[str, Any]] | None = None,
    signed_entries: Any = None,
    agent: SigningKey | None = None,
    notify_sides: bool = True,
) -> TransferOffer:
    """One twin's rotation and hand-over inside the caller's transaction, for a caller that checked the buyer's
    acceptance itself (handover: one signed acceptance naming many twins). `offer` is AWAITING_SELLER with its
    buyer and acceptance (`updateKeys`, `nextKeyHashes`) set. Either `signer`, the seller's platform-held key the
    log committed to, or a self-held seller's `signed_entries` of the `prepared` ones (transfer_entries) with the
    `agent` key they name. Raises TransferRefused; the caller must then roll its whole transaction back."""
    twin = twin_history.lock_twin(offer.twin)
    offer.twin = twin
    if signer is not None:
        agent = SigningKey.generate()
        state, entries = _build_entries(offer, new_agent=agent, revealed_key=signer.multibase)
        signed_entries = [webvh.sign_entry(entry, signer) for entry in entries]
    else:
        if prepared is None or agent is None:
            raise TransferRefused("Download the entries to sign first.", status=409)
        check_signed_entries(signed_entries, prepared)
        state = log_state(twin)
    return _hand_over(
        offer, twin=twin, state=state, signed_entries=signed_entries, agent=agent, notify_sides=notify_sides
    )


def _hand_over(
    offer: TransferOffer,
    *,
    twin: Twin,
    state: webvh.LogState,
    signed_entries: list[dict[str, Any]],
    agent: SigningKey,
    notify_sides: bool = True,
) -> TransferOffer:
    seller, buyer = offer.seller, offer.buyer
    try:
        with transaction.atomic():
            new_state = log_append(twin, state, signed_entries)
    except SSIError as exc:
        raise TransferRefused(f"The transfer signature was refused: {exc}", status=403) from None
    except IntegrityError:
        raise TransferRefused("The twin changed at the same moment; try again.", status=409) from None

    # The seller loses everything at this instant; what they chose to remove goes first (with the rows behind it:
    # the features' redactors).
    kinds = list(offer.redact_kinds)
    twin_history.history_remove_kinds(twin=twin, kinds=kinds)
    now = timezone.now()
    twin.owner = buyer
    twin.owner_since = now
    twin.agent_key_sealed = seal_key(agent)
    twin.public_page_reset()
    twin.archived_at = None
    twin.save()
    twin_history.history_append(
        twin=twin,
        kind=HistoryEntry.Kind.TRANSFER,
        content={
            "from": [seller_version_key(state)],
            "to": named_keys(offer.acceptance, twin.did)[0],
            "acceptance": offer.acceptance,
            "didLogVersions": [entry["versionId"] for entry in signed_entries],
            "redactedKinds": kinds,
        },
        not_before=new_state.latest.time,
    )
    offer.status = TransferOffer.Status.COMPLETED
    offer.completed_at = now
    offer.thing_name = twin.name
    offer.pending_agent_sealed = None
    offer.save(update_fields=["status", "completed_at", "thing_name", "pending_agent_sealed"])
    if notify_sides:
        notify(owner=seller, kind=Notification.Kind.SYSTEM, title=f"{twin.name} now belongs to {buyer.username}")
        notify(owner=buyer, kind=Notification.Kind.SYSTEM, title=f"{twin.name} is yours", twin=twin)
    # What the features do about it (end the seller's grants, move DIDComm connections to fresh keys...) hangs on
    # this event; its after-commit subscribers run once the new owner holds the twin.
    events.send(
        events.Transferred(
            twin_id=twin.pk, offer_id=offer.pk, seller_id=seller.pk, buyer_id=buyer.pk, redacted_kinds=tuple(kinds)
        )
    )
    return offer


def named_keys(acceptance: dict[str, Any], did: str) -> tuple[list[str], list[str]]:
    """The `updateKeys` and `nextKeyHashes` an acceptance names for the twin `did`: its own (one thing's offer),
    or its entry under `keys` (a handover's acceptance names each thing's keys by DID)."""
    named = acceptance.get("keys", {}).get(did, {}) if "keys" in acceptance else acceptance
    return list(named.get("updateKeys", [])), list(named.get("nextKeyHashes", []))


def seller_version_key(state: webvh.LogState) -> str:
    return state.update_keys[0] if state.update_keys else ""
