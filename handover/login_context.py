"""The login and sign-up pages say what waits behind a handover link (owners.next_context): a new buyer who was
sent to sign up first finds the way back."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils.safestring import SafeString

from handover.models import Handover
from handover.services import HandoverRefused, handover_check_open, handover_twins
from owners.next_context import register_next_describer


def offer_next_context(request: HttpRequest, path: str) -> SafeString | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.url_name != "handover-offer":
        return None
    handover = Handover.objects.select_related("seller").filter(token=match.kwargs["token"]).first()
    if handover is None:
        return None
    try:
        handover_check_open(handover)
    except HandoverRefused:
        return None
    twins = handover_twins(handover)
    return render_to_string(
        "handover/_offer_context.html", {"handover": handover, "twins": twins[:5], "count": len(twins)}, request=request
    )


def connect() -> None:
    register_next_describer(offer_next_context)
