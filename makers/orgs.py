"""Organisations: creation with a public did:webvh DID, key rotation, members and roles, invitations, API tokens.

The organisation acts through its account (makers.access): the account's owner keys are the organisation's
update keys, the account's DIDComm agent is the organisation's agent. Its DID log lives at
`/orgs/<slug>/did.jsonl` (`did:webvh:SCID:DID_DOMAIN:orgs:<slug>`) and is built exactly as a twin's
(twins.identity): inception lists the account's current key in `updateKeys` and commits to its next key in
`nextKeyHashes` (pre-rotation from the start); a rotation is signed by that pre-committed key, which it reveals,
and commits to a fresh one. The account's OwnerKey rows shift with the log (the old current key retired, not
deleted), so twins the organisation produced before a rotation, whose logs commit to their keys derived from
the older ones, can still be handed to their buyers: owners.keys.owner_log_signer derives from retired keys too.
(A twin's log names the account's keys for that thing only, not these root keys: owners.keys.thing_keys.)

Who may do what is checked here, not only in the views, so no page or API can forget it: an admin (a person,
never an organisation token) for anything that changes people, keys or tokens; a member may leave.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from core.errors import Conflict
from core.vault import seal_key
from didcomm.keys import agent_key_of, recipient_key_ensure
from didcomm.services import agent_for_owner
from makers.access import NotAllowed, membership_of, organisation_account_create
from makers.models import (
    MemberInvitation,
    Membership,
    Organisation,
    OrganisationDidLogEntry,
    OrganisationToken,
)
from makers.tokens import organisation_token_create
from owners.keys import SelfHeldKeyRequired, owner_keys_ensure, owner_signing_key
from owners.models import Owner, OwnerKey
from ssi import webvh
from ssi.keys import SigningKey
from twins.identity import twin_document

INVITATION_DAYS = 7

# Lower-case letters, digits and single hyphens, 3 to 60 characters, starting with a letter: it is a URL path
# segment and a did:webvh path segment, and people type it.
SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,59}$")
# Names the organisation pages use themselves (/orgs/new/, /orgs/join/<token>/).
RESERVED_SLUGS = frozenset({"new", "join", "api", "admin", "well-known", "static", "settings"})
SLUG_HELP = "3 to 60 lower-case letters, digits and hyphens, starting with a letter (it goes into your DID and URLs)."
SLUG_TAKEN = "This address is taken: choose another."


class MembershipRefused(Conflict):
    """A change that would leave the organisation without an admin, or a second joining: 409 with the reason."""


class InvitationRefused(Exception):
    """The invitation link cannot be used (used, expired): the page says why."""

    def __init__(self, message: str, status: int = 410) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- Creation and the DID -----------------------------------------------------------------------------------


def slug_check(slug: object) -> str:
    """The slug if it is usable, else a ValidationError naming the rule (not whether it is taken)."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ValidationError({"slug": [SLUG_HELP]})
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": ["This address is reserved: choose another."]})
    return slug


def did_path(organisation: Organisation) -> tuple[str, ...]:
    """did:webvh maps `did:webvh:SCID:host:orgs:<slug>` to `https://host/orgs/<slug>/did.jsonl`."""
    return ("orgs", organisation.slug)


def _document(did: str, organisation: Organisation) -> dict[str, Any]:
    """The organisation's DID document: its agent's Ed25519 key, the X25519 key agreement key and the DIDComm
    endpoint, in the same shape as a twin's (so peers treat both alike). The agent key is registered for inbound
    lookup, so an envelope addressed to the key the document names finds the organisation's agent."""
    agent = agent_for_owner(organisation.account)
    recipient_key_ensure(agent=agent)
    return twin_document(did, agent_key_of(agent))


