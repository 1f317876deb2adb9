"""Transfer pages: the seller's offer, the buyer's acceptance, a self-held seller's signature."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from core.errors import error_response
from core.qr import svg_text
from owners.recent_auth import kept_form_data, recent_login_required
from twins import selectors, transfer_selectors
from twins.models import TransferOffer
from twins.transfer import (
    offer_accept,
    offer_cancel,
    offer_create,
    transfer_complete,
    transfer_prepare,
)
from twins.transfer_forms import OfferForm, RevealKeyForm, SignedJsonForm
from twins.verification import export_bundle
from twins.views import photo_response

# The offer form's choices, kept across the re-login a stale session needs (owners.recent_auth).
OFFER_FIELDS = ("redact_kinds", "days")


def _offer_url(offer: TransferOffer) -> str:
    return f"{settings.SITE_URL}{reverse('transfer-offer', args=[offer.token])}"


def posted_signed_json(request: HttpRequest) -> tuple[Any, HttpResponse | None]:
    """The signed JSON a transfer or handover page posts (`signed`, SignedJsonForm): (the JSON, None), or (None,
    the 400 answer saying what is wrong with it)."""
    form = SignedJsonForm(request.POST)
    if not form.is_valid():
        return None, error_response(request, 400, form.errors["signed"][0])
    return form.cleaned_data["signed"], None


@login_required
@recent_login_required(keep=OFFER_FIELDS)
def transfer(request: HttpRequest, slug: str) -> HttpResponse:
    """The seller's transfer page: create an offer, or see the pending one (link, QR, cancel, sign).

    A stale login sends the seller to log in again: the choices they made come back with the page.
    """
    page = transfer_selectors.seller_page(viewer=request.user, slug=slug)
    kept = kept_form_data(request) if request.method == "GET" else None
    form = OfferForm(request.POST if request.method == "POST" else kept)
    if kept is not None and page.offer is None:
        messages.info(request, "Your choices are kept. Check them and create the offer.")
    if request.method == "POST" and page.offer is None and form.is_valid():
        offer_create(
            twin=page.twin,
            seller=request.user,
            redact_kinds=form.cleaned_data["redact_kinds"],
            days=form.cleaned_data["days"],
        )
        messages.success(request, "Offer created. Give the buyer the link or let them scan the QR code.")
        return redirect("thing-transfer", slug=page.twin.slug)
    context = {
        "twin": page.twin,
        "offer": page.offer,
        "form": form,
        "counts": page.counts,
        "offer_url": _offer_url(page.offer) if page.offer else "",
        "seller_self_held": page.seller_self_held,
        "reveal_form": RevealKeyForm(),
        "sign_form": SignedJsonForm(),
    }
    status = 400 if form.errors else 200
    return render(request, "twins/transfer.html", context, status=status)


@login_required
@require_GET
def transfer_qr(request: HttpRequest, slug: str) -> HttpResponse:
    _, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
    return HttpResponse(svg_text(_offer_url(offer)), content_type="image/svg+xml")


@login_required
@require_POST
def transfer_cancel(request: HttpRequest, slug: str) -> HttpResponse:
    twin, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
    offer_cancel(offer=offer, seller=request.user)
    messages.success(request, "Offer cancelled. Its link no longer works.")
    return redirect("thing-transfer", slug=twin.slug)


@login_required
@recent_login_required
@require_POST
def transfer_entries(request: HttpRequest, slug: str) -> HttpResponse:
    """A self-held seller downloads the two log entries to sign (after revealing their next public key)."""
    twin, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
    form = RevealKeyForm(request.POST)
    if not form.is_valid():
        return error_response(request, 400, "Give your next key's public key (z6Mk…).")
    entries = transfer_prepare(offer=offer, seller=request.user, revealed_key=form.cleaned_data["next_public_key"])
    response = HttpResponse(json.dumps(entries, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="transfer-{twin.slug}-entries.json"'
    return response


@login_required
@recent_login_required
@require_POST
def transfer_sign(request: HttpRequest, slug: str) -> HttpResponse:
    """A self-held seller uploads the signed entries: the transfer happens now."""
    twin, offer = transfer_selectors.sellers_offer_get(viewer=request.user, slug=slug)
    signed, bad = posted_signed_json(request)
    if bad is not None:
        return bad
    transfer_complete(offer=offer, signed_entries=signed)
    messages.success(request, f"{twin.name} has been transferred.")
    return redirect("things")


@login_required
@require_GET
def offer_page(request: HttpRequest, token: str) -> HttpResponse:
    """What the buyer sees before accepting: the thing, and whether its history verifies."""
    page = transfer_selectors.buyer_page(viewer=request.user, token=token)
    context = {
        "offer": page.offer,
        "twin": page.twin,
        "verification": page.verification,
        "to_remove": page.to_remove,
        "readings": page.readings,
        "removed_by_kind": page.removed_by_kind,
        "problem": page.problem,
        "self_held": page.self_held,
        "acceptance": json.dumps(page.acceptance, indent=2),
        "sign_form": SignedJsonForm(),
    }
    return render(request, "twins/offer.html", context)


@require_GET
def offer_photo(request: HttpRequest, token: str) -> HttpResponse:
    """The offered thing's photo, for whoever holds the link while the offer stands (the link is the buyer's
    capability: the login page shows the photo to a buyer not yet signed in)."""
    offer = transfer_selectors.offer_preview(token=token)
    if offer is None:
        raise Http404("No such offer.")
    return photo_response(offer.twin)


def offer_next_context(request: HttpRequest, path: str) -> SafeString | None:
    """The login and sign-up pages' summary of an offer link waiting behind them (owners.next_context)."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.url_name != "transfer-offer":
        return None
    offer = transfer_selectors.offer_preview(token=match.kwargs["token"])
    if offer is None:
        return None
    return render_to_string("twins/_offer_context.html", {"offer": offer, "twin": offer.twin}, request=request)


@login_required
@recent_login_required
@require_POST
def offer_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    offer = transfer_selectors.offer_get(token=token)
    signed, bad = posted_signed_json(request) if "signed" in request.POST else (None, None)
    if bad is not None:
        return bad
    offer = offer_accept(offer=offer, buyer=request.user, signed_acceptance=signed)
    if offer.status == TransferOffer.Status.COMPLETED:
        messages.success(request, f"{offer.twin.name} is yours now.")
        return redirect("thing", slug=offer.twin.slug)
    messages.success(request, "Accepted. The transfer completes when the seller signs it.")
    return redirect("transfer-offer", token=offer.token)


@login_required
@require_GET
def export(request: HttpRequest, slug: str) -> HttpResponse:
    """The owner's verifiable bundle: `python -m ssi.verify bundle.json` checks it offline."""
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    response = JsonResponse(export_bundle(twin), json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="thingstead-{twin.slug}.json"'
    return response
