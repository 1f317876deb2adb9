"""Organisation-scoped API tokens: `Authorization: Bearer org_…` acts for one organisation, nothing else.

A token is made by an admin and shown once; only its SHA-256 is kept. A request with an organisation token is
authenticated as the organisation's account (`request.user`), with the organisation in `request.auth`; its routes
(`/api/orgs/<slug>/…`) check that the token's organisation is the one in the URL. A member signed in with a
session (or an owner token) reaches the same routes as themselves: :func:`organisation_for_request` is the one
check both paths take.
"""

from __future__ import annotations

import hashlib
import secrets

from django.http import Http404
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from makers.access import NotAllowed, organisation_for_member
from makers.models import Organisation, OrganisationToken
from owners.models import Owner

PREFIX = "org_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def organisation_token_create(
    *, organisation: Organisation, created_by: Owner, label: str = ""
) -> tuple[str, OrganisationToken]:
    """A new token (returned once, never stored) and its row."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = OrganisationToken.objects.create(
        organisation=organisation,
        label=label[:80],
        token_hash=token_hash(token),
        prefix=token[:10],
        created_by=created_by,
    )
    return token, row


class OrganisationTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send one token: Authorization: Bearer org_…")
        token = header[1].decode(errors="replace")
        row = (
            OrganisationToken.objects.select_related("organisation__account")
            .filter(token_hash=token_hash(token), revoked_at__isnull=True)
            .first()
        )
        if row is None:
            raise exceptions.AuthenticationFailed("This organisation token is unknown or revoked.")
        OrganisationToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        return row.organisation.account, row

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class OrganisationTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of organisation tokens (defining the class registers it with
    drf-spectacular, so every view naming the authentication class documents it without a warning)."""

    target_class = OrganisationTokenAuthentication
    name = "organisationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organisation API token (org_…), made by an admin on the organisation's tokens page.",
        }


# Put these on every organisation API view (the owner token stays usable for members acting as themselves).
AUTHENTICATION_CLASSES = [
    OrganisationTokenAuthentication,
    authentication.SessionAuthentication,
    authentication.TokenAuthentication,
]


def organisation_for_request(request: Request, slug: str, *, admin: bool = False) -> Organisation:
    """The organisation `slug` if the request may act for it: an organisation token of that organisation (which
    counts as admin: an admin made it), or a member's session or owner token (`admin`: an admin's). Http404 for
    anyone else, PermissionDenied (403) for a member where an admin is needed."""
    if isinstance(request.auth, OrganisationToken):
        if request.auth.organisation.slug != slug:
            raise Http404("No such organisation.")
        return request.auth.organisation
    try:
        organisation, _ = organisation_for_member(request.user, slug, admin=admin)
    except NotAllowed as exc:
        raise exceptions.PermissionDenied(str(exc)) from None
    return organisation