def _store(organisation: Organisation, entries: list[Mapping[str, Any]], first_number: int) -> None:
    OrganisationDidLogEntry.objects.bulk_create(
        [
            OrganisationDidLogEntry(
                organisation=organisation,
                version_number=first_number + i,
                version_id=entry["versionId"],
                line=webvh.json_line(entry),
            )
            for i, entry in enumerate(entries)
        ]
    )


def _platform_signer(key: OwnerKey) -> SigningKey:
    try:
        return owner_signing_key(key)
    except SelfHeldKeyRequired:  # nobody signs in as the account, so nobody could hold its keys
        raise Conflict("The organisation's keys are not held by the platform; they cannot be used here.") from None


@transaction.atomic
def organisation_create(*, slug: str, name: str, admin: Owner, **fields: Any) -> Organisation:
    """The organisation, its account and agent, `admin` as its first admin, and its did:webvh DID (inception
    entry stored). A bad or taken slug, or a field its model refuses, is a ValidationError and writes nothing."""
    slug_check(slug)
    if Organisation.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": [SLUG_TAKEN]})
    try:
        with transaction.atomic():
            organisation = organisation_account_create(slug=slug, name=name, admin=admin, **fields)
    except IntegrityError:  # the same slug committed between the check and the insert
        raise ValidationError({"slug": [SLUG_TAKEN]}) from None
    keys = owner_keys_ensure(owner=organisation.account)
    current, upcoming = keys[OwnerKey.Role.CURRENT], keys[OwnerKey.Role.NEXT]
    signer = _platform_signer(current)
    template = webvh.make_did(webvh.SCID_PLACEHOLDER, settings.DID_DOMAIN, did_path(organisation))
    state = webvh.create(
        signer=signer,
        domain=settings.DID_DOMAIN,
        path=did_path(organisation),
        document=_document(template, organisation),
        update_keys=[signer.multibase],
        next_key_hashes=[upcoming.next_key_hash],
    )
    organisation.did = state.did
    organisation.save(update_fields=["did"])
    _store(organisation, list(state.entries), 1)
    return organisation


def log_state(organisation: Organisation) -> webvh.LogState:
    """The organisation's verified DID log (verified on every read, as anyone relying on it would)."""
    lines = list(
        OrganisationDidLogEntry.objects.filter(organisation=organisation)
        .order_by("version_number")
        .values_list("line", flat=True)
    )
    return webvh.verify_log(lines)


def log_jsonl(organisation: Organisation) -> str:
    lines = (
        OrganisationDidLogEntry.objects.filter(organisation=organisation)
        .order_by("version_number")
        .values_list("line", flat=True)
    )
    return "".join(line + "\n" for line in lines)


def _require_admin(organisation: Organisation, by: Owner) -> None:
    """A person who is an admin of the organisation. Not its account: an organisation token (which acts as the
    account) may not change people, keys or tokens, so a leaked token cannot lock the admins out or mint more."""
    membership = membership_of(by, organisation)
    if membership is None:
        raise Http404("No such organisation.")
    if membership.role != Membership.Role.ADMIN:
        raise NotAllowed("Only an admin of the organisation can do this.")


def _locked(organisation: Organisation) -> Organisation:
    # One writer at a time per organisation: key rotations (the log's version numbers) and role changes (the
    # last-admin rule reads the other memberships) are decided under this lock.
    return Organisation.objects.select_for_update().select_related("account").get(pk=organisation.pk)


