"""Moving a twin to another instance (issue 18): the twins side of it, with no HTTP in it.

The moves app runs the protocol between the source (A) and the destination (B) (docs: the move design); this
module is what it asks of the core domain, in the order a move happens:

1. A, the owner confirming: :func:`can_move` says whether the twin may go; :func:`move_entries` signs the two DID
   log entries that hand the log to the destination owner's keys and move the DID to B's domain with the SAME
   SCID and path (did:webvh 1.0 §"DID Portability"; only a DID incepted ``portable`` may, see
   twins.identity.twin_incept); they are NOT stored yet. An owner whose keys are self-held signs them offline, as
   for a transfer: :func:`move_entries_unsigned` (to download), :func:`move_entries_signed` (the upload, checked).
   :func:`move_package` is the twin's package (twins.portability) with those entries at the end of its DID log.
2. B: :func:`arrive` restores the package for B's owner; the twin is ``arriving`` (not live: its pages 404 to
   anyone but its owner, it is on no list). A thing coming back to a host it left arrives beside the copy it left
   there, which keeps its slug and its rows until :func:`activate` (twins.returning).
3. A, once B holds it: :func:`release` appends the entries to A's log and marks the twin moved (``moved_to``), in
   one transaction; from then on A answers 308 to B for the twin's pages and API and keeps serving its DID log.
4. B, once A has let go: :func:`activate`; the twin is live on B (a returning thing's copy gives way to it now).
   Called off before that, B :func:`discard` s it (a returning thing's copy is then as it was).

The entries are the same two a transfer signs (twins.identity.handover_entries): the owner's pre-committed next key
is revealed and ends pre-rotation, then it names the destination owner's current key and commits to their next
one (SECURITY 3 and 4 hold across a move exactly as across a sale). The second entry's document has the new DID
(``did:webvh:<same SCID>:<B's domain>:twins:<slug>``), the old DID in ``alsoKnownAs`` (the spec's SHOULD) and the
DIDComm endpoint on B.

The twin's agent key stays the same (it travels in the package, sealed again on B). A transfer rotates it because
a new person takes over from one who held it; a move keeps the owner, and a rotation would not keep the key from
the source instance anyway: the entries are signed on A before B has anything, so A would be the one to make the
"new" key, and would know it. Keeping it means the signed history needs nothing special at the seam (one key
signs the entries before and after the move; ssi.history.KeySchedule accepts them through the move's DID log
versions), and peers' DIDComm connections move with the did:peer rotation that follows the TwinArrived event.
A keeps the sealed key only as it keeps the rest of its copy; nothing on A signs for the twin after release.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import Conflict
from owners.keys import SelfHeldKeyRequired, owner_log_signer
from owners.models import Notification, Owner
from owners.services import notify
from ssi import webvh
from ssi.errors import SSIError
from ssi.keys import VerifyKey
from twins import events, returning
from twins.history import history_catch_up, lock_twin
from twins.identity import agent_key, did_path, handover_entries, log_append, log_state, twin_document
from twins.models import DidLogEntry, TransferOffer, Twin
from twins.portability import PackageError, twin_package, twin_unpack
from twins.transfer import TransferRefused, check_signed_entries

DID_LOG_PART = "did_log"


class MoveRefused(Conflict):
    """A move step that cannot go on; ``message`` says why in words the owner can act on (409 unless it says)."""

    status = 409


def host_of(url: str) -> str:
    """``https://example.org:8443/`` → ``example.org:8443``: how a page names the other instance."""
    parts = urlsplit(url)
    return parts.netloc or url


