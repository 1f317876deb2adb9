"""The makers part of a moving twin (issue 18): its link to the product model and organisation that made it.

The organisation, its product models, batches and recalls live on the maker's instance, which may be the source,
this one or a third: they never travel. The twin's link to them travels as what identifies them everywhere: the
model's GTIN and the thing's serial (its GS1 Digital Link), the model's name, and the organisation's DID, slug and
name, with the base URL of the instance it lives on. Where this instance has that product model of that same
organisation (the thing comes to its maker's host), the link is restored (ProducedThing, claim state included),
so the maker's GS1 Digital Link resolves here; elsewhere it is carried in the package only. The maker's resolver
answers the thing's Digital Link with a 308 to the thing's new host (makers.resolver).

A package may come from a hostile instance (issue 18's security review), and a ProducedThing is what makes a twin
"made by" its maker here (its Digital Link, recalls, the claim). So the link is restored only on the maker's word:

- a row of the maker's for that serial whose twin moved away from here is taken over only by the same thing coming
  back: the SCID of that twin's DID equals the SCID of the arriving twin's verified DID (the DID log part verified
  it). A serial of the maker's that is another thing here refuses the package.
- with no row for the serial here (the thing's copy made room for it as the thing went live, taking the row), one is
  made only if the maker's own signed statement came with the thing: an authenticity credential the credentials part
  verified and restored (signed by the maker's DID, about this SCID) names that model's maker and that serial.
  Otherwise the link stays in the package only, as plain information: the package alone never makes a serial
  "produced" here. The claim code's hash never comes from a package (the maker's row keeps its own).

Not moved: recall notices (each names a recall of the maker's instance; the owner was told in their inbox there).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings

from credentials.models import AuthenticityCredential
from makers.models import ProducedThing, ProductModel
from ssi import webvh
from ssi.errors import SSIError
from twins import events
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def export(twin: Twin) -> dict[str, Any] | None:
    produced = ProducedThing.objects.select_related("model__organisation").filter(twin=twin).first()
    if produced is None:
        return None
    organisation = produced.model.organisation
    return {
        "gtin": produced.model.gtin,
        "serial": produced.serial,
        "model": produced.model.name,
        "organisation": {
            "did": organisation.did,
            "slug": organisation.slug,
            "name": organisation.name,
            "url": settings.SITE_URL,
        },
        "produced_at": _iso(produced.produced_at),
        "claim_code_hash": produced.claim_code_hash,
        "claimed_at": _iso(produced.claimed_at),
        "claimed_by_owner": produced.claimed_by_id is not None and produced.claimed_by_id == twin.owner_id,
    }


def _scid(did: str) -> str | None:
    try:
        return webvh.parse_did(did).scid if did else None
    except SSIError:
        return None


def _maker_vouches(model: ProductModel, serial: str, arrival: Arrival) -> bool:
    """Whether the maker's signed statement that it made this serial came with the thing (credentials part)."""
    statements = AuthenticityCredential.objects.filter(
        twin=arrival.twin, issuer_did=model.organisation.did, serial=serial
    ).values_list("document", flat=True)
    for document in statements:
        # One maker's serials are per model: the statement names the model by its GTIN when it has one.
        subject = json.loads(document).get("credentialSubject") or {}
        if (subject.get("gtin") or "") == (model.gtin or ""):
            return True
    return False


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    serial, did = data["serial"], data["organisation"]["did"]
    if not isinstance(serial, str) or not isinstance(did, str) or not did:
        raise PackageError("The package's maker's link names no serial or maker.")
    model = ProductModel.objects.select_related("organisation").filter(gtin=data["gtin"], organisation__did=did).first()
    if model is None:
        return  # the maker is elsewhere: the link stays in the package (see the module docstring)
    claimed_by = arrival.owner if data["claimed_by_owner"] is True else None
    existing = ProducedThing.objects.select_related("twin").filter(model=model, serial=serial).first()
    if existing is not None and existing.twin_id == arrival.twin.pk:
        # The thing came back to its maker's host, and the maker's row of the copy it left here followed it as the
        # copy gave way (twins.portability.give_way, after the twin part checked that the DID log extends the copy's).
        ProducedThing.objects.filter(pk=existing.pk).update(claimed_by=claimed_by if existing.claimed_at else None)
        return
    if existing is not None:
        arriving = _scid(arrival.twin.did)
        if not (existing.twin.moved_to and arriving == _scid(existing.twin.did)):
            raise PackageError(f"Serial {serial} of {model.name} is another thing on this instance.")
        # The same thing comes back to its maker's host: the maker's row follows it to the restored twin.
        ProducedThing.objects.filter(pk=existing.pk).update(
            twin=arrival.twin, claimed_by=claimed_by if existing.claimed_at else None
        )
        return
    if not _maker_vouches(model, serial, arrival):
        return  # the maker never said so here: plain information in the package (see the module docstring)
    claimed_at = _when(data["claimed_at"])
    produced = ProducedThing.objects.create(
        model=model,
        serial=serial,
        twin=arrival.twin,
        claimed_at=claimed_at,
        claimed_by=claimed_by if claimed_at else None,
    )
    ProducedThing.objects.filter(pk=produced.pk).update(produced_at=_when(data["produced_at"]))


def on_arrival_discarded(event: events.ArrivalDiscarded) -> None:
    """ArrivalDiscarded, in the discarding transaction (before the twin's rows go): a maker's row the arrival
    took over from the copy the thing left here (the same SCID, see :func:`_restore`) goes back to that copy,
    claimed by the copy's owner as before if it was claimed; a row the arrival made (on the maker's credential)
    goes with the twin."""
    produced = ProducedThing.objects.filter(twin_id=event.twin_id).select_related("twin").first()
    if produced is None:
        return
    scid = _scid(produced.twin.did)
    copies = Twin.objects.exclude(pk=event.twin_id).exclude(moved_to="").filter(did__startswith=f"did:webvh:{scid}:")
    copy = next((twin for twin in copies if _scid(twin.did) == scid and scid), None)
    if copy is None or ProducedThing.objects.filter(twin=copy).exists():
        return
    ProducedThing.objects.filter(pk=produced.pk).update(
        twin=copy, claimed_by=copy.owner if produced.claimed_at else None
    )


# After the DID log (the arriving twin's verified SCID) and the credentials (the maker's verified statement).
register(
    Part(name="makers", export=export, restore=_restore, after=("twin", "did_log", "credentials"), what="maker's link")
)
# Here rather than in apps.py: the move's share of makers in one module (autodiscovered in TwinsConfig.ready).
events.subscribe(events.ArrivalDiscarded, on_arrival_discarded, in_transaction=True)
