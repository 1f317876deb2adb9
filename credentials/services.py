"""Writes of the credentials feature: issuing and revoking ownership credentials, signing status lists, the
verifier's policies and sessions.

Issuing and revoking run inside the transaction of the change they follow (a twin created, a twin transferred:
see apps.py), so the buyer's credential and the seller's revocation commit, or roll back, with the transfer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from credentials.models import AllClear, OwnershipCredential, StatusList, VerifierPolicy, VerifierSession
from owners.keys import SelfHeldKeyRequired, owner_keys_ensure, owner_signing_key
from owners.models import Owner, OwnerKey
from ssi import credentials as vc
from ssi import history as chain
from ssi import statuslist
from ssi.didkey import did_key
from twins.history import history_append, lock_twin, scid_of
from twins.identity import agent_key, log_state
from twins.models import DidLogEntry, HistoryEntry, Twin

CREDENTIAL_TYPE = "OwnershipCredential"
# The history kind of issuing and revoking. HistoryEntry.kind takes any [a-z0-9_.-] string (stored as str(kind));
# this one is not (yet) among twins' HistoryEntry.Kind choices, which only twins may extend. Not redactable:
# like transfers, it is part of the ownership record a buyer checks.
HISTORY_KIND = "credential"
SESSION_MINUTES = 15
SESSION_SWEEP_AFTER = timedelta(days=1)


class CredentialRefused(Exception):
    """Issuing or presenting cannot proceed; `message` says why, for the owner."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def holder_did(owner: Owner) -> str:
    """The owner's DID as a holder: did:key of their current key (platform-held or self-held)."""
    current = owner_keys_ensure(owner=owner)[OwnerKey.Role.CURRENT]
    if not current.public_multibase:
        raise CredentialRefused("Your current key has no public key on record.")
    return did_key(current.public_multibase)


def status_list_url_prefix() -> str:
    """What every twin's status list URL on this instance starts with: the list's public id follows. Format URLs
    from it where many are made at once (reverse() costs ~0.2 ms: 2 s of a 10,000-row import, issue 16)."""
    return settings.SITE_URL + reverse("credential-status-list", args=["x"])[:-1]


def status_list_url(status_list: StatusList, *, prefix: str | None = None) -> str:
    """The public URL of a twin's status list; `prefix`: status_list_url_prefix(), when the caller has it."""
    return (prefix or status_list_url_prefix()) + status_list.public_id


def _signing_time(twin: Twin) -> datetime:
    """Now, or the DID log's latest versionTime if that is ahead (whole seconds, possibly a second or two in the
    future): a proof must not predate the log version whose key makes it, or the resolver picks the old key."""
    return max(timezone.now(), log_state(twin).latest.time)


def _sign(twin: Twin, unsigned: dict[str, Any], at: datetime) -> dict[str, Any]:
    return vc.issue(unsigned, agent_key(twin), verification_method=f"{twin.did}#key-1", created=at)


def status_list_for_update(twin: Twin) -> StatusList:
    """The twin's status list, locked for this transaction (made on first use)."""
    status_list = StatusList.objects.select_for_update().filter(twin=twin).first()
    if status_list is None:
        status_list = StatusList.objects.create(twin=twin, bits=b"")  # all clear (StatusList.bitstring)
    return status_list


def status_list_sign(*, status_list: StatusList, twin: Twin) -> StatusList:
    """Sign the list as it stands now and keep the signed document (and its ETag) for the public endpoint."""
    at = _signing_time(twin)
    bits = status_list.bitstring()
    # No validFrom: the signing time may be a second ahead of the clock (see _signing_time), and a list that is
    # "not yet valid" cannot answer. No validUntil either: verifiers here read the list from the database.
    unsigned = statuslist.list_credential(url=status_list_url(status_list), issuer=twin.did, bits=bits)
    signed_list_keep(status_list, _sign(twin, unsigned, at), at)
    return status_list


def signed_list_keep(status_list: Any, signed: dict[str, Any], at: datetime) -> None:
    """Keep a status list's signed document as it is served, with its ETag (a twin's list or an issuer's)."""
    text = json.dumps(signed, separators=(",", ":"), ensure_ascii=False)
    status_list.document = text
    status_list.etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:40] + '"'
    status_list.signed_at = at
    status_list.save(update_fields=["document", "etag", "signed_at"])


