"""Recall pages and the manufacturer's dashboard.

Public: a recall's page (/recalls/<id>/: a recall is a public fact; a signed-in owner of an affected thing can
acknowledge it there) and a model's recall status (/models/<gtin14>/recalls[?serial=], HTML or JSON: the
resolver's gs1:recallStatus). Members of the organisation: the dashboard and the recall pages with their reach;
admins issue. Anyone else gets a 404 on an organisation's pages. A recall notice received over DIDComm has its
own page for its owner (/recalls/received/<id>/) with the Acknowledge button.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import error_response, wants_json
from core.forms import apply_errors
from makers import dashboard as numbers
from makers import recalls
from makers.access import NotAllowed, organisation_for_member
from makers.links import organisation_links
from makers.models import ProductModel, Recall
from makers.recall_forms import RecallForm


@login_required
@require_GET
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    organisation, membership = organisation_for_member(request.user, slug)
    return render(
        request,
        "makers/dashboard.html",
        {
            "organisation": organisation,
            "membership": membership,
            "numbers": numbers.dashboard(organisation),
            "links": organisation_links(organisation),
        },
    )


@login_required
@require_GET
def recall_list(request: HttpRequest, slug: str) -> HttpResponse:
    organisation, membership = organisation_for_member(request.user, slug)
    reach = [numbers.recall_reach(r) for r in recalls.recall_list_for_organisation(organisation=organisation)[:200]]
    return render(
        request,
        "makers/recall_list.html",
        {"organisation": organisation, "membership": membership, "reach": reach},
    )


@login_required
@require_http_methods(["GET", "POST"])
def recall_new(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        organisation, _ = organisation_for_member(request.user, slug, admin=True)
    except NotAllowed as exc:
        return error_response(request, 403, str(exc))
    models = list(ProductModel.objects.filter(organisation=organisation).order_by("name", "id"))
    form = RecallForm(request.POST or None, models=models)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            recall = recalls.recall_issue(
                organisation=organisation,
                by=request.user,
                gtin=data["gtin"],
                title=data["title"],
                text=data["text"],
                severity=data["severity"],
                link=data["link"],
                serials=form.serial_list(),
                serial_from=data["serial_from"],
                serial_to=data["serial_to"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Recall issued. Owners are being told now.")
            return redirect("org-recall", slug=organisation.slug, recall_id=recall.pk)
    status = 400 if form.errors else 200
    return render(
        request, "makers/recall_new.html", {"organisation": organisation, "form": form, "models": models}, status=status
    )


@login_required
@require_GET
def recall_org_detail(request: HttpRequest, slug: str, recall_id: int) -> HttpResponse:
    organisation, _ = organisation_for_member(request.user, slug)
    recall = recalls.recall_get_for_organisation(organisation=organisation, recall_id=recall_id)
    return render(
        request,
        "makers/recall_org_detail.html",
        {"organisation": organisation, "recall": recall, "reach": numbers.recall_reach(recall)},
    )


@require_GET
def recall_public(request: HttpRequest, recall_id: int) -> HttpResponse:
    recall = recalls.recall_get_public(recall_id=recall_id)
    mine = list(recalls.my_notices(owner=request.user, recall=recall))
    return render(
        request,
        "makers/recall_public.html",
        {
            "recall": recall,
            "scope": recalls.recall_scope_text(recall),
            "mine": mine,
            "unacknowledged": [n for n in mine if n.acknowledged_at is None],
        },
    )


@login_required
@require_POST
def recall_acknowledge(request: HttpRequest, recall_id: int) -> HttpResponse:
    recall = recalls.recall_get_public(recall_id=recall_id)
    done = recalls.recall_acknowledge_local(viewer=request.user, recall=recall)
    if done:
        messages.success(request, "Acknowledged. Thank you.")
    return redirect("recall", recall_id=recall.pk)


def _recall_json(recall: Recall) -> dict:
    return {
        "id": recall.pk,
        "title": recall.title,
        "text": recall.text,
        "severity": recall.severity,
        "link": recall.link,
        "scope": recalls.recall_scope_text(recall),
        "issued_at": recall.created_at.isoformat(),
        "url": reverse("recall", args=[recall.pk]),
    }


@require_GET
def model_recalls(request: HttpRequest, gtin: str) -> HttpResponse:
    """gs1:recallStatus: whether there is a recall for the model (and the serial, with ?serial=)."""
    try:
        gtin = recalls.gtin14(gtin)
    except ValidationError as exc:
        return error_response(request, 400, exc.messages[0])
    model = ProductModel.objects.select_related("organisation").filter(gtin=gtin).first()
    if model is None:
        raise Http404("No product model has this GTIN here.")
    serial = request.GET.get("serial")
    if serial is not None and not recalls.is_serial(serial):
        return error_response(request, 400, "A serial is 1 to 20 letters, digits or GS1 punctuation (GS1 AI 21).")
    found = recalls.recalls_for(model, serial=serial)
    if wants_json(request):
        return JsonResponse(
            {
                "gtin": gtin,
                "model": model.name,
                "serial": serial,
                "recalled": bool(found),
                "recalls": [_recall_json(recall) for recall in found],
            }
        )
    return render(request, "makers/recall_model.html", {"model": model, "serial": serial, "recalls": found})


@login_required
@require_http_methods(["GET", "POST"])
def recall_received(request: HttpRequest, inbound_id: int) -> HttpResponse:
    """A recall notice one of the viewer's agents received over DIDComm; POST acknowledges it to the sender."""
    if request.method == "POST":
        try:
            recalls.recall_notice_acknowledge(viewer=request.user, inbound_id=inbound_id)
        except ValidationError as exc:
            return error_response(request, 409, exc.messages[0])
        messages.success(request, "Acknowledged: the manufacturer is told.")
        return redirect("recall-received", inbound_id=inbound_id)
    inbound = recalls.received_notice_get(viewer=request.user, inbound_id=inbound_id)
    body = inbound.body
    link = body.get("link") if isinstance(body.get("link"), str) and body["link"].startswith("https://") else ""
    return render(
        request,
        "makers/recall_received.html",
        {
            "inbound": inbound,
            "notice": {k: body.get(k) for k in ("title", "text", "severity", "gtin", "serial", "thing", "issuer")},
            "link": link,
            "acknowledged": recalls.received_notice_acknowledged(inbound),
        },
    )
