"""Owner pages for ingestion sources. Thin: validate, call a service, render. Access is in the selectors.

A secret appears in exactly one response, the one answering the POST that made it (create or rotate); it is
never stored in the clear, put in the session, a message or a log.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.forms import apply_errors
from ingest import devices, selectors, services
from ingest.forms import LinkForm, RotateForm, SourceCreateForm, SourceForm
from ingest.models import DeviceKey, Source
from twins import selectors as twin_selectors


def _hook_url(request: HttpRequest, source: Source) -> str:
    return request.build_absolute_uri(reverse("hook", args=[source.public_id]))


def _secret_page(request: HttpRequest, source: Source, secret: str, *, rotated: bool) -> HttpResponse:
    response = render(
        request,
        "ingest/secret.html",
        {"source": source, "secret": secret, "rotated": rotated, "hook_url": _hook_url(request, source)},
    )
    # The page holds a secret: no cache may keep it, and the browser's back button must not show it again.
    response["Cache-Control"] = "no-store"
    return response


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    return render(request, "ingest/list.html", {"sources": selectors.source_list(viewer=request.user)})


@login_required
@never_cache
def source_create(request: HttpRequest) -> HttpResponse:
    form = SourceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source, secret = services.source_create(owner=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return _secret_page(request, source, secret, rotated=False)
    return render(request, "ingest/create.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def source_detail(request: HttpRequest, source_id: str) -> HttpResponse:
    source = selectors.source_get(viewer=request.user, public_id=source_id)
    form = SourceForm(request.POST or None, initial=SourceForm.initial_for(source))
    result = None
    if request.method == "POST" and form.is_valid():
        mapping = form.mapping()
        try:
            services.validate_mapping(mapping)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if request.POST.get("action") == "save":
                try:
                    services.source_update(
                        source=source,
                        name=form.cleaned_data["name"],
                        mapping=mapping,
                        rate_limit=form.cleaned_data["rate_limit"],
                    )
                except ValidationError as exc:
                    apply_errors(form, exc)
                else:
                    messages.success(request, "Source saved.")
                    return redirect("source", source_id=source.public_id)
            if form.cleaned_data["sample"] is not None:
                result = services.mapping_preview(source=source, mapping=mapping, sample=form.cleaned_data["sample"])
    context = {
        "source": source,
        "form": form,
        "preview": result,
        "links": selectors.source_links(source=source),
        "link_form": LinkForm(owner=request.user),
        "rotate_form": RotateForm(),
        "hook_url": _hook_url(request, source),
    }
    return render(request, "ingest/detail.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def source_link(request: HttpRequest, source_id: str) -> HttpResponse:
    source = selectors.source_get(viewer=request.user, public_id=source_id)
    form = LinkForm(request.POST, owner=request.user)
    if form.is_valid():
        try:
            services.source_link_thing(
                source=source, twin=form.cleaned_data["twin"], external_id=form.cleaned_data["external_id"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{form.cleaned_data['twin'].name} now takes readings from {source.name}.")
            return redirect("source", source_id=source.public_id)
    context = {"source": source, "link_form": form}
    return render(request, "ingest/link_error.html", context, status=400)


@login_required
@require_POST
def source_unlink(request: HttpRequest, source_id: str, link_id: int) -> HttpResponse:
    source = selectors.source_get(viewer=request.user, public_id=source_id)
    link = selectors.link_get(source=source, link_id=link_id)
    services.source_unlink_thing(link=link)
    messages.success(request, f"{link.twin.name} no longer takes readings from {source.name}.")
    return redirect("source", source_id=source.public_id)


@login_required
@never_cache
@require_POST
def source_rotate(request: HttpRequest, source_id: str) -> HttpResponse:
    source = selectors.source_get(viewer=request.user, public_id=source_id)
    form = RotateForm(request.POST)
    if form.is_valid():
        try:
            source, secret = services.source_rotate_secret(
                source=source, overlap=timedelta(hours=form.cleaned_data["overlap_hours"])
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return _secret_page(request, source, secret, rotated=True)
    return render(request, "ingest/rotate_error.html", {"source": source, "rotate_form": form}, status=400)


@login_required
@require_POST
def source_end_overlap(request: HttpRequest, source_id: str) -> HttpResponse:
    source = selectors.source_get(viewer=request.user, public_id=source_id)
    services.source_end_overlap(source=source)
    messages.success(request, "The previous secret is no longer accepted.")
    return redirect("source", source_id=source.public_id)


@login_required
def source_delete(request: HttpRequest, source_id: str) -> HttpResponse:
    source = selectors.source_get(viewer=request.user, public_id=source_id)
    if request.method == "POST":
        name = source.name
        services.source_delete(source=source)
        messages.success(request, f"{name} deleted: its URL no longer accepts readings. Readings it sent stay.")
        return redirect("sources")
    return render(request, "ingest/delete.html", {"source": source})


@login_required
def device_keys(request: HttpRequest, slug: str) -> HttpResponse:
    """A thing's device keys: add one, revoke one, require device signatures (one route, an `action` per form)."""
    twin = twin_selectors.twin_get(viewer=request.user, slug=slug)
    errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                devices.device_key_add(
                    twin=twin, public_key=request.POST.get("public_key", ""), label=request.POST.get("label", "")
                )
                messages.success(request, "Device key added.")
            elif action == "revoke":
                key = DeviceKey.objects.filter(twin=twin, pk=request.POST.get("key_id") or 0).first()
                if key is None:
                    raise ValidationError("No such device key.")
                devices.device_key_revoke(key=key)
                messages.success(request, "Device key revoked.")
            elif action == "require":
                devices.twin_set_require_device_signature(twin=twin, required=request.POST.get("required") == "1")
                messages.success(request, "Saved.")
            else:
                raise ValidationError("Unknown action.")
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("device-keys", slug=twin.slug)
    context = {"twin": twin, "keys": DeviceKey.objects.filter(twin=twin), "errors": errors}
    return render(request, "ingest/device_keys.html", context, status=400 if errors else 200)
