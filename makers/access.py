"""Who may do what for an organisation: the one place views and APIs ask.

A member may produce, read the dashboard and what was received; an admin may also invite and remove members,
change roles, rotate the organisation's keys, make API tokens and issue recalls. Anyone else gets a 404 (an
organisation's private pages do not confirm it exists to strangers: SECURITY, the core matrix).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.http import Http404

from makers.models import Membership, Organisation
from owners.models import Owner


class NotAllowed(Exception):
    """A member tried what only an admin may do (a 403 with this message)."""


def membership_of(owner: Owner, organisation: Organisation) -> Membership | None:
    if not owner.is_authenticated:
        return None
    return Membership.objects.filter(organisation=organisation, owner=owner).first()


def organisation_for_member(owner: Owner, slug: str, *, admin: bool = False) -> tuple[Organisation, Membership]:
    """The organisation `slug` and the owner's membership; Http404 for a non-member, NotAllowed for a member
    where `admin` is needed."""
    organisation = Organisation.objects.select_related("account").filter(slug=slug).first()
    membership = membership_of(owner, organisation) if organisation is not None else None
    if membership is None:
        raise Http404("No such organisation.")
    if admin and membership.role != Membership.Role.ADMIN:
        raise NotAllowed("Only an admin of the organisation can do this.")
    return organisation, membership


def organisations_of(owner: Owner):
    return Organisation.objects.filter(memberships__owner=owner).order_by("name", "id")


def _account_username(slug: str) -> str:
    # Nobody signs in as the account (no usable password); a suffix keeps it clear of any person's username.
    return f"org.{slug}.{secrets.token_hex(3)}"[:150]


@transaction.atomic
def organisation_account_create(*, slug: str, name: str, admin: Owner, **fields) -> Organisation:
    """The organisation, its account (keys made at once, as for any account) and `admin` as its first admin.
    makers.orgs.organisation_create adds its DID; use that."""
    account = Owner(username=_account_username(slug), first_name=name[:150])
    account.set_unusable_password()
    account.save()
    organisation = Organisation(slug=slug, name=name, account=account, **fields)
    organisation.full_clean(exclude=["account"])
    organisation.save()
    Membership.objects.create(organisation=organisation, owner=admin, role=Membership.Role.ADMIN)
    return organisation
