"""A twin's did:webvh identity: its DID log (the ownership log) and its own agent key.

Log shape (every entry verified by ssi.webvh exactly as any did:webvh resolver would):

- Inception: `updateKeys` = the creator's key for this thing, `nextKeyHashes` = the hash of their next key for
  it, signed by the former. Both are per-thing keys (owners.keys.thing_keys, ssi.thing_keys: derived from the
  creator's current and next root keys and the DID's path), so two things of one owner share no key in their
  public logs (review finding 5). Pre-rotation is active from the start, so whoever steals the key named in
  `updateKeys` still cannot change the log (SECURITY 4).
- Inception sets `portable: true` (did:webvh §"DID Portability"): the DID may later move to another instance
  with the same SCID (twins.moving). Twins incepted before that cannot move.
- Transfer: two entries signed by the seller's pre-committed next key. The first reveals it and ends
  pre-rotation (`updateKeys: [seller next]`, `nextKeyHashes: []`); the second, signed by that same key (now the
  update key), names the buyer: `updateKeys: [buyer current]`, `nextKeyHashes: [hash(buyer next)]` (the buyer's
  per-thing keys for this twin, supplied by the buyer's side), and rotates the twin's own keys in the document.

A creator whose keys are self-held cannot have the platform sign or derive for them: their twins are incepted by a
one-time platform key that is discarded at once, with `nextKeyHashes` committing to the creator's next root key
(shared by their things until each is next rotated: docs/security.md); only the creator can ever append.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from core.vault import seal_key, unseal_key
from owners.keys import owner_keys_ensure, owner_signing_key, thing_keys
from owners.models import Owner, OwnerKey
from ssi import webvh
from ssi.keys import SigningKey
from ssi.thing_keys import thing_key
from twins.models import DidLogEntry, Twin


def did_path(twin: Twin) -> tuple[str, ...]:
    """did:webvh maps `did:webvh:SCID:host:twins:<slug>` to `https://host/twins/<slug>/did.jsonl`."""
    return ("twins", twin.slug)


def twin_document(
    did: str, agent: SigningKey, *, site_url: str | None = None, also_known_as: Sequence[str] = ()
) -> dict[str, Any]:
    """The twin's DID document: its Ed25519 signing key, the X25519 key agreement key, its DIDComm endpoint on
    `site_url` (this instance's SITE_URL unless a move names the destination's), and the DIDs it was known as
    before a move (`alsoKnownAs`, as did:webvh §"DID Portability" recommends)."""
    x25519 = agent.to_x25519().public_key.multibase
    base = (site_url or settings.SITE_URL).rstrip("/")
    return webvh.document_for(
        did,
        signing_keys=[agent.verify_key],
        agreement_keys=[x25519],
        services=[
            {
                "id": "#didcomm",
                "type": "did-communication",
                "serviceEndpoint": f"{base}/didcomm/",
                "recipientKeys": [f"{did}#key-1"],
                "routingKeys": [],
                "accept": ["didcomm/aip1", "didcomm/aip2;env=rfc19"],
            }
        ],
        also_known_as=also_known_as,
    )


def handover_entries(
    state: webvh.LogState,
    *,
    revealed_key: str,
    update_keys: Sequence[str],
    next_key_hashes: Sequence[str],
    document: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The two unsigned entries that hand a twin's log to other keys, both signed by `revealed_key`, the key
    the log's `nextKeyHashes` committed to (the caller checks that it is): the first reveals it and ends
    pre-rotation, the second names the new `update_keys`, commits to `next_key_hashes` and sets `document`.
    A transfer (twins.transfer) and a move to another instance (twins.moving: `document` carries the new DID)
    build the same two."""
    return webvh.build_entries(
        state,
        [
            {"params": {"updateKeys": [revealed_key], "nextKeyHashes": []}},
            {
                "document": dict(document),
                "params": {"updateKeys": list(update_keys), "nextKeyHashes": list(next_key_hashes)},
            },
        ],
    )


def agent_key(twin: Twin) -> SigningKey:
    return unseal_key(twin.agent_key_sealed)


def _store(twin: Twin, entries: list[Mapping[str, Any]], first_number: int) -> None:
    DidLogEntry.objects.bulk_create(
        [
            DidLogEntry(
                twin=twin,
                version_number=first_number + i,
                version_id=entry["versionId"],
                line=webvh.json_line(entry),
            )
            for i, entry in enumerate(entries)
        ]
    )


@dataclass(frozen=True)
class Creator:
    """Whom a twin is incepted for: the platform-held root keys its per-thing keys derive from, or (`current`
    None) a self-held creator's next root key hash."""

    current: SigningKey | None
    upcoming: SigningKey | None
    next_key_hash: str = ""


