"""An owner who registers keys of their own gets a new holder DID (the did:key of their new current key): every
ownership credential they hold is re-issued to it, the old one revoked on the twin's status list, in the
registration's transaction (owners.signals.owner_key_registered). A credential naming a DID its holder can no
longer sign for could not be presented by them: a verifier would see someone else's credential."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from credentials.models import OwnershipCredential
from credentials.services import holder_did, ownership_credential_issue
from owners.models import Owner
from twins.models import Twin


@transaction.atomic
def ownership_credentials_reissue(*, owner: Owner) -> list[OwnershipCredential]:
    """Re-issue each standing ownership credential of `owner` that names another DID than their current one."""
    did = holder_did(owner)
    stale = (
        OwnershipCredential.objects.standing()
        .filter(holder=owner)
        .exclude(holder_did=did)
        .order_by("twin_id")  # one lock order for every writer of these twins
        .values_list("twin_id", flat=True)
    )
    issued = []
    for twin in Twin.objects.filter(pk__in=list(stale), owner=owner).order_by("pk"):
        credential = ownership_credential_issue(twin=twin)
        if credential is not None:
            issued.append(credential)
    return issued


def on_owner_key_registered(sender: Any, owner: Owner, **kwargs: Any) -> None:
    """owners.signals.owner_key_registered receiver, inside the registration's transaction."""
    ownership_credentials_reissue(owner=owner)
