"""The credentials part of a moving twin (issue 18): its status list, and what the move does to what it issued.

- The twin's Bitstring Status List moves whole: its ``public_id`` (the path of its URL, which the source answers
  with a 308 to the same path here), its bits and its next free index, so no bit is ever handed out twice.
- Every credential the twin issued that still stands is revoked here on the way in (its bit set): ownership,
  keeper, service and emergency credentials are held by accounts of the source instance (or by an emergency
  link of a guardian there), who have no account here; a sale ends them the same way (credentials.keepers). The
  rows themselves stay on the source, in their holders' wallets there; the release ends the keeper, service and
  emergency ones there too (reason "moved", their bits set: :func:`on_moved_away`), so the source agrees with the
  list the thing publishes from its new host.
- A thing that comes back to a host it left takes back the list its copy kept here (:func:`_take_back`): the
  package's bits are added, and every credential here whose bit is set is marked revoked, so no credential the
  list says is revoked gives anything here (review finding 1, session 11).
- On arrival (twins.events.TwinArrived, in the transaction that makes the twin live here), the destination owner
  gets the twin's ownership credential through the transfer's own path (services.ownership_credential_issue):
  issued by the twin's DID as it is now (the destination's domain: the DID only has it once the move entries are
  in the log, after the restore), on the next bit, and the list re-signed under this instance's URL.
- Authenticity credentials (a maker's statement about the thing) name the maker's status list, which lives on the
  maker's instance. They are restored where that list is here too (the maker is on this instance); elsewhere the
  statement stays with the maker's list (the package still carries it, for the record).

  A package may come from a hostile instance, and a restored authenticity credential is what a shop's policy
  (credentials.verification.TwinModelPolicy) trusts, so nothing in it is taken on the package's word. One is
  restored only if its ``document`` verifies here (eddsa-jcs-2022, against the maker's DID log as this instance
  knows it), its issuer is the maker the entry names, its subject is the arriving twin (the SCID of its DID, which
  the DID log part verified), its ``credentialStatus`` points at that maker's list here, on a bit the list has
  handed out and no other credential holds; model and serial are read from the signed document, and whether it
  is revoked from the maker's bit here. Any other is dropped (it stays in the package, as one whose maker is
  elsewhere does): the thing arrives, without the forged statement.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from credentials import authenticity, services
from credentials.models import (
    AccessCredential,
    AuthenticityCredential,
    IssuerStatusList,
    OwnershipCredential,
    StatusList,
)
from credentials.verification import InstanceResolver
from ssi import credentials as vc
from ssi import statuslist, webvh
from ssi.errors import SSIError
from twins import events
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register

# The reason a credential of the thing ended because the thing moved to another host.
MOVED = "moved"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def export(twin: Twin) -> dict[str, Any] | None:
    status_list = StatusList.objects.filter(twin=twin).first()
    authenticity = list(AuthenticityCredential.objects.filter(twin=twin).select_related("status_list"))
    if status_list is None and not authenticity:
        return None
    standing = sorted(
        [
            *OwnershipCredential.objects.standing().filter(twin=twin).values_list("status_index", flat=True),
            *AccessCredential.objects.filter(twin=twin, revoked_at__isnull=True).values_list("status_index", flat=True),
        ]
    )
    return {
        "status_list": None
        if status_list is None
        else {
            "public_id": status_list.public_id,
            "length": status_list.length,
            # The whole bitstring, even while it is stored empty (all clear): what any host reads.
            "bits": base64.b64encode(status_list.bitstring().to_bytes()).decode(),
            "next_index": status_list.next_index,
            "document": status_list.document,
            "etag": status_list.etag,
            "signed_at": _iso(status_list.signed_at),
        },
        "revoke": standing,
        "authenticity": [
            {
                "id": str(item.id),
                "issuer_did": item.issuer_did,
                "model": item.model,
                "serial": item.serial,
                "status_list": item.status_list.public_id,
                "status_index": item.status_index,
                "document": item.document,
                "issued_at": _iso(item.issued_at),
                "revoked_at": _iso(item.revoked_at),
                "revoked_reason": item.revoked_reason,
            }
            for item in authenticity
        ],
    }


def _restore_status_list(data: dict[str, Any], revoke: list[int], twin: Twin) -> None:
    kept = StatusList.objects.filter(public_id=data["public_id"]).first()
    if kept is not None:
        if kept.twin_id != twin.pk:
            raise PackageError("This thing's status list is already on this instance.")
        _take_back(kept, data, revoke)
        return
    restored = StatusList(
        twin=twin,
        public_id=data["public_id"],
        length=data["length"],
        bits=base64.b64decode(data["bits"]),  # empty (all clear) as this host stores it, or the whole bitstring
        next_index=data["next_index"],
        # Signed by the twin's DID on the source; signed again (this instance's URL, the DID here) on arrival.
        document=data["document"],
        etag=data["etag"],
        signed_at=_when(data["signed_at"]),
    )
    bits = restored.bitstring()
    for index in revoke:
        if not 0 <= index < data["next_index"]:
            raise PackageError("A credential of this thing names a bit its status list never handed out.")
        bits.set(index)
    restored.keep(bits)
    restored.save(force_insert=True)


def _take_back(kept: StatusList, data: dict[str, Any], revoke: list[int]) -> None:
    """The thing came back to a host it left: its list is the one the copy kept here (twins.portability.give_way
    pointed it at the arriving twin, with the credentials its holders here still have on it). The package's bits
    are added to it, never cleared: a bit set here (revoked) stays set, and no index is handed out twice."""
    if data["length"] != kept.length:
        raise PackageError("This thing's status list does not match the one it left here.")
    next_index = max(kept.next_index, data["next_index"])
    given = base64.b64decode(data["bits"])
    ours = kept.bitstring().to_bytes()
    if given and len(given) != len(ours):
        raise PackageError("This thing's status list does not match the one it left here.")
    bits = statuslist.Bitstring.from_bytes(bytes(a | b for a, b in zip(ours, given or bytes(len(ours)), strict=True)))
    for index in revoke:
        if not 0 <= index < next_index:
            raise PackageError("A credential of this thing names a bit its status list never handed out.")
        bits.set(index)
    kept.next_index = next_index
    kept.keep(bits)
    kept.save()
    _revoked_as_listed(kept, bits)


def _revoked_as_listed(status_list: StatusList, bits: statuslist.Bitstring) -> None:
    """Every credential on ``status_list`` whose bit is set is revoked here too (review finding 1, session 11):
    the database and the published list never disagree. The copy's credentials stayed here, pointed at the thing
    come back (twins.portability.give_way), and the access checks read ``revoked_at``, not the list: a keeper,
    service or emergency credential the owner gave here before the thing left, which the host it went to revoked
    (as every host does on the way in), would otherwise give its holder the thing again."""
    now = timezone.now()
    for model in (OwnershipCredential, AccessCredential):
        standing = model.objects.filter(status_list=status_list, revoked_at__isnull=True)
        listed = [pk for pk, index in standing.values_list("pk", "status_index") if bits.test(index)]
        fields = {"revoked_reason": MOVED} if model is AccessCredential else {}
        model.objects.filter(pk__in=listed).update(revoked_at=now, **fields)


def on_moved_away(event: events.TwinMovedAway) -> None:
    """TwinMovedAway, in the release's transaction: the keeper, service and emergency credentials the owner gave
    here end (reason "moved"), their bits set, as the destination revokes them on the way in (the package's
    ``revoke``): the source agrees with the list the thing now publishes, and a thing that comes back later does
    not bring them back to life (review finding 1, session 11). The list is not signed again here: it is served
    from the new host now (credentials.views.status_list answers 308), and a return signs it again on arrival."""
    standing = AccessCredential.objects.filter(twin_id=event.twin_id, revoked_at__isnull=True)
    indices = list(standing.values_list("status_index", flat=True))
    if not indices:
        return
    status_list = StatusList.objects.select_for_update().get(twin_id=event.twin_id)
    bits = status_list.bitstring()
    for index in indices:
        bits.set(index)
    status_list.keep(bits)
    status_list.save(update_fields=["bits"])
    standing.update(revoked_at=timezone.now(), revoked_reason=MOVED)


def _scid(did: Any) -> str | None:
    try:
        return webvh.parse_did(did).scid
    except SSIError:
        return None


def _authenticity(item: dict[str, Any], twin: Twin) -> AuthenticityCredential | None:
    """The package's authenticity credential as a row to store here, or None when it must be dropped (see the
    module docstring: the maker's list is elsewhere, or the statement does not verify here)."""
    try:
        document = json.loads(item["document"]) if isinstance(item["document"], str) else None
    except ValueError:
        return None
    if not isinstance(document, dict) or authenticity.CREDENTIAL_TYPE not in (document.get("type") or []):
        return None
    issuer, subject = vc.issuer_id(document), document.get("credentialSubject")
    if issuer != item["issuer_did"] or not isinstance(subject, dict) or not twin.did:
        return None
    if _scid(subject.get("id")) is None or _scid(subject.get("id")) != _scid(twin.did):
        return None  # a statement about another thing
    try:
        entry = statuslist.read_entry(document.get("credentialStatus"))
    except statuslist.StatusListError:
        return None
    prefix = authenticity.status_url_prefix()
    if not entry.url.startswith(prefix) or entry.purpose != "revocation":
        return None
    issuer_list = IssuerStatusList.objects.filter(public_id=entry.url.removeprefix(prefix), issuer_did=issuer).first()
    if issuer_list is None or not issuer_list.document or not 0 <= entry.index < issuer_list.next_index:
        return None  # the maker's list is elsewhere, or that bit was never handed out
    if AuthenticityCredential.objects.filter(status_list=issuer_list, status_index=entry.index).exists():
        return None  # that bit is another credential's (or this one is here already)
    result = vc.verify_credential(
        document, resolver=InstanceResolver(), status_lists=[json.loads(issuer_list.document)]
    )
    if result.verdict not in (vc.Verdict.VALID, vc.Verdict.REVOKED) or result.issuer != issuer:
        return None
    revoked = statuslist.Bitstring.from_bytes(bytes(issuer_list.bits)).test(entry.index)
    model, serial = subject.get("model"), subject.get("serial")
    return AuthenticityCredential(
        id=item["id"],
        twin=twin,
        issuer_did=issuer,
        model=model[:200] if isinstance(model, str) else "",
        serial=serial[:100] if isinstance(serial, str) else "",
        status_list=issuer_list,
        status_index=entry.index,
        document=item["document"],
        issued_at=_when(item["issued_at"]) or timezone.now(),
        revoked_at=(_when(item["revoked_at"]) or timezone.now()) if revoked else None,
        revoked_reason=str(item["revoked_reason"] or "revoked by its maker")[:200] if revoked else "",
    )


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    if data.get("status_list"):
        _restore_status_list(data["status_list"], list(data.get("revoke") or []), arrival.twin)
    standing: set[str] = set()
    for item in data.get("authenticity") or []:
        if AuthenticityCredential.objects.filter(id=uuid.UUID(str(item["id"]))).exists():
            continue
        row = _authenticity(item, arrival.twin)
        if row is None or (row.revoked_at is None and row.issuer_did in standing):
            continue  # dropped (see the module docstring); one standing statement per maker
        row.save(force_insert=True)
        if row.revoked_at is None:
            standing.add(row.issuer_did)


def on_arrived(event: events.TwinArrived) -> None:
    """TwinArrived, in the activation's transaction: the owner here holds the twin's ownership credential, as after
    a transfer (whose credential also commits, or rolls back, with it)."""
    services.ownership_credential_issue(twin=Twin.objects.get(pk=event.twin_id))


# After the DID log: an authenticity credential's subject is checked against the twin's verified DID.
# Replaces the maker's statements only (the package brings them, verified again); the status list and the
# credentials its holders have here stay (twins.portability.give_way; _restore_status_list takes the list back).
register(
    Part(
        name="credentials",
        export=export,
        restore=_restore,
        after=("twin", "did_log"),
        what="status list",
        replaces=("credentials.AuthenticityCredential",),
    )
)
# Here rather than in apps.py: the move's share of credentials in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.TwinArrived, on_arrived, in_transaction=True)
events.subscribe(events.TwinMovedAway, on_moved_away, in_transaction=True)