def can_move(twin: Twin) -> str | None:
    """Why ``twin`` cannot move to another instance now, in words its owner can act on; None when it can."""
    name = twin.name
    if twin.moved_to:
        return f"{name} has already moved to {host_of(twin.moved_to)}."
    if twin.arriving:
        return f"{name} is still on its way here: it can move on once it has arrived."
    if twin.deactivated_at is not None:
        return f"{name} has been deactivated: a deactivated thing cannot move."
    if not twin.did:
        return f"{name} has no DID yet, so there is nothing another host could take over."
    try:
        state = log_state(twin)
    except SSIError:
        return f"The DID log of {name} does not verify here, so no host could take it over. Export it and ask us."
    if state.deactivated:
        return f"{name} has been deactivated: a deactivated thing cannot move."
    if not state.portable:
        return (
            f"{name} was created before things could move between hosts: its DID is tied to this host for good. "
            "Export its history from its page and add it as a new thing on the other host instead."
        )
    if TransferOffer.objects.pending().filter(twin=twin).exists():
        return f"{name} has an open transfer offer: cancel it on the thing's Transfer page first."
    try:
        signer = owner_log_signer(owner=twin.owner, did=state.did, committed=state.next_key_hashes)
    except SelfHeldKeyRequired:
        return None  # the owner signs offline; their upload must carry the key the log committed to
    if signer is None:
        return f"Your keys do not control the DID log of {name} any more, so it cannot be moved from this account."
    return None


def signs_offline(twin: Twin) -> bool:
    """Whether the owner's key that ``twin``'s DID log committed to is self-held: the owner then signs the move's
    entries with ``python -m ssi.sign`` (:func:`move_entries_unsigned`, :func:`move_entries_signed`), as a
    self-held seller signs a transfer, instead of this host signing them (:func:`move_entries`)."""
    try:
        state = log_state(twin)
    except SSIError:
        return False
    try:
        owner_log_signer(owner=twin.owner, did=state.did, committed=state.next_key_hashes)
    except SelfHeldKeyRequired:
        return True
    return False


def new_did(twin: Twin, new_domain: str) -> str:
    """The DID ``twin`` gets on the instance whose DID domain is ``new_domain`` (``host`` or ``host:port``, also
    ``host%3Aport``): the same SCID and path. Raises MoveRefused (400) for a domain a did:webvh cannot name."""
    domain = (new_domain or "").strip().replace("%3A", ":")
    try:
        return webvh.make_did(webvh.parse_did(twin.did).scid, domain, did_path(twin))
    except (SSIError, ValueError, UnicodeError):
        raise MoveRefused(
            f"“{domain[:80]}” is not a host name a did:webvh DID can live on (a DNS name, optionally with :port).",
            status=400,
        ) from None


def _check_keys(update_key: str, next_key_hash: str) -> None:
    try:
        VerifyKey.from_multibase(update_key)
    except (SSIError, ValueError, TypeError):
        raise MoveRefused(
            "The destination owner's update key is not an Ed25519 public key (z6Mk…).", status=400
        ) from None
    if not isinstance(next_key_hash, str) or not next_key_hash.startswith("Qm") or len(next_key_hash) != 46:
        raise MoveRefused("The destination owner's next key hash is not a key hash (Qm…).", status=400)
    if next_key_hash == webvh.next_key_hash(update_key):
        raise MoveRefused("The destination owner's next key must differ from their current key.", status=400)


def _base_url(url: str) -> str:
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise MoveRefused(f"“{url[:80]}” is not the base URL of a host (https://host[:port]).", status=400)
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _movable(twin: Twin, by: Owner) -> tuple[Twin, webvh.LogState]:
    """``twin`` afresh and its verified log, if ``by`` owns it and it may move now; MoveRefused otherwise."""
    twin = Twin.objects.select_related("owner").get(pk=twin.pk)
    if by.pk != twin.owner_id:
        raise MoveRefused("Only the thing's owner can move it.", status=403)
    reason = can_move(twin)
    if reason:
        raise MoveRefused(reason)
    return twin, log_state(twin)


