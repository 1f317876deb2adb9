"""Authenticity credentials of the things an organisation makes: issued by the organisation's did:webvh DID at
production (one per serial, in the batch's pass), revocable by its admins (a counterfeit or recalled serial).

The signing key is the one the organisation's DID document lists as ``#key-1`` (its agent's key, see
makers.orgs._document); the credentials app stores, serves and verifies them, and asks this module, through
credentials.authenticity.register_log_source, for an organisation's DID log when it verifies one.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from credentials import authenticity
from credentials.authenticity_models import AuthenticityCredential
from didcomm.keys import agent_key_of
from didcomm.services import agent_for_owner
from makers import orgs
from makers.models import Organisation, ProducedThing, ProductModel
from owners.models import Owner
from ssi import webvh
from ssi.credentials import method_key


def issuer_of(organisation: Organisation) -> authenticity.Issuer:
    """The organisation as a signer: its DID, the key its current DID document names as #key-1 (checked against
    the agent key we hold, so a log and a key that drifted apart sign nothing), and a signing time not before
    its log's latest version."""
    state = orgs.log_state(organisation)
    method = f"{state.did}#key-1"
    key = agent_key_of(agent_for_owner(organisation.account))
    if method_key(state.document, method, "assertionMethod").multibase != key.verify_key.multibase:
        raise authenticity.AuthenticityRefused(
            "The organisation's DID document does not list the key it signs with; nothing was issued.", status=409
        )
    return authenticity.Issuer(
        did=state.did, key=key, verification_method=method, at=max(timezone.now(), state.latest.time)
    )


def issue_for_produced(model: ProductModel, produced: Sequence[ProducedThing]) -> list[AuthenticityCredential]:
    """makers.production: an authenticity credential for each thing of a batch, in the batch's transaction."""
    organisation = model.organisation
    if not organisation.did or not produced:
        return []
    issuer = issuer_of(organisation)
    return authenticity.authenticity_issue(
        issuer=issuer,
        things=[
            authenticity.Made(
                twin=row.twin,
                model=model.name,
                serial=row.serial,
                gtin=model.gtin,
                produced_at=row.twin.created_at or timezone.now(),
                manufacturer_name=organisation.name,
            )
            for row in produced
        ],
    )


@transaction.atomic
def authenticity_revoke(
    *, organisation: Organisation, model: ProductModel, serial: str, reason: str, by: Owner
) -> AuthenticityCredential:
    """Revoke the organisation's authenticity credential of one serial of its model (admins only). Anyone
    verifying it from now on is told it was revoked; the thing's history says why."""
    orgs._require_admin(organisation, by)
    if model.organisation_id != organisation.pk:
        raise Http404("No such model.")
    credential = (
        AuthenticityCredential.objects.filter(issuer_did=organisation.did, serial=serial, model=model.name)
        .filter(twin__produced__model=model)
        .order_by("-issued_at")
        .first()
    )
    if credential is None:
        raise Http404("No authenticity credential for this serial.")
    return authenticity.authenticity_revoke(issuer=issuer_of(organisation), credential=credential, reason=reason)


def log_source(scid: str) -> webvh.LogState | None:
    """credentials.authenticity log source: the verified DID log of an organisation hosted here."""
    organisation = Organisation.objects.filter(did__startswith=f"{webvh.PREFIX}{scid}:").first()
    return orgs.log_state(organisation) if organisation is not None else None


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
    authenticity.register_log_source(log_source)
