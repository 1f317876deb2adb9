"""Public identity endpoints: the DID log, the did:web document, and "verify this thing"."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ssi import webvh
from twins.identity import log_jsonl, log_state
from twins.models import Twin
from twins.not_live import moved_redirect
from twins.verification import verify_twin


def _twin_with_did(slug: str) -> Twin:
    twin = Twin.objects.filter(slug=slug).exclude(did="").first()
    if twin is None:
        raise Http404("No such twin.")
    return twin


@require_GET
def did_log(request: HttpRequest, slug: str) -> HttpResponse:
    """did:webvh: the log at the path its DID maps to. Still served after the twin moved to another instance (it
    then ends with the move entries, naming the new DID), for resolvers that hold the old DID; not while it is
    still arriving here."""
    twin = _twin_with_did(slug)
    if twin.arriving:
        raise Http404("No such twin.")
    response = HttpResponse(log_jsonl(twin), content_type="application/jsonl; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def did_web(request: HttpRequest, slug: str) -> HttpResponse:
    """The parallel did:web document, for did:web resolvers. Once the twin moved, it is the new host's to serve
    (308 there, twins.not_live); while it is still arriving, there is none."""
    twin = _twin_with_did(slug)
    if twin.moved_to:
        return moved_redirect(request, twin)
    if twin.arriving:
        raise Http404("No such twin.")
    document = webvh.did_web_document(log_state(twin))
    response = HttpResponse(json.dumps(document, indent=2), content_type="application/did+json")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def verify(request: HttpRequest, slug: str) -> HttpResponse:
    """Anyone with the tag or the DID: does the chain verify? Reveals no content, and no name unless shown. The
    history goes on where the twin lives: 308 there once it moved; nothing while it is still arriving."""
    twin = _twin_with_did(slug)
    if twin.moved_to:
        return moved_redirect(request, twin)
    if twin.arriving:
        raise Http404("No such twin.")
    result = verify_twin(twin)
    wants_json = request.GET.get("format") == "json" or (
        "application/json" in request.headers.get("Accept", "") and "text/html" not in request.headers.get("Accept", "")
    )
    if wants_json:
        return JsonResponse(result.as_dict())
    name = twin.name if twin.show_thing_name else ""
    return render(request, "twins/verify.html", {"result": result, "name": name, "slug": twin.slug})