@transaction.atomic
def organisation_keys_rotate(*, organisation: Organisation, by: Owner) -> webvh.LogState:
    """Rotate the organisation's update keys: a log entry signed by the pre-committed next key, which it reveals
    (`updateKeys: [next]`), committing to a fresh next key (`nextKeyHashes: [hash(fresh)]`); the account's keys
    shift with it (current retired, next becomes current, the fresh key is the new next). Admins only."""
    _require_admin(organisation, by)
    organisation = _locked(organisation)
    account = organisation.account
    state = log_state(organisation)
    keys = owner_keys_ensure(owner=account)
    current, upcoming = keys[OwnerKey.Role.CURRENT], keys[OwnerKey.Role.NEXT]
    if upcoming.next_key_hash not in state.next_key_hashes:
        raise Conflict("The organisation's next key is not the one its DID log committed to; nothing was changed.")
    signer = _platform_signer(upcoming)
    fresh = SigningKey.generate()
    state = webvh.rotate(
        state,
        signer=signer,
        update_keys=[signer.multibase],
        next_key_hashes=[webvh.next_key_hash(fresh.multibase)],
    )
    _store(organisation, [state.entries[-1]], state.version_number)
    # Retire before promoting: one active key per role (ownerkey_one_active_per_role) at every step.
    OwnerKey.objects.filter(pk=current.pk).update(retired_at=timezone.now())
    OwnerKey.objects.filter(pk=upcoming.pk).update(role=OwnerKey.Role.CURRENT)
    OwnerKey.objects.create(
        owner=account,
        role=OwnerKey.Role.NEXT,
        public_multibase=fresh.multibase,
        next_key_hash=webvh.next_key_hash(fresh.multibase),
        sealed_seed=seal_key(fresh),
    )
    return state


