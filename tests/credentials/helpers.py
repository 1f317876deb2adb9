"""Shared pieces of the credentials tests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.test import Client

from credentials.models import OwnershipCredential
from ssi import credentials as vc
from twins.identity import agent_key
from twins.models import Twin


def standing(twin: Twin) -> OwnershipCredential:
    return OwnershipCredential.objects.standing().get(twin=twin)


def published_list(credential: OwnershipCredential) -> dict[str, Any]:
    """The status list as a verifier fetches it, through the public endpoint."""
    url = credential.data["credentialStatus"]["statusListCredential"]
    response = Client().get(urlsplit(url).path)
    assert response.status_code == 200
    return json.loads(response.content)


def twin_issued(twin: Twin, *, valid_from: datetime | None = None, valid_until: datetime | None = None, **claims):
    """A credential the twin signs here in the test (for dates the service never uses)."""
    subject = {"id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "owns": twin.did, **claims}
    unsigned = vc.credential(
        issuer=twin.did,
        subject=subject,
        types=["OwnershipCredential"],
        valid_from=valid_from,
        valid_until=valid_until,
    )
    return vc.issue(unsigned, agent_key(twin), verification_method=f"{twin.did}#key-1")


def policy_of(owner):
    """The owner's shop policy (made on first use: the access matrix names it by id)."""
    from credentials.models import VerifierPolicy

    return VerifierPolicy.objects.get_or_create(owner=owner, name="Matrix shop", defaults={"accepted_models": ["X"]})[0]


def list_id_of(twin: Twin) -> str:
    return standing(twin).status_list.public_id


def held_by(owner):
    """A keeper credential `owner` holds (on a thing of another account, made on first use): the access matrix
    names it for the wallet's keeper and service credential routes, which are their holder's and issuer's."""
    from credentials import keepers
    from credentials.models import AccessCredential
    from owners.models import Owner
    from tests.conftest import make_owner
    from twins import services as twin_services

    issuer = Owner.objects.filter(username="matrix-lender").first() or make_owner("matrix-lender")
    credential = AccessCredential.objects.filter(holder=owner, issued_by=issuer).first()
    if credential is None:
        twin = twin_services.twin_create(owner=issuer, name="Lent to the matrix")
        credential = keepers.access_credential_issue(
            twin=twin,
            issued_by=issuer,
            holder=owner,
            role=AccessCredential.Role.KEEPER,
            capabilities=keepers.KEEPER_CAPABILITIES,
        )
    return credential


def emergency_of(world):
    """An emergency credential of alice's (a grant of her thing's made on first use), for the access matrix."""
    from credentials import emergency
    from credentials.models import AccessCredential

    credential = AccessCredential.objects.filter(twin=world.thing, role=AccessCredential.Role.EMERGENCY).first()
    if credential is None:
        grant, _token = emergency.emergency_grant_create(
            guardian=world.alice, recipient="Matrix rescue", twins=[world.thing], kinds=["angle"], hours=1
        )
        credential = grant.credentials.get()
    return credential
