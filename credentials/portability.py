"""The credentials part of a moving twin (issue 18): its status list, and what the move does to what it issued.

- The twin's Bitstring Status List moves whole: its ``public_id`` (the path of its URL, which the source answers
  with a 308 to the same path here), its bits and its next free index, so no bit is ever handed out twice.
- Every credential the twin issued that still stands is revoked here on the way in (its bit set): ownership,
  keeper, service and emergency credentials are held by accounts of the source instance (or by an emergency
  link of a guardian there), who have no account here; a sale ends them the same way (credentials.keepers). The
  rows themselves stay on the source, in their holders' wallets there.
- On arrival (twins.events.TwinArrived, in the transaction that makes the twin live here), the destination owner
  gets the twin's ownership credential through the transfer's own path (services.ownership_credential_issue):
  issued by the twin's DID as it is now (the destination's domain: the DID only has it once the move entries are
  in the log, after the restore), on the next bit, and the list re-signed under this instance's URL.
- Authenticity credentials (a maker's statement about the thing) name the maker's status list, which lives on the
  maker's instance. They are restored where that list is here too (the maker is on this instance); elsewhere the
  statement stays with the maker's list (the package still carries it, for the record).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from credentials import services
from credentials.models import (
    AccessCredential,
    AuthenticityCredential,
    IssuerStatusList,
    OwnershipCredential,
    StatusList,
)
from ssi import statuslist
from twins import events
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register


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
            "bits": base64.b64encode(bytes(status_list.bits)).decode(),
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
    if StatusList.objects.filter(public_id=data["public_id"]).exists():
        raise PackageError("This thing's status list is already on this instance.")
    bits = statuslist.Bitstring.from_bytes(base64.b64decode(data["bits"]))
    for index in revoke:
        if not 0 <= index < data["next_index"]:
            raise PackageError("A credential of this thing names a bit its status list never handed out.")
        bits.set(index)
    StatusList.objects.create(
        twin=twin,
        public_id=data["public_id"],
        length=data["length"],
        bits=bits.to_bytes(),
        next_index=data["next_index"],
        # Signed by the twin's DID on the source; signed again (this instance's URL, the DID here) on arrival.
        document=data["document"],
        etag=data["etag"],
        signed_at=_when(data["signed_at"]),
    )


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    if data.get("status_list"):
        _restore_status_list(data["status_list"], list(data.get("revoke") or []), arrival.twin)
    for item in data.get("authenticity") or []:
        issuer_list = IssuerStatusList.objects.filter(
            public_id=item["status_list"], issuer_did=item["issuer_did"]
        ).first()
        if issuer_list is None or AuthenticityCredential.objects.filter(id=item["id"]).exists():
            continue  # the maker's list is elsewhere (see the module docstring)
        AuthenticityCredential.objects.create(
            id=item["id"],
            twin=arrival.twin,
            issuer_did=item["issuer_did"],
            model=item["model"],
            serial=item["serial"],
            status_list=issuer_list,
            status_index=item["status_index"],
            document=item["document"],
            issued_at=_when(item["issued_at"]),
            revoked_at=_when(item["revoked_at"]),
            revoked_reason=item["revoked_reason"],
        )


def on_arrived(event: events.TwinArrived) -> None:
    """TwinArrived, in the activation's transaction: the owner here holds the twin's ownership credential, as after
    a transfer (whose credential also commits, or rolls back, with it)."""
    services.ownership_credential_issue(twin=Twin.objects.get(pk=event.twin_id))


def restore(data: dict[str, Any], arrival: Arrival) -> None:
    """Restore the part; data not in the form this module writes is refused in words (nothing is written: the
    whole restore rolls back), never a server error."""
    try:
        _restore(data, arrival)
    except PackageError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise PackageError(f"The package's status list cannot be read here ({type(exc).__name__}).") from None


register(Part(name="credentials", export=export, restore=restore, after=("twin",)))
# Here rather than in apps.py: the move's share of credentials in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.TwinArrived, on_arrived, in_transaction=True)
