"""A handover: many things to one buyer, one offer, one acceptance, all or nothing.

1. The seller offers a selection of their things (single use, expiring; a thing is in at most one open handover
   and has no open single offer of its own), naming the history kinds to remove from each.
2. The buyer accepts once: one acceptance document naming the offer, every twin's DID and, for each, the buyer's
   keys for that twin (`keys`: per-thing keys, owners.keys.thing_keys, so the things' logs share no key), signed
   eddsa-jcs-2022 by a key of the buyer's for this handover (derived from their current key and the offer's
   token, ssi.thing_keys.derive_key; a self-held buyer: their current key, and their root keys in every thing's
   log: the shared-key case docs/security.md describes). Platform-held: the platform signs; self-held: the CLI.
3. In ONE database transaction every twin gets exactly a single transfer's rotation (twins.transfer.transfer_rotate:
   DID log entries signed by the seller's pre-committed key, a new agent key, redaction, history, the Transferred
   event whose in-transaction subscribers issue and revoke credentials). If any twin fails (deactivated since, no
   longer the seller's, its log refuses), the transaction rolls back: every twin stays with the seller, every DID
   log is unchanged. The failure is then recorded on the handover in a transaction of its own, for both sides.

A self-held seller key signs too, as for one thing but once for all: after the acceptance the handover waits
(AWAITING_SELLER); the seller reveals their next public key, downloads every thing's two log entries as one list
(handover_prepare), signs the list with `python -m ssi.sign sign KEY entries.json --attach` and uploads it
(handover_sign): then the same one transaction, all or nothing. One key signs the whole list, so this works for
things whose logs commit to the seller's self-held root key; things that name per-thing self-held keys are
transferred one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.vault import seal_key, unseal_key
from handover.models import Handover, HandoverThing
from owners.keys import (
    SelfHeldKeyRequired,
    ThingKeys,
    owner_keys_ensure,
    owner_log_signer,
    owner_signing_key,
    thing_keys,
)
from owners.models import Notification, Owner, OwnerKey
from owners.selectors import owner_keys_active
from owners.services import notify
from ssi import proofs
from ssi.keys import SigningKey
from ssi.thing_keys import derive_key
from twins.identity import log_state
from twins.models import HistoryEntry, TransferOffer, Twin
from twins.moving import is_live
from twins.transfer import (
    OFFER_DAYS,
    TransferRefused,
    acceptance_verify,
    check_signed_entries,
    transfer_entries,
    transfer_rotate,
)

ACCEPTANCE_TYPE = "ThingsteadHandoverAcceptance"
# Every thing's rotation runs in the one request and transaction that accepts: keep it to what a request carries.
MAX_THINGS = 100


class HandoverRefused(TransferRefused):
    """A handover step that cannot proceed; `problems` names each thing that stands in the way, in words."""

    def __init__(self, message: str, *, status: int = 400, problems: list[str] | None = None) -> None:
        super().__init__(message, status=status, extra={"problems": problems or []})
        self.problems = problems or []


class _ThingFailed(Exception):
    """One twin could not move during the acceptance: the whole transaction rolls back."""


# --- creating -----------------------------------------------------------------------------------------------


def seller_self_held(seller: Owner) -> bool:
    """Is the seller's upcoming key self-held (things made from now on need their own signature to move)?"""
    upcoming = owner_keys_active(owner=seller).get(OwnerKey.Role.NEXT)
    return upcoming is not None and upcoming.self_held


def signed_by_seller(*, seller: Owner, twins: list[Twin]) -> bool:
    """Do these things' logs commit to a self-held key of the seller's (so the seller signs the handover), rather
    than to keys held here (the platform signs at once)? As for one thing, each log's commitment decides; a
    handover needs them all alike. Keys the seller no longer has are left to the rotation to refuse."""
    held = set()
    for twin in twins:
        state = log_state(twin)
        try:
            if owner_log_signer(owner=seller, did=state.did, committed=state.next_key_hashes) is not None:
                held.add(False)
        except SelfHeldKeyRequired:
            held.add(True)
    if len(held) > 1:
        raise HandoverRefused(
            "Some of these things are signed over with your self-held key and others with a key held here: "
            "offer them in separate handovers.",
            status=409,
        )
    return held == {True}


