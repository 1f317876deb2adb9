"""Firmware pages. Members of the organisation: a model's releases, publishing, co-signing and (admins) the
signing policy and withdrawing a release. The owner: accepting an update from the twin's page (its panel is
firmware.panel)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import Conflict, error_response
from firmware import selectors, services
from firmware.forms import AcceptForm, CosignForm, PolicyForm, ReleaseForm, WithdrawForm
from makers import gs1
from makers.access import NotAllowed, organisation_for_member
from makers.models import Membership, ProductModel
from twins.selectors import twin_get


def _model(request: HttpRequest, slug: str, gtin: str, *, admin: bool = False):
    organisation, membership = organisation_for_member(request.user, slug, admin=admin)
    try:
        gtin14 = gs1.normalise_gtin(gtin)
    except gs1.GS1Error:
        raise Http404("No such model.") from None
    model = (
        ProductModel.objects.select_related("organisation__account")
        .filter(organisation=organisation, gtin=gtin14)
        .first()
    )
    if model is None:
        raise Http404("No such model.")
    return organisation, membership, model


def _page(request, organisation, membership, model, *, form=None, cosign=None, policy=None, status=200):
    row = selectors.policy_row(model)
    initial = (
        {
            "critical": row.critical,
            "threshold": row.threshold,
            "officers": "\n".join(row.officers),
            "reattest": row.reattest,
        }
        if row
        else {}
    )
    return render(
        request,
        "firmware/releases.html",
        {
            "organisation": organisation,
            "membership": membership,
            "is_admin": membership.role == Membership.Role.ADMIN,
            "model": model,
            "releases": selectors.releases_of(model)[:100],
            "policy": row,
            "form": form or ReleaseForm(),
            "cosign_form": cosign or CosignForm(),
            "policy_form": policy or PolicyForm(initial=initial),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def releases(request: HttpRequest, slug: str, gtin: str) -> HttpResponse:
    organisation, membership, model = _model(request, slug, gtin)
    if request.method == "GET":
        return _page(request, organisation, membership, model)
    form = ReleaseForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, organisation, membership, model, form=form, status=400)
    data = form.cleaned_data
    try:
        release = services.release_publish(
            model=model,
            by=request.user,
            upload=data["payload"],
            version=data.get("version") or "",
            sequence=data.get("sequence"),
            manifest=data.get("manifest"),
            notes=data.get("notes") or "",
        )
    except services.FirmwareRefused as exc:
        form.add_error(None, exc.message)
        return _page(request, organisation, membership, model, form=form, status=exc.status)
    except Conflict as exc:
        form.add_error(None, str(exc))
        return _page(request, organisation, membership, model, form=form, status=409)
    if release.status == release.Status.PUBLISHED:
        messages.success(request, f"Release {release.version} is published.")
    else:
        messages.info(request, f"Release {release.version} is stored; it waits for its release officers' signatures.")
    return redirect("firmware-releases", slug=slug, gtin=model.gtin)


@login_required
@require_POST
def cosign(request: HttpRequest, slug: str, gtin: str) -> HttpResponse:
    organisation, membership, model = _model(request, slug, gtin)
    form = CosignForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, organisation, membership, model, cosign=form, status=400)
    release = selectors.release_at(model, form.cleaned_data["sequence"])
    if release is None:
        form.add_error("sequence", "This model has no release with that sequence.")
        return _page(request, organisation, membership, model, cosign=form, status=400)
    try:
        release = services.release_cosign(release=release, by=request.user, signed=form.cleaned_data["manifest"])
    except services.FirmwareRefused as exc:
        form.add_error(None, exc.message)
        return _page(request, organisation, membership, model, cosign=form, status=exc.status)
    messages.success(request, f"Signature added to {release.version} ({release.get_status_display().lower()}).")
    return redirect("firmware-releases", slug=slug, gtin=model.gtin)


@login_required
@require_POST
def policy(request: HttpRequest, slug: str, gtin: str) -> HttpResponse:
    try:
        organisation, membership, model = _model(request, slug, gtin, admin=True)
    except NotAllowed as exc:
        return error_response(request, 403, str(exc))
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _page(request, organisation, membership, model, policy=form, status=400)
    data = form.cleaned_data
    try:
        services.policy_set(
            model=model,
            by=request.user,
            critical=bool(data.get("critical")),
            reattest=bool(data.get("reattest")),
            threshold=data.get("threshold") or 0,
            officers=form.officer_list(),
        )
    except services.FirmwareRefused as exc:
        form.add_error(None, exc.message)
        return _page(request, organisation, membership, model, policy=form, status=exc.status)
    messages.success(request, "Signing policy saved.")
    return redirect("firmware-releases", slug=slug, gtin=model.gtin)


@login_required
@require_POST
def withdraw(request: HttpRequest, slug: str, gtin: str) -> HttpResponse:
    try:
        organisation, membership, model = _model(request, slug, gtin, admin=True)
    except NotAllowed as exc:
        return error_response(request, 403, str(exc))
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        messages.error(request, f"Nothing was withdrawn ({errors}).")
        return _page(request, organisation, membership, model, status=400)
    release = selectors.release_at(model, form.cleaned_data["sequence"])
    if release is None:
        messages.error(request, "This model has no release with that sequence.")
        return _page(request, organisation, membership, model, status=400)
    was = release.status
    try:
        release = services.release_withdraw(release=release, by=request.user, reason=form.cleaned_data["reason"])
    except services.FirmwareRefused as exc:
        messages.error(request, exc.message)
        return _page(request, organisation, membership, model, status=exc.status)
    if was == release.Status.WITHDRAWN:
        messages.info(request, f"Release {release.version} was withdrawn already.")
    else:
        messages.success(request, f"Release {release.version} is withdrawn: it is no longer offered or served.")
    return redirect("firmware-releases", slug=slug, gtin=model.gtin)


@login_required
@require_POST
def accept(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    form = AcceptForm(request.POST)
    if not form.is_valid():
        return error_response(request, 400, "Say which release to accept (its sequence number).")
    model = services.model_of(twin)
    release = selectors.release_at(model, form.cleaned_data["sequence"]) if model else None
    if release is None:
        return error_response(request, 409, "There is no such release for this thing's model.")
    try:
        check = services.update_accept(twin=twin, release=release, by=request.user)
    except services.FirmwareRefused as exc:
        return error_response(request, exc.status, exc.message)
    if check.outcome == check.Outcome.ACCEPTED:
        messages.success(request, f"Firmware {check.version} accepted: your thing will be offered it.")
    else:
        messages.error(request, f"Firmware {check.version} refused ({check.reason}): {check.message}")
    return redirect("thing", slug=twin.slug)
