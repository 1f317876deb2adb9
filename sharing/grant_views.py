"""Pages of grants: a thing's sharing page (its grants, a form to add one, its delivery log, one-tap revoke),
a party's page (its grants across things, revoke all), the bulk grant, webhook endpoints, and the answer page
of a party's request. Views parse, call one service or selector, render; access is in the selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import apply_errors
from sharing import grants, selectors
from sharing import kinds as data_kinds
from sharing.forms import BulkGrantForm, EndpointForm, GrantFieldsForm, GrantForm, RequestAnswerForm
from twins import selectors as twin_selectors

LOG_PER_PAGE = 50


def _status(form) -> int:
    return 400 if form is not None and form.is_bound and form.errors else 200


def _log(request: HttpRequest, **scope):
    return Paginator(selectors.delivery_list(viewer=request.user, **scope), LOG_PER_PAGE).get_page(
        request.GET.get("page")
    )


@login_required
@require_http_methods(["GET"])
def overview(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "sharing/grant_overview.html",
        {"parties": selectors.parties_overview(viewer=request.user), "log": _log(request)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def thing_sharing(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_selectors.twin_get(viewer=request.user, slug=slug)
    form = GrantForm(request.POST or None, viewer=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            grants.grant_create(
                twin=twin, party=data["party"], kinds=data["all_kinds"], expires_at=data["expires_at"], by=request.user
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{selectors.party_label(data['party'])} now receives what you chose.")
            return redirect("thing-sharing", slug=twin.slug)
    context = {
        "twin": twin,
        "rows": selectors.grant_rows(selectors.grant_list(twin=twin)),
        "form": form,
        "kinds_listed": data_kinds.thing_kinds_listed(twin=twin),
        "log": _log(request, twin=twin),
    }
    return render(request, "sharing/grant_thing.html", context, status=_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def grant_edit(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = selectors.grant_get(viewer=request.user, grant_id=grant_id)
    plain = [k for k in grant.kinds if ":" not in k]
    initial = {
        "kinds": plain,
        "reading_kinds": ", ".join(k.split(":", 1)[1] for k in grant.kinds if ":" in k),
        "until": grant.expires_at.date() if grant.expires_at else None,
    }
    form = GrantFieldsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            grants.grant_update(
                grant=grant,
                by=request.user,
                kinds=form.cleaned_data["all_kinds"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Grant changed.")
            return redirect("thing-sharing", slug=grant.twin.slug)
    row = selectors.grant_rows([grant])[0]
    return render(request, "sharing/grant_edit.html", {"row": row, "form": form}, status=_status(form))


@login_required
@require_POST
def grant_revoke(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = selectors.grant_get(viewer=request.user, grant_id=grant_id)
    grants.grant_revoke(grant=grant, by=request.user)
    messages.success(request, f"Revoked: {selectors.party_label(grant)} receives nothing more of {grant.twin.name}.")
    back = request.POST.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("thing-sharing", slug=grant.twin.slug)


def _party(request: HttpRequest, kind: str, party_id: int):
    if kind == "connection":
        return selectors.connection_get(viewer=request.user, connection_id=party_id)
    if kind == "endpoint":
        return selectors.endpoint_get(viewer=request.user, endpoint_id=party_id)
    raise Http404("No such party.")


@login_required
@require_http_methods(["GET"])
def party_detail(request: HttpRequest, kind: str, party_id: int) -> HttpResponse:
    party = _party(request, kind, party_id)
    context = {
        "party": party,
        "party_kind": kind,
        "label": selectors.party_label(party),
        "rows": selectors.grant_rows(selectors.grants_of_party(viewer=request.user, party=party)),
        "log": _log(request, party=party),
    }
    return render(request, "sharing/grant_party.html", context)


@login_required
@require_POST
def party_revoke_all(request: HttpRequest, kind: str, party_id: int) -> HttpResponse:
    party = _party(request, kind, party_id)
    count = grants.grants_revoke_party(party=party, by=request.user)
    messages.success(request, f"Revoked {count} grant{'s' if count != 1 else ''} to {selectors.party_label(party)}.")
    return redirect("sharing-party", kind=kind, party_id=party_id)


@login_required
@require_http_methods(["GET", "POST"])
def bulk_grant(request: HttpRequest) -> HttpResponse:
    twins = list(twin_selectors.twin_list(viewer=request.user))
    initial = {"twins": request.GET.getlist("thing")}
    form = BulkGrantForm(request.POST or None, viewer=request.user, twins=twins, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = grants.grant_create(
                twins=data["twins"],
                party=data["party"],
                kinds=data["all_kinds"],
                expires_at=data["expires_at"],
                by=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Granted on {len(made)} thing{'s' if len(made) != 1 else ''}.")
            return redirect("sharing")
    return render(request, "sharing/grant_bulk.html", {"form": form}, status=_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def endpoints(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    secret = ""
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = grants.webhook_endpoint_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            form = EndpointForm()
    context = {
        "endpoints": selectors.endpoint_list(viewer=request.user),
        "form": form,
        "created": created,
        "secret": secret,  # shown on this response only; sealed at rest and never shown again
    }
    response = render(request, "sharing/grant_endpoints.html", context, status=_status(form))
    if secret:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.endpoint_get(viewer=request.user, endpoint_id=endpoint_id)
    grants.webhook_endpoint_delete(endpoint=endpoint, by=request.user)
    messages.success(request, f"Deleted {endpoint.label}; what was granted to it is revoked.")
    return redirect("sharing-endpoints")


@login_required
@require_POST
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.endpoint_get(viewer=request.user, endpoint_id=endpoint_id)
    grants.webhook_endpoint_enable(endpoint=endpoint, by=request.user)
    messages.success(request, f"{endpoint.label} is enabled again.")
    return redirect("sharing-endpoints")


@login_required
@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    grant_request = selectors.request_get(viewer=request.user, message_id=message_id)
    answer = selectors.request_answer(grant_request.message)
    initial = {"until": grant_request.until.date() if grant_request.until else None}
    form = RequestAnswerForm(request.POST or None, requested=grant_request.kinds, initial=initial)
    if request.method == "POST" and form.is_valid():
        approve = request.POST.get("answer") == "approve"
        try:
            grants.request_answer(
                message=grant_request.message,
                by=request.user,
                approve=approve,
                kinds=form.cleaned_data["kinds"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Approved: a grant was made." if approve else "Declined.")
            return redirect("sharing-request", message_id=message_id)
    context = {
        "req": grant_request,
        "label": selectors.party_label(grant_request.connection),
        "answer": answer,
        "form": form,
    }
    return render(request, "sharing/grant_request.html", context, status=_status(form))
