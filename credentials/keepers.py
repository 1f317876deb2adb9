"""Keepers and service access: the owner lets another account of this instance act on one twin, with a credential
the twin signs (as it signs ownership: credentials.services.credential_sign) and revokes on its status list.

- A **keeper** (a rancher keeping an investor's cattle, a house-sitter) sees the twin among their cards, opens its
  page, adds readings (movements too: location readings), journal entries; optional expiry.
- A **service access** (a manufacturer's or a repairer's account, for one remote job) allows exactly the
  capabilities it lists, until its required expiry; while it lets them open the page, the twin is among their
  cards with a "service" badge.

Both see the page live (twins.consumers.TwinConsumer asks their access again before each push), find the twin in
GET /api/things/ marked with their role, and find the credential in their wallet (credentials.access_selectors).

Neither can transfer, delete, archive, change grants, issue credentials or read the owner's contact data: those
routes ask twins.selectors.twin_get for the owner (its default), and the providers below never give OWNER.
Access is checked against the database on every request (no cache): a revocation or an expiry counts on the
next request. A transfer revokes every keeper and service credential the seller issued (on_transferred).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from credentials.models import AccessCredential
from credentials.services import (
    CredentialRefused,
    credential_sign,
    holder_did,
    status_bit_set,
    status_list_for_update,
    status_list_sign,
)
from owners.models import Notification, Owner
from owners.services import notify
from twins import access
from twins.history import history_append, lock_twin
from twins.models import HistoryEntry, Twin
from twins.moving import history_open, revoked_while_leaving

KEEPER_TYPE = "KeeperCredential"
SERVICE_TYPE = "ServiceAccessCredential"
TYPES = {AccessCredential.Role.KEEPER: KEEPER_TYPE, AccessCredential.Role.SERVICE: SERVICE_TYPE}
# A keeper looks after the thing: everything a delegation can give.
KEEPER_CAPABILITIES = tuple(access.CAPABILITIES)
SERVICE_MAX_HOURS = 90 * 24
KEEPER_MAX_DAYS = 3650


def _check_issue(twin: Twin, issued_by: Owner, holder: Owner, role: str, capabilities: list[str], expires_at) -> None:
    if twin.owner_id != issued_by.pk:
        raise CredentialRefused("Only the thing's owner can let someone else act on it.")
    if not twin.did or twin.deactivated_at is not None:
        raise CredentialRefused("This thing has no identity to sign with (or is deactivated).")
    if holder.pk == issued_by.pk:
        raise CredentialRefused("You own this thing already: name another account.")
    if not holder.is_active:
        raise CredentialRefused("That account is closed.")
    unknown = set(capabilities) - set(access.CAPABILITIES)
    if unknown or not capabilities:
        raise CredentialRefused("Choose at least one thing it allows, from the list.")
    if role == AccessCredential.Role.SERVICE and expires_at is None:
        raise CredentialRefused("Service access needs an end: say for how long.")
    if expires_at is not None and expires_at <= timezone.now():
        raise CredentialRefused("The end must be in the future.")


@transaction.atomic
def access_credential_issue(
    *,
    twin: Twin,
    issued_by: Owner,
    holder: Owner,
    role: str,
    capabilities: list[str] | tuple[str, ...],
    expires_at: datetime | None = None,
) -> AccessCredential:
    """Issue a keeper or service access credential, signed by the twin's DID, with a bit on its status list; a
    standing one of the same role for the same holder is revoked in the same transaction (a renewal). Both
    are history entries. Raises CredentialRefused with a reason the owner can act on."""
    if role not in TYPES:
        raise CredentialRefused("Unknown kind of access.")
    capabilities = list(dict.fromkeys(capabilities))
    twin = lock_twin(twin)
    _check_issue(twin, issued_by, holder, role, capabilities, expires_at)
    status_list = status_list_for_update(twin)
    for old in AccessCredential.objects.select_for_update().filter(
        twin=twin, holder=holder, role=role, revoked_at__isnull=True
    ):
        _revoke(twin, old, status_list, reason="renewed")
    credential = AccessCredential(
        twin=twin,
        role=role,
        issued_by=issued_by,
        holder=holder,
        holder_did=holder_did(holder),
        capabilities=capabilities,
        status_list=status_list,
        expires_at=expires_at,
    )
    subject: dict[str, Any] = {"id": credential.holder_did, "name": twin.name, "allows": capabilities}
    subject["keeps" if role == AccessCredential.Role.KEEPER else "serves"] = twin.did
    credential.document, credential.status_index, credential.issued_at = credential_sign(
        twin=twin,
        status_list=status_list,
        credential_id=credential.id,
        types=[TYPES[role]],
        subject=subject,
        valid_until=expires_at,
    )
    credential.save(force_insert=True)
    history_append(
        twin=twin,
        kind=HistoryEntry.Kind.CREDENTIAL,
        content={
            "action": "issued",
            "type": TYPES[role],
            "credential": credential.id.urn,
            "holder": credential.holder_did,
            "allows": capabilities,
            "statusListIndex": credential.status_index,
        },
        locked=True,
    )
    status_list_sign(status_list=status_list, twin=twin)
    what = "keeper of" if role == AccessCredential.Role.KEEPER else "service access to"
    notify(
        owner=holder,
        kind=Notification.Kind.SYSTEM,
        title=f"{issued_by.username} made you {what} {twin.name}",
        body="Until " + timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M") if expires_at else "",
        action_url=reverse("thing", args=[twin.slug]) if access.VIEW in capabilities else "",
        action_label="Open it" if access.VIEW in capabilities else "",
    )
    return credential


def _revoke(twin: Twin, credential: AccessCredential, status_list, *, reason: str) -> None:
    status_bit_set(status_list=status_list, index=credential.status_index)
    credential.revoked_at = timezone.now()
    credential.revoked_reason = reason
    credential.save(update_fields=["revoked_at", "revoked_reason"])
    if not history_open(twin):  # moved away or on its way: the revocation stands, the history is closed here
        revoked_while_leaving(twin, "the keeper's access")
        return
    history_append(
        twin=twin,
        kind=HistoryEntry.Kind.CREDENTIAL,
        content={
            "action": "revoked",
            "type": TYPES.get(credential.role, "EmergencyAccessCredential"),
            "credential": credential.id.urn,
            "reason": reason,
            "statusListIndex": credential.status_index,
        },
        locked=True,
    )


@transaction.atomic
def access_credentials_revoke(*, twin: Twin, credentials: list[AccessCredential], reason: str) -> int:
    """Revoke standing credentials of one twin (its status list re-signed once); already revoked ones are left as
    they are. Returns how many were revoked."""
    twin = lock_twin(twin)
    status_list = status_list_for_update(twin)
    ids = [credential.pk for credential in credentials]
    standing = list(AccessCredential.objects.select_for_update().filter(pk__in=ids, twin=twin, revoked_at__isnull=True))
    for credential in standing:
        _revoke(twin, credential, status_list, reason=reason)
    if standing:
        status_list_sign(status_list=status_list, twin=twin)
    return len(standing)


def access_credential_revoke(*, credential: AccessCredential, reason: str = "owner") -> AccessCredential:
    """Revoke one keeper or service credential now: its holder's next request is refused."""
    access_credentials_revoke(twin=credential.twin, credentials=[credential], reason=reason)
    credential.refresh_from_db()
    return credential