def _unsigned_entries(
    twin: Twin,
    state: webvh.LogState,
    *,
    revealed_key: str,
    new_domain: str,
    new_update_key: str,
    new_next_key_hash: str,
    destination_url: str,
) -> list[dict]:
    """The two move entries (twins.identity.handover_entries) to be signed by ``revealed_key``, unsigned."""
    did = new_did(twin, new_domain)
    if did == state.did:
        raise MoveRefused(f"{twin.name} already lives at {new_domain}.", status=400)
    _check_keys(new_update_key, new_next_key_hash)
    destination = _base_url(destination_url or "https://" + did.split(":")[3].replace("%3A", ":"))
    aka = [a for a in state.document.get("alsoKnownAs") or () if a != did]
    if state.did not in aka:
        aka.append(state.did)
    document = twin_document(did, agent_key(twin), site_url=destination, also_known_as=aka)
    return handover_entries(
        state,
        revealed_key=revealed_key,
        update_keys=[new_update_key],
        next_key_hashes=[new_next_key_hash],
        document=document,
    )


def _continuing(state: webvh.LogState, signed: list[dict]) -> list[dict]:
    """``signed`` if they continue the log ``state`` as any did:webvh resolver checks it (each proof by a key the
    log allows at that point: with pre-rotation, only the key it committed to); MoveRefused (403) otherwise."""
    check = state
    try:
        for entry in signed:
            check = webvh.append_entry(check, entry)
    except SSIError as exc:
        raise MoveRefused(f"The move's DID log entries were refused: {exc}", status=403) from None
    return signed


def move_entries(
    twin: Twin,
    *,
    by: Owner,
    new_domain: str,
    new_update_key: str,
    new_next_key_hash: str,
    destination_url: str = "",
) -> list[dict]:
    """The signed DID log entries that move ``twin`` to ``new_domain`` (same SCID and path) and hand its log to the
    destination owner's keys (``new_update_key``, and ``new_next_key_hash`` pre-committed); NOT stored (release
    stores them once the destination holds the twin). ``destination_url``: the destination's base URL, where the
    new document's DIDComm endpoint is (default ``https://<new_domain>``). Signed by ``by``'s key that the log
    committed to; ``by`` must be the owner. Raises MoveRefused (the reason, and 400/403/409), and
    SelfHeldKeyRequired when ``by`` holds that key themselves: they sign the entries of
    :func:`move_entries_unsigned`, checked by :func:`move_entries_signed`."""
    twin, state = _movable(twin, by)
    try:
        signer = owner_log_signer(owner=by, did=state.did, committed=state.next_key_hashes)
    except SelfHeldKeyRequired:
        raise SelfHeldKeyRequired(SIGN_OFFLINE) from None
    if signer is None:  # can_move said yes a moment ago; the keys changed since
        raise MoveRefused("Your keys do not control this thing's DID log.", status=403)
    entries = _unsigned_entries(
        twin,
        state,
        revealed_key=signer.multibase,
        new_domain=new_domain,
        new_update_key=new_update_key,
        new_next_key_hash=new_next_key_hash,
        destination_url=destination_url,
    )
    return _continuing(state, [webvh.sign_entry(entry, signer) for entry in entries])


# What an owner whose keys are self-held does instead of a click (the confirmation page and API offer both halves).
SIGN_OFFLINE = (
    "Your update keys are self-held: download this move's entries, sign them with "
    "python -m ssi.sign sign NEXT_KEYFILE entries.json --attach (for a thing whose log names your key for it, "
    "NEXT_KEYFILE is the file python -m ssi.sign thingkey NEXT_KEYFILE DID --write writes) and upload the result."
)


