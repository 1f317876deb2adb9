"""Transfer pages: the seller's offer, the buyer's acceptance, a self-held seller's signature."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import error_response
from core.qr import svg_text
from owners.keys import owner_keys_ensure
from owners.models import OwnerKey
from owners.recent_auth import recent_login_required
from twins import selectors
from twins.models import HistoryEntry, TransferOffer, Twin
from twins.transfer import (
    TransferRefused,
    acceptance_document,
    buyer_keys,
    offer_accept,
    offer_cancel,
    offer_check_open,
    offer_create,
    transfer_complete,
    transfer_prepare,
)
from twins.transfer_forms import OfferForm, RevealKeyForm, SignedJsonForm
from twins.verification import export_bundle, verify_twin


def _pending_offer(twin) -> TransferOffer | None:
    return TransferOffer.objects.filter(twin=twin).pending().first()


def _sellers_offer(request: HttpRequest, slug: str) -> tuple[Twin, TransferOffer]:
    """The viewer's twin and its pending offer; 404 for anyone else's twin or when there is no offer."""
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    offer = _pending_offer(twin)
    if offer is None:
        raise Http404("No open offer.")
    return twin, offer


def _offer_url(offer: TransferOffer) -> str:
    return f"{settings.SITE_URL}{reverse('transfer-offer', args=[offer.token])}"


def _refused(request: HttpRequest, exc: TransferRefused) -> HttpResponse:
    return error_response(request, exc.status, exc.message)


@login_required
@recent_login_required
def transfer(request: HttpRequest, slug: str) -> HttpResponse:
    """The seller's transfer page: create an offer, or see the pending one (link, QR, cancel, sign)."""
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    offer = _pending_offer(twin)
    form = OfferForm(request.POST or None)
    if request.method == "POST" and offer is None and form.is_valid():
        try:
            offer_create(
                twin=twin,
                seller=request.user,
                redact_kinds=form.cleaned_data["redact_kinds"],
                days=form.cleaned_data["days"],
            )
        except TransferRefused as exc:
            return _refused(request, exc)
        messages.success(request, "Offer created. Give the buyer the link or let them scan the QR code.")
        return redirect("thing-transfer", slug=twin.slug)
    counts = dict(HistoryEntry.objects.filter(twin=twin, redacted=False).values_list("kind").annotate(n=Count("pk")))
    context = {
        "twin": twin,
        "offer": offer,
        "form": form,
        "counts": counts,
        "offer_url": _offer_url(offer) if offer else "",
        "seller_self_held": owner_keys_ensure(owner=request.user)[OwnerKey.Role.NEXT].self_held,
        "reveal_form": RevealKeyForm(),
        "sign_form": SignedJsonForm(),
    }
    status = 400 if form.errors else 200
    return render(request, "twins/transfer.html", context, status=status)


@login_required
@require_GET
def transfer_qr(request: HttpRequest, slug: str) -> HttpResponse:
    _, offer = _sellers_offer(request, slug)
    return HttpResponse(svg_text(_offer_url(offer)), content_type="image/svg+xml")


@login_required
@require_POST
def transfer_cancel(request: HttpRequest, slug: str) -> HttpResponse:
    twin, offer = _sellers_offer(request, slug)
    try:
        offer_cancel(offer=offer, seller=request.user)
    except TransferRefused as exc:
        return _refused(request, exc)
    messages.success(request, "Offer cancelled. Its link no longer works.")
    return redirect("thing-transfer", slug=twin.slug)


@login_required
@recent_login_required
@require_POST
def transfer_entries(request: HttpRequest, slug: str) -> HttpResponse:
    """A self-held seller downloads the two log entries to sign (after revealing their next public key)."""
    twin, offer = _sellers_offer(request, slug)
    form = RevealKeyForm(request.POST)
    if not form.is_valid():
        return error_response(request, 400, "Give your next key's public key (z6Mk…).")
    try:
        entries = transfer_prepare(offer=offer, seller=request.user, revealed_key=form.cleaned_data["next_public_key"])
    except TransferRefused as exc:
        return _refused(request, exc)
    response = HttpResponse(json.dumps(entries, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="transfer-{twin.slug}-entries.json"'
    return response


@login_required
@recent_login_required
@require_POST
def transfer_sign(request: HttpRequest, slug: str) -> HttpResponse:
    """A self-held seller uploads the signed entries: the transfer happens now."""
    twin, offer = _sellers_offer(request, slug)
    form = SignedJsonForm(request.POST)
    if not form.is_valid():
        return error_response(request, 400, form.errors["signed"][0])
    try:
        transfer_complete(offer=offer, signed_entries=form.cleaned_data["signed"])
    except TransferRefused as exc:
        return _refused(request, exc)
    messages.success(request, f"{twin.name} has been transferred.")
    return redirect("things")


def _offer_for_buyer(token: str) -> TransferOffer:
    offer = TransferOffer.objects.select_related("twin", "seller").filter(token=token).first()
    if offer is None:
        raise Http404("No such offer.")
    return offer


@login_required
@require_GET
def offer_page(request: HttpRequest, token: str) -> HttpResponse:
    """What the buyer sees before accepting: the thing, and whether its history verifies."""
    offer = _offer_for_buyer(token)
    twin = offer.twin
    problem = ""
    if offer.status == TransferOffer.Status.AWAITING_SELLER and offer.buyer_id == request.user.pk:
        problem = "You accepted this offer. The transfer completes when the seller signs it."
    else:
        try:
            offer_check_open(offer, buyer=request.user)
            if offer.status != TransferOffer.Status.OPEN:
                raise TransferRefused("Someone else has already accepted this offer.", status=409)
        except TransferRefused as exc:
            return _refused(request, exc)
    keys = buyer_keys(request.user)
    self_held = owner_keys_ensure(owner=request.user)[OwnerKey.Role.CURRENT].self_held
    to_remove = (
        HistoryEntry.objects.filter(twin=twin, redacted=False, kind__in=offer.redact_kinds).count()
        if offer.redact_kinds
        else 0
    )
    context = {
        "offer": offer,
        "twin": twin,
        "verification": verify_twin(twin),
        "to_remove": to_remove,
        "problem": problem,
        "self_held": self_held,
        "acceptance": json.dumps(acceptance_document(offer=offer, keys=keys), indent=2),
        "sign_form": SignedJsonForm(),
    }
    return render(request, "twins/offer.html", context)


@login_required
@recent_login_required
@require_POST
def offer_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    offer = _offer_for_buyer(token)
    signed = None
    if "signed" in request.POST:
        form = SignedJsonForm(request.POST)
        if not form.is_valid():
            return error_response(request, 400, form.errors["signed"][0])
        signed = form.cleaned_data["signed"]
    try:
        with transaction.atomic():
            offer = offer_accept(offer=offer, buyer=request.user, signed_acceptance=signed)
    except TransferRefused as exc:
        return _refused(request, exc)
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
