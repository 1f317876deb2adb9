"""Reads of the credentials feature, scoped to the viewer (anyone else's is a 404, never a 403)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from credentials.models import OwnershipCredential, StatusList, VerifierPolicy, VerifierSession
from twins.models import Twin


def credential_list(*, viewer: Any) -> QuerySet[OwnershipCredential]:
    """The credentials issued to the viewer (received), newest first; revoked ones too, marked."""
    if not getattr(viewer, "is_authenticated", False):
        return OwnershipCredential.objects.none()
    return OwnershipCredential.objects.filter(holder=viewer).select_related("twin").order_by("-issued_at")


def credential_get(*, viewer: Any, credential_id: uuid.UUID) -> OwnershipCredential:
    try:
        return credential_list(viewer=viewer).get(pk=credential_id)
    except OwnershipCredential.DoesNotExist:
        raise Http404("No such credential.") from None


def status_list_get(*, list_id: str) -> StatusList:
    """The list with this public id, in one query with its twin's ``moved_to`` (a moved twin's list answers 308
    before anything else); Http404 for an unknown id, or a list never signed that did not move."""
    status_list = (
        StatusList.objects.filter(public_id=list_id)
        .select_related("twin")
        .only("document", "etag", "twin__moved_to")
        .first()
    )
    if status_list is None or not (status_list.document or status_list.twin.moved_to):
        raise Http404("No such status list.")
    return status_list


def policy_list(*, viewer: Any) -> QuerySet[VerifierPolicy]:
    if not getattr(viewer, "is_authenticated", False):
        return VerifierPolicy.objects.none()
    return VerifierPolicy.objects.filter(owner=viewer).order_by("name")


def policy_get(*, viewer: Any, policy_id: str) -> VerifierPolicy:
    try:
        return policy_list(viewer=viewer).get(public_id=policy_id)
    except VerifierPolicy.DoesNotExist:
        raise Http404("No such policy.") from None


def policy_by_public_id(policy_id: str) -> VerifierPolicy | None:
    """A policy for verifying, by its id (public: a shop hands it to its tills and scripts)."""
    return VerifierPolicy.objects.filter(public_id=policy_id).first()


def session_get(*, session_id: str) -> VerifierSession:
    """An unexpired verifier session; an expired or unknown one is a 404."""
    session = (
        VerifierSession.objects.select_related("policy")
        .filter(public_id=session_id, expires_at__gt=timezone.now())
        .first()
    )
    if session is None:
        raise Http404("This check has expired or does not exist: start a new one.")
    return session


def thing_credentials_panel(request: HttpRequest, twin: Twin) -> dict[str, Any]:
    """twins.panels context: the standing ownership credential of the owner's thing."""
    credential = OwnershipCredential.objects.filter(twin=twin, holder_id=twin.owner_id).order_by("-issued_at").first()
    return {"ownership_credential": credential}