def move_entries_unsigned(
    twin: Twin,
    *,
    by: Owner,
    revealed_key: str,
    new_domain: str,
    new_update_key: str,
    new_next_key_hash: str,
    destination_url: str = "",
) -> list[dict]:
    """For an owner who holds their keys: the entries :func:`move_entries` would sign, unsigned, to be signed by
    ``revealed_key``, the owner's next key that the log committed to (they give its public half: ``python -m
    ssi.sign pubkey NEXT_KEYFILE``), as a self-held seller signs a transfer (twins.transfer.transfer_prepare).
    Read only: the caller keeps them to compare the upload with. MoveRefused (400/403/409) as move_entries."""
    twin, state = _movable(twin, by)
    revealed = (revealed_key or "").strip()
    try:
        VerifyKey.from_multibase(revealed)
    except (SSIError, ValueError, TypeError):
        raise MoveRefused(
            "That is not an Ed25519 public key (z6Mk…): give your next key's (python -m ssi.sign pubkey NEXT_KEYFILE).",
            status=400,
        ) from None
    if webvh.next_key_hash(revealed) not in state.next_key_hashes:
        raise MoveRefused(
            f"That is not the next key the DID log of {twin.name} committed to: give the public key of your NEXT "
            "key file (python -m ssi.sign pubkey NEXT_KEYFILE).",
            status=403,
        )
    return _unsigned_entries(
        twin,
        state,
        revealed_key=revealed,
        new_domain=new_domain,
        new_update_key=new_update_key,
        new_next_key_hash=new_next_key_hash,
        destination_url=destination_url,
    )


def _version_number(entry: Mapping[str, Any]) -> int | None:
    try:
        return int(str(entry["versionId"]).split("-", 1)[0])
    except (KeyError, TypeError, ValueError):
        return None


def move_entries_signed(
    twin: Twin, *, by: Owner, signed: Any, prepared: Sequence[Mapping[str, Any]] | None
) -> list[dict]:
    """A self-held owner's upload: ``signed`` must be exactly the ``prepared`` entries (:func:`move_entries_unsigned`,
    kept by the caller) each with its proof (the transfer's check, twins.transfer.check_signed_entries), prepared on
    the log as it stands now, and signed by the key the log committed to. Returns them, for :func:`release`; raises
    MoveRefused in words otherwise (nothing is written here either way): 409 for nothing prepared or entries gone
    stale (the log moved on since the download), 400 for other entries or an altered one, 403 for a signature by a
    key the log does not allow."""
    twin, state = _movable(twin, by)
    if not prepared:
        raise MoveRefused("Download this move's entries to sign first.")
    try:
        check_signed_entries(signed, [dict(entry) for entry in prepared])
    except TransferRefused:
        raise MoveRefused(
            f"These are not the {len(prepared)} entries this move needs, each signed: entries of another move, or "
            "changed after download, are refused. Download them again, sign them with python -m ssi.sign sign "
            "NEXT_KEYFILE entries.json --attach and upload its output unchanged.",
            status=400,
        ) from None
    if _version_number(prepared[0]) != state.version_number + 1:
        raise MoveRefused(
            f"The DID log of {twin.name} has changed since you downloaded these entries, so they no longer continue "
            "it: download them again and sign the new ones."
        )
    return _continuing(state, [dict(entry) for entry in signed])


