"""Pages of upkeep: the purchase form, attachments (upload, download, delete) and the maintenance list.

Access, per twins.selectors.twin_get: purchase and attachments are the owner's; the maintenance list needs VIEW
and "done" needs JOURNAL_WRITE, so a keeper can look after the maintenance (upkeep.maintenance)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.forms import apply_errors
from twins import access, selectors
from upkeep import attachments, maintenance, warranty
from upkeep.forms import AttachmentForm, DoneForm, PurchaseForm, ScheduleForm


def _render(request: HttpRequest, template: str, context: dict, form=None) -> HttpResponse:
    return render(request, template, context, status=400 if form is not None and form.errors else 200)


@login_required
def purchase_edit(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    purchase = warranty.purchase_of(twin)
    initial = {name: getattr(purchase, name) for name in warranty.FIELDS} if purchase else {}
    form = PurchaseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            warranty.purchase_set(twin=twin, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Purchase saved.")
            return redirect("thing", slug=twin.slug)
    return _render(request, "upkeep/purchase.html", {"form": form, "twin": twin}, form)


@login_required
def attachment_add(request: HttpRequest, slug: str) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    form = AttachmentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            attachments.attachment_add(
                twin=twin,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                title=form.cleaned_data["title"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "File attached.")
            return redirect("thing", slug=twin.slug)
    return _render(request, "upkeep/attachment_form.html", {"form": form, "twin": twin}, form)


@login_required
def attachment_download(request: HttpRequest, slug: str, attachment_id: int) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    return attachments.attachment_response(attachments.attachment_get(twin=twin, attachment_id=attachment_id))


@login_required
@require_POST
def attachment_delete(request: HttpRequest, slug: str, attachment_id: int) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    attachment = attachments.attachment_get(twin=twin, attachment_id=attachment_id)
    attachments.attachment_delete(attachment=attachment)
    messages.success(request, f"{attachment} deleted.")
    return redirect("thing", slug=twin.slug)


@login_required
def maintenance_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The schedules of a thing; the owner adds one here (POST)."""
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.VIEW)
    form = None
    if twin.access.owner:
        form = ScheduleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                maintenance.schedule_create(twin=twin, **form.cleaned_data)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, "Schedule added.")
                return redirect("upkeep-maintenance", slug=twin.slug)
    elif request.method == "POST":
        # A keeper may look, not add: the same answer as for anything not theirs.
        selectors.twin_get(viewer=request.user, slug=slug)
    context = _maintenance_context(twin, schedule_form=form, done_form=DoneForm())
    return _render(request, "upkeep/maintenance.html", context, form)


def _maintenance_context(twin, **extra) -> dict:
    return {
        "twin": twin,
        "can": twin.access.flags(),
        "schedules": maintenance.schedule_list(twin=twin),
        "today": timezone.localdate(),
        **extra,
    }


@login_required
@require_POST
def schedule_done(request: HttpRequest, slug: str, schedule_id: int) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug, need=access.JOURNAL_WRITE)
    schedule = maintenance.schedule_get(twin=twin, schedule_id=schedule_id)
    form = DoneForm(request.POST)
    if form.is_valid():
        try:
            schedule = maintenance.schedule_done(
                schedule=schedule, on=form.cleaned_data["on"], note=form.cleaned_data["note"], by=request.user
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{schedule.name}: done. Next due {schedule.next_due.isoformat()}.")
            # From the thing's page, back there; from the maintenance list, back to the list.
            target = "thing" if request.POST.get("back") == "thing" else "upkeep-maintenance"
            return redirect(target, slug=twin.slug)
    context = _maintenance_context(
        twin, schedule_form=ScheduleForm() if twin.access.owner else None, done_form=form, done_schedule=schedule
    )
    return _render(request, "upkeep/maintenance.html", context, form)


@login_required
@require_POST
def schedule_delete(request: HttpRequest, slug: str, schedule_id: int) -> HttpResponse:
    twin = selectors.twin_get(viewer=request.user, slug=slug)
    schedule = maintenance.schedule_get(twin=twin, schedule_id=schedule_id)
    maintenance.schedule_delete(schedule=schedule)
    messages.success(request, f"{schedule.name} deleted.")
    return redirect("upkeep-maintenance", slug=twin.slug)