def creator_keys(owner: Owner) -> Creator:
    """The creator's root keys, unsealed once for however many twins are incepted for them."""
    keys = owner_keys_ensure(owner=owner)
    current, upcoming = keys[OwnerKey.Role.CURRENT], keys[OwnerKey.Role.NEXT]
    if current.self_held or upcoming.self_held:
        return Creator(current=None, upcoming=None, next_key_hash=upcoming.next_key_hash)
    return Creator(current=owner_signing_key(current), upcoming=owner_signing_key(upcoming))


def twin_incept(twin: Twin, *, creator: Creator) -> tuple[SigningKey, webvh.LogState]:
    """The inception of one twin's DID, in memory (module docstring): a fresh agent key and the first log entry
    naming the creator's per-thing keys (a self-held creator: a one-time key committing to their next root key);
    sets `did` and `agent_key_sealed` on the twin (not saved). twin_identity_create, twins.services.twins_create_many
    and makers' production store it.

    `portable`: did:webvh 1.0 lets a DID change its domain (keeping its SCID) only if its first entry said so, and
    only there; every twin is incepted portable so it can move to another instance later (twins.moving)."""
    agent = SigningKey.generate()
    template = webvh.make_did(webvh.SCID_PLACEHOLDER, settings.DID_DOMAIN, did_path(twin))
    if creator.current is not None and creator.upcoming is not None:
        signer = thing_key(creator.current, template)
        next_hash = webvh.next_key_hash(thing_key(creator.upcoming, template).multibase)
    else:
        signer, next_hash = SigningKey.generate(), creator.next_key_hash
    state = webvh.create(
        signer=signer,
        domain=settings.DID_DOMAIN,
        path=did_path(twin),
        document=twin_document(template, agent),
        update_keys=[signer.multibase],
        next_key_hashes=[next_hash],
        portable=True,
    )
    twin.did = state.did
    twin.agent_key_sealed = seal_key(agent)
    return agent, state


@transaction.atomic
def twin_identity_create(*, twin: Twin, creator: Owner) -> webvh.LogState:
    """Mint the twin's DID and agent key and store the inception entry."""
    _, state = twin_incept(twin, creator=creator_keys(creator))
    twin.owner_since = twin.created_at
    twin.save(update_fields=["did", "agent_key_sealed", "owner_since"])
    _store(twin, list(state.entries), 1)
    return state


def log_state(twin: Twin) -> webvh.LogState:
    """The twin's verified DID log (verified on every read: the server trusts its own database no more than a
    buyer would)."""
    lines = list(DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True))
    return webvh.verify_log(lines)


def log_jsonl(twin: Twin) -> str:
    lines = DidLogEntry.objects.filter(twin=twin).order_by("version_number").values_list("line", flat=True)
    return "".join(line + "\n" for line in lines)


def log_append(twin: Twin, state: webvh.LogState, entries: list[Mapping[str, Any]]) -> webvh.LogState:
    """Verify `entries` on top of `state` and store them. Raises ssi LogError before anything is written.

    The (twin, version_number) unique constraint refuses a second writer at the same version (IntegrityError).
    """
    first = state.version_number + 1
    for entry in entries:
        state = webvh.append_entry(state, entry)
    _store(twin, [dict(entry) for entry in entries], first)
    return state


@transaction.atomic
def twin_to_thing_keys(twin: Twin) -> bool:
    """Move a twin incepted before per-thing keys (its log names its owner's shared root keys) to the owner's
    per-thing keys: the two entries of a hand-over (handover_entries), signed by the owner's pre-committed shared
    next key, naming the owner's keys for this thing, the document unchanged. Any did:webvh resolver accepts them;
    the old entries stay and still verify. Returns whether it appended; False for a twin already on per-thing keys,
    deactivated, moving or moved away, or whose owner's keys are self-held (the platform cannot sign for them).
    Raises ssi LogError if the entries do not verify (nothing is written)."""
    twin = Twin.objects.select_for_update().get(pk=twin.pk)
    if twin.deactivated_at is not None or twin.moved_to or twin.leaving_to:
        return False
    state = log_state(twin)
    if state.deactivated or not state.next_key_hashes:
        return False
    keys = owner_keys_ensure(owner=twin.owner)
    if any(key.self_held for key in keys.values()):
        return False
    shared = OwnerKey.objects.filter(
        owner=twin.owner, next_key_hash__in=state.next_key_hashes, sealed_seed__isnull=False
    ).first()
    if shared is None:
        return False
    signer = owner_signing_key(shared)
    mine = thing_keys(keys, state.did)
    entries = handover_entries(
        state,
        revealed_key=signer.multibase,
        update_keys=[mine.update_key],
        next_key_hashes=[mine.next_key_hash],
        document=state.document,
    )
    log_append(twin, state, [webvh.sign_entry(entry, signer) for entry in entries])
    return True