def credential_sign(
    *,
    twin: Twin,
    status_list: StatusList,
    credential_id: uuid.UUID,
    types: list[str],
    subject: dict[str, Any],
    valid_until: datetime | None = None,
) -> tuple[str, int, datetime]:
    """Sign a credential of `twin` (issuer: its DID, key: its agent key) about `subject`, on the next free bit of
    its status list (locked by the caller: status_list_for_update): (document, status index, signing time).

    The one way a twin issues any credential (ownership, keeper, service access, emergency access), so they all
    verify, and revoke, alike. The caller re-signs the list (status_list_sign) once its changes are done."""
    if status_list.next_index >= status_list.length:
        raise CredentialRefused("This thing's status list is full.")
    index = status_list.next_index
    status_list.next_index = index + 1
    status_list.save(update_fields=["next_index"])
    at = _signing_time(twin)
    unsigned = vc.credential(
        issuer=twin.did,
        id=credential_id.urn,
        types=types,
        valid_from=timezone.now(),  # not `at`, which may be a second ahead: valid from the moment it is issued
        valid_until=valid_until,
        subject=subject,
        status=statuslist.status_entry(url=status_list_url(status_list), index=index),
    )
    return json.dumps(_sign(twin, unsigned, at), separators=(",", ":"), ensure_ascii=False), index, at


def status_bit_set(*, status_list: StatusList, index: int) -> None:
    """Revoke the credential on bit `index` of the (locked) list; the caller re-signs the list."""
    bits = status_list.bitstring()
    bits.set(index)
    status_list.keep(bits)
    status_list.save(update_fields=["bits"])


def _issue(twin: Twin, holder: Owner, status_list: StatusList) -> OwnershipCredential:
    credential = OwnershipCredential(twin=twin, holder=holder, holder_did=holder_did(holder), status_list=status_list)
    credential.document, credential.status_index, credential.issued_at = credential_sign(
        twin=twin,
        status_list=status_list,
        credential_id=credential.id,
        types=[CREDENTIAL_TYPE],
        subject={
            "id": credential.holder_did,
            "owns": twin.did,
            "name": twin.name,
            "model": twin.model_name,
            "serial": twin.serial,
            "since": vc.format_time(twin.owner_since or twin.created_at),
        },
    )
    credential.save(force_insert=True)
    index = credential.status_index
    history_append(
        twin=twin,
        kind=HISTORY_KIND,
        content={
            "action": "issued",
            "credential": credential.id.urn,
            "holder": credential.holder_did,
            "statusListIndex": index,
        },
    )
    return credential


def _revoke(twin: Twin, status_list: StatusList) -> OwnershipCredential | None:
    standing = OwnershipCredential.objects.select_for_update().standing().filter(twin=twin).first()
    if standing is None:
        return None
    status_bit_set(status_list=status_list, index=standing.status_index)
    standing.revoked_at = timezone.now()
    standing.save(update_fields=["revoked_at"])
    history_append(
        twin=twin,
        kind=HISTORY_KIND,
        content={"action": "revoked", "credential": standing.id.urn, "statusListIndex": standing.status_index},
    )
    return standing


@transaction.atomic
def ownership_credential_issue(*, twin: Twin) -> OwnershipCredential | None:
    """Issue the twin's ownership credential to its current owner, revoking a standing one for anyone else in the
    same transaction (a transfer), or for the owner's former DID (they registered a key of their own), and re-sign
    the twin's status list once. A twin that already has a standing credential for its owner's current DID keeps
    it (idempotent); a twin without a DID or deactivated gets none."""
    twin = lock_twin(twin)
    if not twin.did or twin.deactivated_at is not None:
        return None
    status_list = status_list_for_update(twin)
    standing = OwnershipCredential.objects.standing().filter(twin=twin).first()
    if standing is not None and standing.holder_id == twin.owner_id and standing.holder_did == holder_did(twin.owner):
        return standing
    _revoke(twin, status_list)
    credential = _issue(twin, twin.owner, status_list)
    status_list_sign(status_list=status_list, twin=twin)
    return credential


# The twins whose first ownership credential ownership_credentials_issue_new issued a moment ago, while their
# creator sends TwinCreated for them (ownership_credentials_announced): set for that block only, so it can never
# outlive the savepoint it belongs to (a rolled-back batch's ids, which SQLite hands out again, are not in it).
_issued_in_batch: ContextVar[frozenset[int]] = ContextVar("credentials_issued_in_batch", default=frozenset())


@contextmanager
def ownership_credentials_announced(twin_ids: Iterable[int]) -> Iterator[None]:
    """Around the TwinCreated events of twins whose credentials ownership_credentials_issue_new has just issued (in
    the same transaction, nothing in between): the subscriber knows they stand without asking the database, once
    a thing (10,000 queries in a 10,000-row import)."""
    token = _issued_in_batch.set(frozenset(twin_ids))
    try:
        yield
    finally:
        _issued_in_batch.reset(token)


