"""Pages of authenticity credentials: the issuers' public status lists and the owner's download."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from credentials import authenticity
from credentials.authenticity_models import IssuerStatusList
from credentials.views import signed_list_response


@require_GET
def issuer_status_list(request: HttpRequest, list_id: str) -> HttpResponse:
    """An issuer's signed list as kept since its last change, cacheable, with its ETag (as the twins' lists)."""
    signed = IssuerStatusList.objects.filter(public_id=list_id).exclude(document="").only("document", "etag").first()
    if signed is None:
        raise Http404("No such status list.")
    return signed_list_response(request, signed)


@login_required
@require_GET
def authenticity_json(request: HttpRequest, credential_id: uuid.UUID) -> HttpResponse:
    """The owner of the thing downloads its maker's credential (anyone else: 404)."""
    credential = authenticity.wallet_get(viewer=request.user, credential_id=credential_id)
    if credential is None:
        raise Http404("No such credential.")
    response = HttpResponse(credential.document, content_type="application/vc+ld+json")
    response["Content-Disposition"] = f'attachment; filename="authenticity-{credential.pk}.json"'
    return response