def on_transferred(event: Any) -> None:
    """twins.events.Transferred, in the transfer's transaction: every keeper, service and emergency credential of
    the seller's ends with the sale (the buyer starts from nothing)."""
    twin = Twin.objects.get(pk=event.twin_id)
    credentials = list(AccessCredential.objects.filter(twin=twin, revoked_at__isnull=True))
    if credentials:
        access_credentials_revoke(twin=twin, credentials=credentials, reason="transfer")


# --- reads ---------------------------------------------------------------------------------------------------


def provider(viewer: Any, twin: Twin) -> access.Access | None:
    """twins.access provider: what the viewer's standing keeper and service credentials on `twin` allow now (one
    query, every request: no cache). Only credentials issued by the twin's current owner count."""
    rows = list(
        AccessCredential.objects.standing(timezone.now())
        .filter(holder_id=viewer.pk, twin_id=twin.pk, issued_by_id=twin.owner_id)
        .exclude(role=AccessCredential.Role.EMERGENCY)
        .values_list("role", "capabilities")
    )
    if not rows:
        return None
    roles = {role for role, _ in rows}
    capabilities = frozenset(c for _, caps in rows for c in caps if c in access.CAPABILITIES)
    role = AccessCredential.Role.KEEPER if AccessCredential.Role.KEEPER in roles else AccessCredential.Role.SERVICE
    return access.Access(role=str(role), capabilities=capabilities)


def kept(viewer: Any) -> dict[int, str]:
    """twins.access listing: {twin id: "keeper" | "service"} of the twins the viewer looks after now, shown among
    their cards with that badge: kept ones, and those a service access lets them open (VIEW), for its time box
    only (a service access without VIEW gives routes, not a page: no card). Keeper wins over service."""
    rows = (
        AccessCredential.objects.standing(timezone.now())
        .filter(
            holder_id=viewer.pk,
            role__in=[AccessCredential.Role.KEEPER, AccessCredential.Role.SERVICE],
            issued_by_id=F("twin__owner_id"),
        )
        .values_list("twin_id", "role", "capabilities")
    )
    listed: dict[int, str] = {}
    for twin_id, role, capabilities in rows:
        if role == AccessCredential.Role.KEEPER:
            listed[twin_id] = "keeper"
        elif access.VIEW in capabilities:
            listed.setdefault(twin_id, "service")
    return listed


def credentials_of_twin(*, twin: Twin, role: str) -> list[AccessCredential]:
    """The owner's page: a twin's credentials of one role that its owner issued, standing first, newest first (the
    twin is the owner's, from twin_get). A seller's keepers are not the buyer's to read (as a seller's grants)."""
    rows = (
        AccessCredential.objects.filter(twin=twin, role=role, issued_by_id=twin.owner_id)
        .select_related("holder")
        .order_by("-issued_at")
    )
    now = timezone.now()
    return sorted(rows, key=lambda c: not (c.revoked_at is None and (c.expires_at is None or c.expires_at > now)))


def holder_by_username(username: str) -> Owner:
    owner = Owner.objects.filter(username__iexact=username.strip()).first() if username.strip() else None
    if owner is None:
        raise CredentialRefused("There is no account of that name here: check the spelling with them.")
    return owner


def expiry_after(*, days: int | None = None, hours: int | None = None) -> datetime | None:
    if days is None and hours is None:
        return None
    return timezone.now() + timedelta(days=days or 0, hours=hours or 0)
