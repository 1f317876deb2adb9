"""A twin's did:webvh identity: its DID log (the ownership log) and its own agent key.

Log shape (every entry verified by ssi.webvh exactly as any did:webvh resolver would):

- Inception: `updateKeys` = the creator's current key, `nextKeyHashes` = the hash of the creator's next key,
  signed by the creator's current key. Pre-rotation is active from the start, so whoever steals the key named
  in `updateKeys` still cannot change the log (SECURITY 4).
- Inception sets `portable: true` (did:webvh §"DID Portability"): the DID may later move to another instance
  with the same SCID (twins.moving). Twins incepted before that cannot move.
- Transfer: two entries signed by the seller's pre-committed next key. The first reveals it and ends
  pre-rotation (`updateKeys: [seller next]`, `nextKeyHashes: []`); the second, signed by that same key (now the
  update key), names the buyer: `updateKeys: [buyer current]`, `nextKeyHashes: [hash(buyer next)]` (supplied by
  the buyer's side), and rotates the twin's own keys in the document.

A creator whose keys are self-held cannot have the platform sign for them; their twins are incepted by a
one-time platform key that is discarded at once, with `nextKeyHashes` committing to the creator's next key:
only the creator can ever append.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from core.vault import seal_key, unseal_key
from owners.keys import owner_keys_ensure, owner_signing_key
from owners.models import Owner, OwnerKey
from ssi import webvh
from ssi.keys import SigningKey
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


def twin_incept(twin: Twin, *, signer: SigningKey, next_key_hash: str) -> tuple[SigningKey, webvh.LogState]:
    """The inception of one twin's DID, in memory: a fresh agent key, the first log entry signed by `signer` naming
    itself as update key and committing to the creator's next key; sets `did` and `agent_key_sealed` on the twin
    (not saved). twin_identity_create, twins.services.twins_create_many and makers' production store it.

    `portable`: did:webvh 1.0 lets a DID change its domain (keeping its SCID) only if its first entry said so, and
    only there; every twin is incepted portable so it can move to another instance later (twins.moving)."""
    agent = SigningKey.generate()
    template = webvh.make_did(webvh.SCID_PLACEHOLDER, settings.DID_DOMAIN, did_path(twin))
    state = webvh.create(
        signer=signer,
        domain=settings.DID_DOMAIN,
        path=did_path(twin),
        document=twin_document(template, agent),
        update_keys=[signer.multibase],
        next_key_hashes=[next_key_hash],
        portable=True,
    )
    twin.did = state.did
    twin.agent_key_sealed = seal_key(agent)
    return agent, state


@transaction.atomic
def twin_identity_create(*, twin: Twin, creator: Owner) -> webvh.LogState:
    """Mint the twin's DID and agent key and store the inception entry."""
    keys = owner_keys_ensure(owner=creator)
    current, upcoming = keys[OwnerKey.Role.CURRENT], keys[OwnerKey.Role.NEXT]
    signer = SigningKey.generate() if current.self_held else owner_signing_key(current)
    _, state = twin_incept(twin, signer=signer, next_key_hash=upcoming.next_key_hash)
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
