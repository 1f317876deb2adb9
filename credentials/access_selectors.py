"""Reads of keeper and service credentials for the wallet: those the viewer issued (as a thing's owner) and those
they received (as keeper or service party). Scoped to the viewer: anyone else's is a 404, never a 403.

Emergency credentials are not here: they belong to a grant, whose holder is whoever has its link (the guardian
finds them on the emergency page)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from credentials.models import AccessCredential

WALLET_ROWS = 100  # per side: a wallet is for finding one, not an archive


@dataclass(frozen=True)
class AccessWallet:
    issued: list[AccessCredential]
    received: list[AccessCredential]


def _delegations() -> QuerySet[AccessCredential]:
    return AccessCredential.objects.exclude(role=AccessCredential.Role.EMERGENCY).select_related(
        "twin", "holder", "issued_by"
    )


def access_wallet(*, viewer: Any) -> AccessWallet:
    """The viewer's keeper and service credentials, newest first: issued by them, and received by them."""
    if not getattr(viewer, "is_authenticated", False):
        return AccessWallet(issued=[], received=[])
    rows = _delegations().order_by("-issued_at")
    return AccessWallet(
        issued=list(rows.filter(issued_by=viewer)[:WALLET_ROWS]),
        received=list(rows.filter(holder=viewer)[:WALLET_ROWS]),
    )


def access_credential_get(*, viewer: Any, credential_id: uuid.UUID) -> AccessCredential:
    """A keeper or service credential the viewer issued or holds."""
    if not getattr(viewer, "is_authenticated", False):
        raise Http404("No such credential.")
    credential = _delegations().filter(Q(issued_by=viewer) | Q(holder=viewer), pk=credential_id).first()
    if credential is None:
        raise Http404("No such credential.")
    return credential


def access_state(credential: AccessCredential, now: datetime | None = None) -> str:
    """ "revoked", "expired" or "valid", in the wallet's words."""
    if credential.revoked_at is not None:
        return "revoked"
    if credential.expires_at is not None and credential.expires_at <= (now or timezone.now()):
        return "expired"
    return "valid"