def on_twin_created(event: Any) -> None:
    """twins.events.TwinCreated, in the creating transaction. A thing produced for a buyer to claim gets its first
    ownership credential at the claim (a transfer): an organisation holding stock needs none per item, and a
    production batch of 10,000 must fit in a request."""
    if event.for_claim:
        return
    # Made in a batch whose credentials were just issued to this owner (ownership_credentials_announced): nothing
    # to do, and nothing to ask.
    if event.twin_id in _issued_in_batch.get():
        return
    # Otherwise a credential may stand already (a caller that issued without announcing): one query instead of
    # the locks and reads of the idempotent path, which would keep it all the same.
    if OwnershipCredential.objects.standing().filter(twin_id=event.twin_id, holder_id=event.owner_id).exists():
        return
    ownership_credential_issue(twin=Twin.objects.get(pk=event.twin_id))


def on_transferred(event: Any) -> None:
    """twins.events.Transferred, in the transfer's transaction: the seller's credential is revoked at the same
    instant the buyer's is issued; a transfer that rolls back takes both with it."""
    ownership_credential_issue(twin=Twin.objects.get(pk=event.twin_id))


def demo_policy(twin: Twin) -> None:
    """twins.demo step: the demo owner, acting as a shop, accepts ownership of the demo grinder's model."""
    if twin.model_name == "Baratza Encore":
        VerifierPolicy.objects.get_or_create(
            owner=twin.owner, name="Acme grinder discount", defaults={"accepted_models": ["Baratza Encore"]}
        )


# --- verifier ------------------------------------------------------------------------------------------------


