"""The makers part of a moving twin (issue 18): its link to the product model and organisation that made it.

The organisation, its product models, batches and recalls live on the maker's instance, which may be the source,
this one or a third: they never travel. The twin's link to them travels as what identifies them everywhere: the
model's GTIN and the thing's serial (its GS1 Digital Link), the model's name, and the organisation's DID, slug and
name, with the base URL of the instance it lives on. Where this instance has that product model of that same
organisation (the thing comes to its maker's host), the link is restored (ProducedThing, claim state included),
so the maker's GS1 Digital Link resolves here; elsewhere it is carried in the package only. The maker's resolver
answers the thing's Digital Link with a 308 to the thing's new host (makers.resolver).

Not moved: recall notices (each names a recall of the maker's instance; the owner was told in their inbox there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from makers.models import ProducedThing, ProductModel
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


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    model = (
        ProductModel.objects.select_related("organisation")
        .filter(gtin=data["gtin"], organisation__did=data["organisation"]["did"])
        .first()
    )
    if model is None:
        return  # the maker is elsewhere: the link stays in the package (see the module docstring)
    existing = ProducedThing.objects.select_related("twin").filter(model=model, serial=data["serial"]).first()
    if existing is not None and existing.twin_id != arrival.twin.pk and not existing.twin.moved_to:
        raise PackageError(f"Serial {data['serial']} of {model.name} is another thing on this instance.")
    fields = {
        "twin": arrival.twin,
        "claim_code_hash": data["claim_code_hash"],
        "claimed_at": _when(data["claimed_at"]),
        "claimed_by": arrival.owner if data["claimed_by_owner"] else None,
    }
    if existing is not None:
        # The thing comes back to its maker's host: the maker's row follows it to the restored twin.
        ProducedThing.objects.filter(pk=existing.pk).update(**fields)
        return
    produced = ProducedThing.objects.create(model=model, serial=data["serial"], **fields)
    ProducedThing.objects.filter(pk=produced.pk).update(produced_at=_when(data["produced_at"]))


def restore(data: dict[str, Any], arrival: Arrival) -> None:
    """Restore the part; data not in the form this module writes is refused in words (nothing is written: the
    whole restore rolls back), never a server error."""
    try:
        _restore(data, arrival)
    except PackageError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise PackageError(f"The package's maker's link cannot be read here ({type(exc).__name__}).") from None


register(Part(name="makers", export=export, restore=restore, after=("twin",)))
