"""Handover pages: the seller makes an offer of a selection and follows it; the buyer opens one link and accepts
every thing at once."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import error_response
from core.qr import svg_text
from handover import selectors
from handover.models import Handover
from handover.services import (
    MAX_THINGS,
    handover_accept,
    handover_cancel,
    handover_create,
    handover_prepare,
    handover_sign,
)
from owners.recent_auth import kept_form_data, recent_login_required
from twins.transfer_forms import OfferForm, RevealKeyForm, SignedJsonForm
from twins.transfer_views import posted_signed_json

# The offer form's choices, kept across the re-login a stale session needs (owners.recent_auth).
OFFER_FIELDS = ("redact_kinds", "days")


def offer_url(handover: Handover) -> str:
    """The link the seller gives the buyer. Under /transfer/<token>/, so core.logging keeps the token out of the
    logs as it does for a single offer's."""
    return f"{settings.SITE_URL}{reverse('handover-offer', args=[handover.token])}"


@login_required
@recent_login_required(keep=OFFER_FIELDS)
def handover_new(request: HttpRequest) -> HttpResponse:
    """The seller's confirmation of a selection (`?thing=<slug>&thing=...`, from the cards page's bulk action):
    the things, what stands in the way, the history to remove and how long the offer lasts."""
    slugs = request.GET.getlist("thing")
    picked = selectors.selection(viewer=request.user, slugs=slugs)
    kept = kept_form_data(request) if request.method == "GET" else None
    form = OfferForm(request.POST if request.method == "POST" else kept)
    if request.method == "POST" and form.is_valid():
        handover = handover_create(
            seller=request.user,
            twins=picked.twins,
            redact_kinds=form.cleaned_data["redact_kinds"],
            days=form.cleaned_data["days"],
        )
        messages.success(request, "Offer created. Give the buyer the link or let them scan the QR code.")
        return redirect("handover", handover_id=handover.public_id)
    context = {"picked": picked, "form": form, "asked": len(slugs), "max_things": MAX_THINGS}
    return render(request, "handover/new.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def handover_list(request: HttpRequest) -> HttpResponse:
    handovers = selectors.handover_list(viewer=request.user)[:100]
    return render(request, "handover/list.html", {"handovers": handovers})


@login_required
@require_GET
def handover_detail(request: HttpRequest, handover_id: str) -> HttpResponse:
    """The seller's view of one handover: its link and QR while open, its things, and how it ended."""
    handover = selectors.handover_get(viewer=request.user, public_id=handover_id)
    context = {
        "handover": handover,
        "items": selectors.handover_items(handover, viewer=request.user),
        "offer_url": offer_url(handover),
        "form": OfferForm(),
        "reveal_form": RevealKeyForm(),
        "sign_form": SignedJsonForm(),
    }
    return render(request, "handover/detail.html", context)


@login_required
@require_GET
def handover_qr(request: HttpRequest, handover_id: str) -> HttpResponse:
    handover = selectors.handover_get(viewer=request.user, public_id=handover_id)
    return HttpResponse(svg_text(offer_url(handover)), content_type="image/svg+xml")


@login_required
@require_POST
def handover_cancel_view(request: HttpRequest, handover_id: str) -> HttpResponse:
    handover = selectors.handover_get(viewer=request.user, public_id=handover_id)
    handover_cancel(handover=handover, seller=request.user)
    messages.success(request, "Offer cancelled. Its link no longer works.")
    return redirect("handover", handover_id=handover.public_id)


@login_required
@recent_login_required
@require_POST
def handover_entries(request: HttpRequest, handover_id: str) -> HttpResponse:
    """A self-held seller downloads every thing's log entries as one list to sign (after revealing their next
    public key)."""
    handover = selectors.handover_get(viewer=request.user, public_id=handover_id)
    form = RevealKeyForm(request.POST)
    if not form.is_valid():
        return error_response(request, 400, "Give your next key's public key (z6Mk…).")
    entries = handover_prepare(
        handover=handover, seller=request.user, revealed_key=form.cleaned_data["next_public_key"]
    )
    response = HttpResponse(json.dumps(entries, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="handover-{handover.public_id}-entries.json"'
    return response


@login_required
@recent_login_required
@require_POST
def handover_sign_view(request: HttpRequest, handover_id: str) -> HttpResponse:
    """A self-held seller uploads the signed list: every thing moves now, or none."""
    handover = selectors.handover_get(viewer=request.user, public_id=handover_id)
    signed, bad = posted_signed_json(request)
    if bad is not None:
        return bad
    handover_sign(handover=handover, seller=request.user, signed_entries=signed)
    messages.success(request, "Signed: every thing of this handover now belongs to the buyer.")
    return redirect("handover", handover_id=handover.public_id)


@login_required
@require_GET
def offer_page(request: HttpRequest, token: str) -> HttpResponse:
    """What the buyer sees before accepting: every thing, whether its history verifies, what the sale removes."""
    page = selectors.buyer_page(viewer=request.user, token=token)
    context = {
        "page": page,
        "handover": page.handover,
        "acceptance": json.dumps(page.acceptance, indent=2),
        "sign_form": SignedJsonForm(),
    }
    return render(request, "handover/offer.html", context)


@login_required
@recent_login_required
@require_POST
def offer_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    handover = selectors.handover_of_token(token=token)
    signed, bad = posted_signed_json(request) if "signed" in request.POST else (None, None)
    if bad is not None:
        return bad
    handover = handover_accept(handover=handover, buyer=request.user, signed_acceptance=signed)
    if handover.status == Handover.Status.AWAITING_SELLER:
        messages.success(request, "Accepted. The things become yours when the seller signs.")
        return redirect("handover-offer", token=handover.token)
    messages.success(request, "Accepted: every thing of this offer is yours now.")
    return redirect("things")