def clean_models(models: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for model in models:
        model = model.strip()
        if model:
            seen.setdefault(model[:120], None)
    return list(seen)


@transaction.atomic
def policy_save(
    *,
    owner: Owner,
    name: str,
    accepted_models: list[str],
    policy: VerifierPolicy | None = None,
    manufacturers: list[str] | None = None,
):
    policy = policy or VerifierPolicy(owner=owner)
    policy.name = name.strip()
    policy.accepted_models = clean_models(accepted_models)
    if manufacturers is not None:
        policy.manufacturers = list(manufacturers)
    policy.save()
    return policy


@transaction.atomic
def policy_delete(*, policy: VerifierPolicy) -> None:
    policy.delete()


def default_domain() -> str:
    """The domain a presentation made for this verifier names (VC Data Integrity §2.1.1): this site's host."""
    return urlsplit(settings.SITE_URL).netloc


@transaction.atomic
def verifier_session_start(*, policy: VerifierPolicy | None = None) -> VerifierSession:
    now = timezone.now()
    VerifierSession.objects.filter(expires_at__lt=now - SESSION_SWEEP_AFTER).delete()
    return VerifierSession.objects.create(
        domain=default_domain(), policy=policy, expires_at=now + timedelta(minutes=SESSION_MINUTES)
    )


@transaction.atomic
def verifier_session_spend(*, session: VerifierSession) -> bool:
    """Mark the session's challenge used; False when it was already (a race or a replay): a conditional UPDATE."""
    return bool(VerifierSession.objects.filter(pk=session.pk, used_at__isnull=True).update(used_at=timezone.now()))


# --- wallet --------------------------------------------------------------------------------------------------


def presentation_build(
    *, credential: OwnershipCredential, owner: Owner, challenge: str, domain: str
) -> tuple[dict[str, Any], bool]:
    """A presentation of `credential` for a verifier's challenge and domain: (document, signed).

    Signed with the owner's current key when the platform holds it; for a self-held key, the unsigned
    presentation (the owner signs it themselves). Writes nothing."""
    current = OwnerKey.objects.get(owner=owner, role=OwnerKey.Role.CURRENT, retired_at__isnull=True)
    did = did_key(current.public_multibase)
    try:
        key = owner_signing_key(current)
    except SelfHeldKeyRequired:
        unsigned = {
            "@context": [vc.VC_CONTEXT],
            "type": [vc.PRESENTATION_TYPE],
            "holder": did,
            "verifiableCredential": [credential.data],
        }
        return unsigned, False
    return vc.present([credential.data], key, challenge=challenge, domain=domain, holder=did), True


@transaction.atomic
def ownership_credentials_issue_new(*, twins: list[Twin]) -> list[OwnershipCredential]:
    """The first ownership credential of each of these new twins (just made, in this transaction, by
    twins.services.twins_create_many: a DID, a `created` history entry, no status list yet), to its owner: each
    exactly as :func:`ownership_credential_issue` leaves a new twin (bit 0 of its own status list, signed; the
    `credential` history entry chained after the twin's head), built in memory and inserted with one INSERT per
    kind for the whole batch. The TwinCreated subscriber then finds each credential standing and leaves it."""
    twins = [twin for twin in twins if twin.did and twin.deactivated_at is None]
    if not twins:
        return []
    pks = [twin.pk for twin in twins]
    chunk = 500
    heads: dict[int, tuple[datetime, dict[str, Any]]] = {}
    latest: dict[int, datetime] = {}
    holders: dict[int, str] = {}
    for i in range(0, len(pks), chunk):
        part = pks[i : i + chunk]
        # Each twin's head (its time and entry: no model instance a thing).
        for twin_id, time, entry in (
            HistoryEntry.objects.filter(twin_id__in=part)
            .order_by("twin_id", "seq")
            .values_list("twin_id", "time", "entry")
        ):
            heads[twin_id] = (time, entry)  # the last one per twin wins: its head
        # The latest versionTime of each log (_signing_time's floor), read from its last line. Not verify_log's
        # full check, which signature by signature re-proves the inception twins_create_many built a moment ago
        # in this transaction: 0.3 ms a thing for nothing.
        for twin_id, line in (
            DidLogEntry.objects.filter(twin_id__in=part)
            .order_by("twin_id", "version_number")
            .values_list("twin_id", "line")
        ):
            latest[twin_id] = datetime.fromisoformat(json.loads(line)["versionTime"])
    status_lists, credentials, entries = [], [], []
    url_prefix = status_list_url_prefix()
    clear = AllClear(StatusList._meta.get_field("length").default)
    for twin in twins:
        holder = twin.owner
        if holder.pk not in holders:
            holders[holder.pk] = holder_did(holder)
        key = agent_key(twin)
        status_list = StatusList(twin=twin, next_index=1, bits=b"")  # all clear (StatusList.bitstring)
        list_url = status_list_url(status_list, prefix=url_prefix)
        # As _signing_time: a proof must not predate the log version whose key makes it.
        at = max(timezone.now(), latest[twin.pk])
        credential = OwnershipCredential(
            twin=twin, holder=holder, holder_did=holders[holder.pk], status_list=status_list, status_index=0
        )
        unsigned = vc.credential(
            issuer=twin.did,
            id=credential.id.urn,
            types=[CREDENTIAL_TYPE],
            valid_from=timezone.now(),
            valid_until=None,
            subject={
                "id": credential.holder_did,
                "owns": twin.did,
                "name": twin.name,
                "model": twin.model_name,
                "serial": twin.serial,
                "since": vc.format_time(twin.owner_since or twin.created_at),
            },
            status=statuslist.status_entry(url=list_url, index=0),
        )
        signed = vc.issue(unsigned, key, verification_method=f"{twin.did}#key-1", created=at)
        credential.document = json.dumps(signed, separators=(",", ":"), ensure_ascii=False)
        credential.issued_at = at
        head = heads.get(twin.pk)
        previous = chain.redact(head[1]) if head else None
        # As twins.history: history times never decrease.
        time = max(timezone.now(), head[0]) if head else timezone.now()
        content = {
            "action": "issued",
            "credential": credential.id.urn,
            "holder": credential.holder_did,
            "statusListIndex": 0,
        }
        entry = chain.append(previous, content=content, kind=HISTORY_KIND, key=key, scid=scid_of(twin), time=time)
        entries.append(HistoryEntry(twin=twin, seq=entry["seq"], kind=HISTORY_KIND, time=time, entry=entry))
        list_at = max(timezone.now(), latest[twin.pk])
        unsigned_list = statuslist.list_credential(url=list_url, issuer=twin.did, bits=clear)
        text = json.dumps(
            vc.issue(unsigned_list, key, verification_method=f"{twin.did}#key-1", created=list_at),
            separators=(",", ":"),
            ensure_ascii=False,
        )
        status_list.document = text
        status_list.etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:40] + '"'
        status_list.signed_at = list_at
        status_lists.append(status_list)
        credentials.append(credential)
    StatusList.objects.bulk_create(status_lists, batch_size=chunk)
    for credential, status_list in zip(credentials, status_lists, strict=True):
        credential.status_list = status_list  # now with its primary key
    OwnershipCredential.objects.bulk_create(credentials, batch_size=chunk)
    HistoryEntry.objects.bulk_create(entries, batch_size=chunk)
    return credentials