def selection_problems(*, seller: Owner, twins: list[Twin]) -> list[str]:
    """Why each of these things cannot go into a new handover, in words (empty: they can). Read only."""
    problems = []
    ids = [twin.pk for twin in twins]
    offered = set(TransferOffer.objects.filter(twin_id__in=ids).pending().values_list("twin_id", flat=True))
    now = timezone.now()
    handed = set(
        HandoverThing.objects.filter(twin_id__in=ids, open=True, handover__expires_at__gt=now).values_list(
            "twin_id", flat=True
        )
    )
    for twin in twins:
        if twin.owner_id != seller.pk:
            problems.append(f"{twin.name} is not yours.")
        elif twin.deactivated_at is not None:
            problems.append(f"{twin.name} is deactivated and can no longer change hands.")
        elif not is_live(twin):
            problems.append(f"{twin.name} does not live on this host (it moved away, or has not arrived yet).")
        elif twin.leaving_to:
            problems.append(f"{twin.name} is moving to another host right now: hand it over from there.")
        elif twin.pk in offered:
            problems.append(f"{twin.name} already has an open transfer offer of its own. Cancel it first.")
        elif twin.pk in handed:
            problems.append(f"{twin.name} is already in another open handover. Cancel that one first.")
    return problems


def _expire_stale(twin_ids: list[int]) -> None:
    """Open handovers of these twins past their time become expired (and release their things)."""
    now = timezone.now()
    stale = list(
        Handover.objects.pending()
        .filter(expires_at__lte=now, things__twin_id__in=twin_ids)
        .values_list("pk", flat=True)
        .distinct()
    )
    if stale:
        Handover.objects.filter(pk__in=stale, status__in=Handover.PENDING).update(status=Handover.Status.EXPIRED)
        HandoverThing.objects.filter(handover_id__in=stale).update(open=False)