def move_package(twin: Twin, *, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The twin's package (twins.portability.twin_package) with the move ``entries`` at the end of its DID log, as
    the destination restores it. Secret as a whole (the twin's keys are in it, unsealed)."""
    # What the catch-ups hold back (ingested readings not yet in the history) goes into the history first, so the
    # package's history has every reading its readings part carries.
    history_catch_up(twin=twin)
    package = twin_package(twin)
    return with_move_entries(package, entries)


def with_move_entries(package: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of ``package`` whose DID log ends with ``entries`` (those already at its end are not added twice)."""
    out = copy.deepcopy(dict(package))
    lines = list((out.get("parts") or {}).get(DID_LOG_PART) or [])
    new = [webvh.json_line(entry) for entry in entries]
    if lines[-len(new) :] != new:
        lines.extend(new)
    out.setdefault("parts", {})[DID_LOG_PART] = lines
    return out


def _last_entry(package: Any) -> dict[str, str]:
    """The DID and the versionId of the last entry of the package's DID log ({} when it has none to read)."""
    try:
        last = package["parts"][DID_LOG_PART][-1]
        entry = json.loads(last) if isinstance(last, str) else last
        return {"did": str(entry["state"]["id"]), "versionId": str(entry["versionId"])}
    except (IndexError, TypeError, ValueError, KeyError, AttributeError):
        return {}


@transaction.atomic
def arrive(
    package: Mapping[str, Any],
    *,
    owner: Owner,
    source_url: str,
    destination_url: str,
    entries: Sequence[Mapping[str, Any]] | None = None,
) -> Twin:
    """On the destination: restore ``package`` (with the move ``entries`` in its DID log, or given here) for
    ``owner``. The twin is ``arriving``: not live until :func:`activate`. The DID log part refuses a log whose
    last entry does not name this instance's domain and ``owner``'s current key (PackageError, nothing written).

    Idempotent: the same package again, while the twin is still arriving for the same owner, returns it. The
    entries may also come in the package itself, as ``package["move"]["entries"]``."""
    if entries is None and isinstance(package, Mapping) and isinstance(package.get("move"), Mapping):
        entries = package["move"].get("entries")
    if entries:
        package = with_move_entries(package, entries)
    last = _last_entry(package)
    if last:
        # By its DID (which names its slug), or for a thing coming back, which has a slug of its own and no DID
        # until it goes live (twins.returning), by the last entry of its DID log.
        arrived = Q(did=last["did"]) | Q(did="", did_log__version_id=last["versionId"])
        existing = Twin.objects.filter(arrived, arriving=True, owner_id=owner.pk).first()
        if existing is not None:
            return existing
    where = {"owner": owner, "source_url": source_url, "destination_url": destination_url}
    if returning.copy_here(package):
        twin = returning.arrive(package, **where)
    else:
        twin = twin_unpack(package, **where)
    if not DidLogEntry.objects.filter(twin=twin).exists():
        raise PackageError("the package has no DID log, so the thing would have no identity here")
    return twin


def _log_ends_with(twin: Twin, entries: Sequence[Mapping[str, Any]]) -> bool:
    wanted = [entry.get("versionId") for entry in entries]
    last = list(
        DidLogEntry.objects.filter(twin=twin)
        .order_by("-version_number")
        .values_list("version_id", flat=True)[: len(wanted)]
    )
    return bool(wanted) and list(reversed(last)) == wanted


@transaction.atomic
def release(twin: Twin, *, entries: list[dict], destination_url: str) -> Twin:
    """On the source, once the destination holds the twin: append the move ``entries`` to its DID log, set
    ``moved_to``/``moved_at``, cancel any open transfer offer, tell the owner, and send TwinMovedAway after commit;
    all in one transaction. Idempotent: already released to this destination with these entries returns the twin.
    Raises MoveRefused when the entries do not continue the log or do not move the DID."""
    destination = _base_url(destination_url)
    if not isinstance(entries, list) or not entries or not all(isinstance(e, Mapping) for e in entries):
        raise MoveRefused("The move's DID log entries are missing.", status=400)
    twin = lock_twin(twin)
    if twin.moved_to:
        if twin.moved_to.rstrip("/") == destination and _log_ends_with(twin, entries):
            return twin
        raise MoveRefused(f"{twin.name} has already moved to {host_of(twin.moved_to)}.")
    if twin.arriving:
        raise MoveRefused(f"{twin.name} has not arrived here yet, so it cannot move on.")
    state = log_state(twin)
    try:
        new_state = log_append(twin, state, [dict(entry) for entry in entries])
    except SSIError as exc:
        raise MoveRefused(f"The move's DID log entries do not continue this thing's log: {exc}", status=403) from None
    except IntegrityError:
        raise MoveRefused("This thing's DID log changed at the same moment; try again.") from None
    if new_state.did == state.did:
        raise MoveRefused("These DID log entries do not move the thing's DID to another host.", status=400)
    now = timezone.now()
    twin.moved_to = destination
    twin.moved_at = now
    # Kept set once moved: the history's hot path reads only leaving_to to refuse a closed twin (twins.leaving).
    twin.leaving_to = destination
    twin.save(update_fields=["moved_to", "moved_at", "leaving_to", "updated_at"])
    TransferOffer.objects.pending().filter(twin=twin).update(status=TransferOffer.Status.CANCELLED, cancelled_at=now)
    notify(owner=twin.owner, kind=Notification.Kind.SYSTEM, title=f"{twin.name} now lives at {host_of(destination)}")
    events.send(events.TwinMovedAway(twin_id=twin.pk, owner_id=twin.owner_id, moved_to=destination))
    return twin


@transaction.atomic
def activate(twin: Twin) -> Twin:
    """On the destination, once the source has let go: the twin is live here (``arriving`` off), its owner is
    told, and TwinArrived is sent after commit. Idempotent: a live twin is returned as it is."""
    twin = lock_twin(twin)
    if not twin.arriving:
        return twin
    try:
        returning.go_live(twin)  # a thing coming back: the copy it left here gives way now
    except PackageError as exc:
        raise MoveRefused(f"{twin.name} cannot go live here: {exc}") from None
    twin = Twin.objects.get(pk=twin.pk)
    twin.arriving = False
    twin.leaving_to = ""  # a thing that comes back to a host it once left
    twin.save(update_fields=["arriving", "leaving_to", "updated_at"])
    state = log_state(twin)
    previous = next((v.did for v in reversed(state.versions) if v.did != state.did), "")
    notify(owner=twin.owner, kind=Notification.Kind.SYSTEM, title=f"{twin.name} has moved here", twin=twin)
    events.send(events.TwinArrived(twin_id=twin.pk, owner_id=twin.owner_id, previous_did=previous))
    return twin


@transaction.atomic
def discard(twin: Twin) -> None:
    """On the destination, when a move is called off after the package arrived (the source never let go): delete
    the arriving twin and everything restored with it. ArrivalDiscarded goes first, in this transaction, so each
    feature removes its own rows. A twin that is live here is refused (MoveRefused): only an arrival is undone."""
    twin = lock_twin(twin)
    if not twin.arriving:
        raise MoveRefused(f"{twin.name} lives here: only a thing still arriving can be discarded.")
    events.send(events.ArrivalDiscarded(twin_id=twin.pk, owner_id=twin.owner_id))
    returning.forget(twin)
    photo = twin.photo.name if twin.photo else ""
    storage = twin.photo.storage if twin.photo else None
    twin.delete()
    if photo and storage is not None:
        transaction.on_commit(lambda: storage.delete(photo), robust=True)


def is_live(twin: Twin) -> bool:
    """Whether this instance is where the twin lives now (not moved away, not still arriving)."""
    return not twin.moved_to and not twin.arriving


def history_open(twin: Twin) -> bool:
    """Whether ``twin``'s signed history takes entries here: it lives here, is not on its way to another host
    (twins.leaving) and is not deactivated. A revocation must take effect whatever the thing is doing: it checks
    this and leaves the history entry out when closed, instead of letting the history's refusal undo it."""
    return twin.deactivated_at is None and is_live(twin) and not twin.leaving_to


def revoked_while_leaving(twin: Twin, what: str) -> None:
    """After a revocation of ``what`` for a thing on its way to another host: the thing's package was built
    before it, so the owner is told to revoke it again there once it has arrived."""
    if twin.leaving_to and not twin.moved_to:
        notify(
            owner=twin.owner,
            kind=Notification.Kind.SYSTEM,
            title=f"{twin.name} is moving to {host_of(twin.leaving_to)}: revoke {what} there again once it arrives",
            twin=twin,
        )