@transaction.atomic
def organisation_update(*, organisation: Organisation, by: Owner, **fields: Any) -> Organisation:
    """Change the public profile (name, kind, description, website, support URL). Admins only."""
    _require_admin(organisation, by)
    organisation = _locked(organisation)
    allowed = {"name", "kind", "description", "website", "support_url"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: ["This cannot be changed here."] for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(organisation, name, value)
    organisation.full_clean(exclude=["account"])
    organisation.save(update_fields=[*fields])
    if "name" in fields:
        # The agent's label (what peers see in invitations) is the account's name.
        Owner.objects.filter(pk=organisation.account_id).update(first_name=organisation.name[:150])
    return organisation


# --- Members and invitations --------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, organisation: Organisation, by: Owner, role: str = Membership.Role.MEMBER, email: str = ""
) -> tuple[str, MemberInvitation]:
    """A single-use invitation link's token (returned once; only its hash is kept), valid INVITATION_DAYS days."""
    _require_admin(organisation, by)
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"Choose one of: {', '.join(Membership.Role.values)}."]})
    token = secrets.token_urlsafe(32)
    invitation = MemberInvitation(
        organisation=organisation,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        created_by=by,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    invitation.full_clean(exclude=["created_by", "organisation"])
    invitation.save()
    return token, invitation


def invitation_get(*, token: str) -> MemberInvitation:
    """The invitation a link names (used or not, expired or not: the page says which); Http404 if none."""
    if not isinstance(token, str) or len(token) > 100:
        raise Http404("No such invitation.")
    invitation = MemberInvitation.objects.select_related("organisation").filter(token_hash=_token_hash(token)).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def invitation_refusal(invitation: MemberInvitation, owner: Owner) -> str:
    """Why `owner` cannot use the invitation now ("" when they can)."""
    if invitation.used_at is not None:
        return "This invitation has been used already. Ask an admin of the organisation for a new link."
    if invitation.expires_at <= timezone.now():
        return "This invitation has expired. Ask an admin of the organisation for a new link."
    if owner.pk == invitation.organisation.account_id:
        return "The organisation's own account cannot join it."
    if membership_of(owner, invitation.organisation) is not None:
        return "You are already a member of this organisation."
    return ""


@transaction.atomic
def invitation_accept(*, token: str, owner: Owner) -> Membership:
    """Join the organisation in the invited role; the link is spent. Raises InvitationRefused (410 for a used
    or expired link, 409 for someone already a member) and changes nothing then."""
    invitation = invitation_get(token=token)
    # Locked: two people opening the same link at once must not both join.
    invitation = MemberInvitation.objects.select_for_update().select_related("organisation").get(pk=invitation.pk)
    refusal = invitation_refusal(invitation, owner)
    if refusal:
        already = invitation.used_at is None and invitation.expires_at > timezone.now()
        raise InvitationRefused(refusal, status=409 if already else 410)
    membership = Membership.objects.create(organisation=invitation.organisation, owner=owner, role=invitation.role)
    invitation.used_at = timezone.now()
    invitation.used_by = owner
    invitation.save(update_fields=["used_at", "used_by"])
    return membership


@transaction.atomic
def invitation_revoke(*, organisation: Organisation, invitation_id: int, by: Owner) -> None:
    """Withdraw an unused invitation (its link stops working). Admins only; Http404 for another's invitation."""
    _require_admin(organisation, by)
    deleted, _ = MemberInvitation.objects.filter(
        organisation=organisation, pk=invitation_id, used_at__isnull=True
    ).delete()
    if not deleted:
        raise Http404("No such invitation.")


def invitations_pending(organisation: Organisation):
    return MemberInvitation.objects.filter(
        organisation=organisation, used_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def members_of(organisation: Organisation):
    return (
        Membership.objects.filter(organisation=organisation)
        .select_related("owner")
        .order_by("-role", "owner__username")  # admins first ("member" > "admin": descending)
    )


def _member(organisation: Organisation, member_id: int) -> Membership:
    membership = Membership.objects.select_related("owner").filter(organisation=organisation, pk=member_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def _other_admins(organisation: Organisation, membership: Membership) -> bool:
    return (
        Membership.objects.filter(organisation=organisation, role=Membership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def member_remove(*, organisation: Organisation, member_id: int, by: Owner) -> Membership:
    """Remove a member (admins), or leave (anyone, their own membership). The last admin can do neither: the
    organisation would have nobody to manage it."""
    organisation = _locked(organisation)
    membership = _member(organisation, member_id)
    if membership.owner_id != by.pk:
        _require_admin(organisation, by)
    elif membership_of(by, organisation) is None:
        raise Http404("No such organisation.")
    if membership.role == Membership.Role.ADMIN and not _other_admins(organisation, membership):
        raise MembershipRefused(
            "This is the organisation's last admin: make someone else an admin first, then remove or leave."
        )
    membership.delete()
    return membership


@transaction.atomic
def member_role_set(*, organisation: Organisation, member_id: int, role: str, by: Owner) -> Membership:
    """Make a member an admin or an admin a member. Admins only; the last admin cannot be demoted."""
    _require_admin(organisation, by)
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"Choose one of: {', '.join(Membership.Role.values)}."]})
    organisation = _locked(organisation)
    membership = _member(organisation, member_id)
    if (
        membership.role == Membership.Role.ADMIN
        and role != Membership.Role.ADMIN
        and not _other_admins(organisation, membership)
    ):
        raise MembershipRefused("This is the organisation's last admin: make someone else an admin first.")
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


# --- API tokens ---------------------------------------------------------------------------------------------


@transaction.atomic
def token_issue(*, organisation: Organisation, by: Owner, label: str = "") -> tuple[str, OrganisationToken]:
    """A new organisation API token: the token itself is returned once and never stored. Admins only."""
    _require_admin(organisation, by)
    return organisation_token_create(organisation=organisation, created_by=by, label=label)


@transaction.atomic
def token_revoke(*, organisation: Organisation, token_id: int, by: Owner) -> OrganisationToken:
    """Revoke a token at once (a request carrying it is refused with 401 from now on). Admins only."""
    _require_admin(organisation, by)
    row = OrganisationToken.objects.select_for_update().filter(organisation=organisation, pk=token_id).first()
    if row is None:
        raise Http404("No such token.")
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
    return row


def tokens_of(organisation: Organisation):
    return OrganisationToken.objects.filter(organisation=organisation).order_by("revoked_at", "-created_at")


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready): the "Organisations" link on the profile."""
    from core.nav import PROFILE, NavLink, register_nav

    register_nav(NavLink("Organisations", "organisations", PROFILE))