@transaction.atomic
def handover_create(
    *, seller: Owner, twins: Iterable[Twin], redact_kinds: list[str], days: int = OFFER_DAYS
) -> Handover:
    """Offer `twins` (in this order) to one buyer. Refuses with words: none or too many things, things not the
    seller's (404), deactivated things, things under another open offer."""
    ids = list(dict.fromkeys(twin.pk for twin in twins))
    if not ids:
        raise HandoverRefused("Choose at least one thing to hand over.")
    if len(ids) > MAX_THINGS:
        raise HandoverRefused(
            f"A handover takes at most {MAX_THINGS} things; you chose {len(ids)}. "
            "Narrow the selection, or make several handovers."
        )
    unknown = set(redact_kinds) - set(HistoryEntry.REDACTABLE)
    if unknown:
        raise HandoverRefused(f"These history kinds cannot be removed: {', '.join(sorted(unknown))}.")
    if not 1 <= days <= 30:
        raise HandoverRefused("An offer lasts between 1 and 30 days.")
    # Locked in id order (every handover does the same): a thing cannot be offered twice, deactivated or sold
    # while this one is made.
    locked = {twin.pk: twin for twin in Twin.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(locked) != len(ids) or any(twin.owner_id != seller.pk for twin in locked.values()):
        raise HandoverRefused("Only the owner can offer these things.", status=404)
    _expire_stale(ids)
    ordered = [locked[pk] for pk in ids]
    problems = selection_problems(seller=seller, twins=ordered)
    if problems:
        raise HandoverRefused(" ".join(problems), status=409, problems=problems)
    signed_by_seller(seller=seller, twins=ordered)
    try:
        with transaction.atomic():
            handover = Handover.objects.create(
                seller=seller,
                redact_kinds=sorted(set(redact_kinds)),
                expires_at=timezone.now() + timedelta(days=days),
            )
            HandoverThing.objects.bulk_create(
                HandoverThing(handover=handover, twin=twin, position=position) for position, twin in enumerate(ordered)
            )
    except IntegrityError:
        raise HandoverRefused("One of these things was offered at the same moment. Try again.", status=409) from None
    return handover


def _close(handover: Handover, status: str, **fields: Any) -> Handover:
    handover.status = status
    for name, value in fields.items():
        setattr(handover, name, value)
    handover.save(update_fields=["status", *fields])
    HandoverThing.objects.filter(handover=handover).update(open=False)
    return handover


@transaction.atomic
def handover_cancel(*, handover: Handover, seller: Owner) -> Handover:
    handover = Handover.objects.select_for_update().get(pk=handover.pk)
    if handover.seller_id != seller.pk:
        raise HandoverRefused("No such handover.", status=404)
    if handover.status not in Handover.PENDING:
        raise HandoverRefused("This offer is no longer open.", status=409)
    return _close(handover, Handover.Status.CANCELLED, cancelled_at=timezone.now())


# --- accepting ----------------------------------------------------------------------------------------------


def handover_twins(handover: Handover) -> list[Twin]:
    """The handover's things in the offer's order."""
    return [item.twin for item in HandoverThing.objects.filter(handover=handover).select_related("twin")]


@dataclass(frozen=True)
class HandoverKeys:
    """What a buyer's acceptance of a handover names: the key that signs it and their keys for each thing."""

    signer: str
    things: dict[str, ThingKeys]


def buyer_keys(buyer: Owner, *, handover: Handover, twins: list[Twin]) -> HandoverKeys:
    """The buyer's keys for each of `twins` and for signing the acceptance of `handover`. Read only."""
    keys = owner_keys_active(owner=buyer)
    current = keys[OwnerKey.Role.CURRENT]
    signer = current.public_multibase if current.self_held else _acceptance_signer(current, handover).multibase
    return HandoverKeys(signer=signer, things={twin.did: thing_keys(keys, twin.did) for twin in twins})


def _acceptance_signer(current: OwnerKey, handover: Handover) -> SigningKey:
    """A platform-held buyer's key for one handover's acceptance: derived from their current key and the offer's
    token, so the acceptance (kept in every thing's history) names no key of theirs seen anywhere else."""
    return derive_key(owner_signing_key(current), f"handover:{handover.token}")


def acceptance_document(*, handover: Handover, twins: list[Twin], keys: HandoverKeys) -> dict[str, Any]:
    """What the buyer signs: the offer, every twin's DID (in the offer's order) and, by DID, the buyer's keys for
    it, which that twin's DID log will name as its new update key and pre-rotation commitment."""
    return {
        "type": ACCEPTANCE_TYPE,
        "offer": handover.token,
        "twins": [twin.did for twin in twins],
        "keys": {
            twin.did: {
                "updateKeys": [keys.things[twin.did].update_key],
                "nextKeyHashes": [keys.things[twin.did].next_key_hash],
            }
            for twin in twins
        },
    }


def verify_acceptance(*, handover: Handover, twins: list[Twin], signed: Any, keys: HandoverKeys) -> dict[str, Any]:
    """The acceptance must be exactly the expected document, signed by the buyer's key for this handover."""
    return acceptance_verify(
        signed=signed,
        expected=acceptance_document(handover=handover, twins=twins, keys=keys),
        keys=ThingKeys(update_key=keys.signer, next_key_hash=""),
        mismatch="The acceptance does not match this offer, its things and your keys.",
        refused=HandoverRefused,
    )


def handover_check_open(handover: Handover, *, buyer: Owner | None = None) -> None:
    """Raises HandoverRefused unless the offer can still be accepted (by `buyer`)."""
    if handover.status == Handover.Status.CANCELLED:
        raise HandoverRefused("This offer was cancelled by the seller.", status=410)
    if handover.status == Handover.Status.COMPLETED:
        raise HandoverRefused("This offer has already been used.", status=410)
    if handover.status == Handover.Status.AWAITING_SELLER:
        raise HandoverRefused("Someone else has already accepted this offer.", status=409)
    if handover.status == Handover.Status.FAILED:
        raise HandoverRefused(f"This offer failed and nothing moved: {handover.failure}", status=410)
    if handover.status == Handover.Status.EXPIRED or handover.expires_at <= timezone.now():
        raise HandoverRefused("This offer has expired. Ask the seller for a new one.", status=410)
    if buyer is not None and buyer.pk == handover.seller_id:
        raise HandoverRefused("You cannot accept your own offer.", status=403)


def handover_accept(*, handover: Handover, buyer: Owner, signed_acceptance: Any = None) -> Handover:
    """The buyer accepts every thing at once. All or nothing: if one thing cannot move, none does, the handover
    is marked failed with the reason (both sides are told) and HandoverRefused (409) says why."""
    try:
        return _accept(handover=handover, buyer=buyer, signed_acceptance=signed_acceptance)
    except _ThingFailed as exc:
        reason = str(exc)
    _record_failure(handover=handover, buyer=buyer, reason=reason)
    raise HandoverRefused(f"Nothing moved: {reason}", status=409)


@transaction.atomic
def _accept(*, handover: Handover, buyer: Owner, signed_acceptance: Any) -> Handover:
    handover = Handover.objects.select_for_update().select_related("seller").get(pk=handover.pk)
    # The loser of two simultaneous acceptances waits on the row lock and then finds it taken: 409.
    if handover.status in (Handover.Status.COMPLETED, Handover.Status.AWAITING_SELLER):
        if handover.buyer_id != buyer.pk:
            raise HandoverRefused("Someone else has already accepted this offer.", status=409)
        if handover.status == Handover.Status.AWAITING_SELLER:
            raise HandoverRefused("You accepted this offer: the things become yours when the seller signs.", status=409)
    handover_check_open(handover, buyer=buyer)
    seller = handover.seller
    # A write, so it may make keys an account still lacks; buyer_keys only reads them.
    current = owner_keys_ensure(owner=buyer)[OwnerKey.Role.CURRENT]
    twins = handover_twins(handover)
    keys = buyer_keys(buyer, handover=handover, twins=twins)
    if signed_acceptance is None:
        try:
            signer = _acceptance_signer(current, handover)
        except SelfHeldKeyRequired:
            raise HandoverRefused(
                "Your key is self-held: sign the acceptance with python -m ssi.sign and upload it."
            ) from None
        signed_acceptance = proofs.sign_document(acceptance_document(handover=handover, twins=twins, keys=keys), signer)
    acceptance = verify_acceptance(handover=handover, twins=twins, signed=signed_acceptance, keys=keys)
    now = timezone.now()
    handover.buyer = buyer
    handover.acceptance = acceptance
    handover.accepted_at = now
    try:
        self_signed = signed_by_seller(seller=seller, twins=twins)
    except HandoverRefused as exc:
        raise _ThingFailed(exc.message) from None
    if self_signed:
        handover.status = Handover.Status.AWAITING_SELLER
        handover.save(update_fields=["buyer", "acceptance", "accepted_at", "status"])
        notify(
            owner=seller,
            kind=Notification.Kind.SYSTEM,
            title=f"{buyer.get_username()} accepted your handover of {_count(twins)}: sign it to complete it",
        )
        return handover
    return _complete(handover=handover, seller=seller, buyer=buyer, twins=twins, now=now)


def _count(twins: list[Twin]) -> str:
    return f"{len(twins)} thing{'s' if len(twins) != 1 else ''}"


def _complete(
    *, handover: Handover, seller: Owner, buyer: Owner, twins: list[Twin], now, signed: dict[int, list] | None = None
) -> Handover:
    """Every twin's rotation, in the caller's transaction. `signed`: a self-held seller's signed entries by twin
    id (else the seller's platform-held keys sign)."""
    # Every twin's row locked up front, in id order (as handover_create and every other handover do): no
    # deadlock with another handover, and nothing changes under the rotations below.
    rows = Twin.objects.select_for_update().filter(pk__in=[twin.pk for twin in twins]).order_by("pk")
    locked = {twin.pk: twin for twin in rows}
    items = list(HandoverThing.objects.filter(handover=handover).order_by("twin_id"))
    for item in items:
        item.transfer_offer = _move(
            twin=locked[item.twin_id], handover=handover, seller=seller, now=now, item=item, signed=signed
        )
        item.open = False
        item.pending_agent_sealed = None
    HandoverThing.objects.bulk_update(items, ["transfer_offer", "open", "pending_agent_sealed"])
    handover.status = Handover.Status.COMPLETED
    handover.completed_at = timezone.now()
    handover.save(update_fields=["buyer", "acceptance", "accepted_at", "status", "completed_at"])
    count = _count(twins)
    notify(owner=seller, kind=Notification.Kind.SYSTEM, title=f"{count} now belong to {buyer.get_username()}")
    notify(owner=buyer, kind=Notification.Kind.SYSTEM, title=f"{count} from {seller.get_username()} are yours")
    return handover


def _check_movable(twin: Twin, seller: Owner) -> None:
    if twin.owner_id != seller.pk:
        raise _ThingFailed(f"{twin.name} no longer belongs to the seller.")
    if twin.deactivated_at is not None:
        raise _ThingFailed(f"{twin.name} was deactivated after the offer was made and can no longer change hands.")
    if TransferOffer.objects.filter(twin=twin).pending().exists():
        raise _ThingFailed(f"{twin.name} has an open transfer offer of its own; the seller must cancel it first.")


def _move(
    *, twin: Twin, handover: Handover, seller: Owner, now, item: HandoverThing, signed: dict[int, list] | None
) -> TransferOffer:
    """One twin's rotation, exactly a single transfer's, recorded as its own completed TransferOffer (the sold
    thing's page and the offers list read those). Raises _ThingFailed with the reason."""
    _check_movable(twin, seller)
    if signed is not None:
        offer = _child_offer(twin=twin, handover=handover, seller=seller, now=now)
        try:
            return transfer_rotate(
                offer=offer,
                prepared=item.prepared_entries,
                signed_entries=signed[twin.pk],
                agent=unseal_key(item.pending_agent_sealed),
                notify_sides=False,
            )
        except TransferRefused as exc:
            if exc.status in (400, 403):
                # The upload is the seller's to fix (entries not signed by the key the log committed to), not the
                # thing's: refused, the handover still waits for a good signature.
                raise HandoverRefused(f"{twin.name}: {exc.message} Nothing moved.", status=exc.status) from None
            raise _ThingFailed(f"{twin.name}: {exc.message}") from None
    state = log_state(twin)
    try:
        signer = owner_log_signer(owner=seller, did=state.did, committed=state.next_key_hashes)
    except SelfHeldKeyRequired:
        raise _ThingFailed(f"The seller's key for {twin.name} is self-held: transfer it on its own.") from None
    if signer is None:
        raise _ThingFailed(f"The seller's key does not control the ownership log of {twin.name}.")
    offer = _child_offer(twin=twin, handover=handover, seller=seller, now=now)
    try:
        return transfer_rotate(offer=offer, signer=signer, notify_sides=False)
    except TransferRefused as exc:
        raise _ThingFailed(f"{twin.name}: {exc.message}") from None


def _child_offer(*, twin: Twin, handover: Handover, seller: Owner, now) -> TransferOffer:
    try:
        with transaction.atomic():
            return TransferOffer.objects.create(
                twin=twin,
                seller=seller,
                redact_kinds=list(handover.redact_kinds),
                expires_at=handover.expires_at,
                buyer=handover.buyer,
                acceptance=handover.acceptance,
                accepted_at=now,
                status=TransferOffer.Status.AWAITING_SELLER,
            )
    except IntegrityError:
        raise _ThingFailed(f"{twin.name} was offered on its own at the same moment.") from None


# --- a self-held seller signs -----------------------------------------------------------------------------------


def _awaiting(handover: Handover, seller: Owner) -> Handover:
    handover = Handover.objects.select_for_update(of=("self",)).select_related("seller", "buyer").get(pk=handover.pk)
    if handover.seller_id != seller.pk or handover.status != Handover.Status.AWAITING_SELLER:
        raise HandoverRefused("This handover is not waiting for your signature.", status=409)
    if handover.expires_at <= timezone.now():
        raise HandoverRefused("This offer has expired.", status=410)
    return handover


def handover_prepare(*, handover: Handover, seller: Owner, revealed_key: str) -> list[dict[str, Any]]:
    """For a self-held seller: every thing's two unsigned log entries, in the offer's order, as one list to sign
    at once; kept on the handover with each thing's new agent key (sealed) until the signed list comes back. A
    thing that can no longer move fails the handover, as at the acceptance."""
    try:
        return _prepare(handover=handover, seller=seller, revealed_key=revealed_key)
    except _ThingFailed as exc:
        reason = str(exc)
    _record_failure(handover=handover, buyer=handover.buyer, reason=reason)
    raise HandoverRefused(f"Nothing moved: {reason}", status=409)


@transaction.atomic
def _prepare(*, handover: Handover, seller: Owner, revealed_key: str) -> list[dict[str, Any]]:
    handover = _awaiting(handover, seller)
    items = list(HandoverThing.objects.filter(handover=handover).select_related("twin").order_by("position"))
    # Locked in id order like every handover's: nothing changes under the entries being prepared.
    list(Twin.objects.select_for_update().filter(pk__in=[item.twin_id for item in items]).order_by("pk").values("pk"))
    everything: list[dict[str, Any]] = []
    for item in items:
        _check_movable(item.twin, seller)
        agent = SigningKey.generate()
        offer = TransferOffer(twin=item.twin, acceptance=handover.acceptance)
        try:
            item.prepared_entries = transfer_entries(offer=offer, new_agent=agent, revealed_key=revealed_key)
        except TransferRefused as exc:
            raise HandoverRefused(f"{item.twin.name}: {exc.message}", status=exc.status) from None
        item.pending_agent_sealed = seal_key(agent)
        everything += item.prepared_entries
    HandoverThing.objects.bulk_update(items, ["prepared_entries", "pending_agent_sealed"])
    return everything


def handover_sign(*, handover: Handover, seller: Owner, signed_entries: Any) -> Handover:
    """A self-held seller uploads the signed list: every thing moves now, all or nothing. Entries that are not
    the prepared ones, or not signed by the key the logs committed to, are refused (nothing changes, the seller may
    try again); a thing that can no longer move fails the handover as an acceptance would."""
    try:
        return _sign(handover=handover, seller=seller, signed_entries=signed_entries)
    except _ThingFailed as exc:
        reason = str(exc)
    _record_failure(handover=handover, buyer=handover.buyer, reason=reason)
    raise HandoverRefused(f"Nothing moved: {reason}", status=409)


@transaction.atomic
def _sign(*, handover: Handover, seller: Owner, signed_entries: Any) -> Handover:
    handover = _awaiting(handover, seller)
    items = list(HandoverThing.objects.filter(handover=handover).order_by("position"))
    if any(item.prepared_entries is None or item.pending_agent_sealed is None for item in items):
        raise HandoverRefused("Download the entries to sign first.", status=409)
    prepared = [entry for item in items for entry in item.prepared_entries]
    try:
        check_signed_entries(signed_entries, prepared)
    except TransferRefused as exc:
        raise HandoverRefused(exc.message, status=exc.status) from None
    signed: dict[int, list] = {}
    start = 0
    for item in items:
        signed[item.twin_id] = signed_entries[start : start + len(item.prepared_entries)]
        start += len(item.prepared_entries)
    twins = handover_twins(handover)
    return _complete(
        handover=handover, seller=seller, buyer=handover.buyer, twins=twins, now=timezone.now(), signed=signed
    )


@transaction.atomic
def _record_failure(*, handover: Handover, buyer: Owner, reason: str) -> None:
    handover = Handover.objects.select_for_update().select_related("seller").get(pk=handover.pk)
    if handover.status not in Handover.PENDING:
        return
    _close(handover, Handover.Status.FAILED, buyer=buyer, failure=reason, failed_at=timezone.now())
    title = "A handover failed and nothing moved"
    notify(owner=handover.seller, kind=Notification.Kind.SYSTEM, title=title, body=reason)
    notify(owner=buyer, kind=Notification.Kind.SYSTEM, title=title, body=reason)
