"""Support pages. The owner's: open a case from a thing's page (/things/<slug>/support/), a case and what can be
done on it (/support/<case_id>/...). The organisation's: its queue (/orgs/<slug>/support/) and a case
(/orgs/<slug>/support/<case_id>/...), for members only. Anyone else gets a 404. Views parse, call one service or
selector, and render; a refusal is a 400 with the page and the reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import apply_errors
from makers.access import organisation_for_member
from makers.models import Membership, ProductModel
from support import context as things_context
from support import forms, selectors, services
from support.models import Case, CaseMessage
from twins.selectors import twin_get


def _shown(message: CaseMessage) -> CaseMessage:
    """The message's attachments as the page shows them: inline images as data: URLs (the CSP allows them for
    images only), links as links, anything else by name."""
    shown = []
    for item in message.attachments:
        data = item.get("data", {})
        entry: dict[str, Any] = {
            "name": item.get("filename") or item.get("@id", ""),
            "description": item.get("description", ""),
        }
        mime = item.get("mime-type", "")
        if "base64" in data and mime.startswith("image/"):
            entry["src"] = f"data:{mime};base64,{data['base64']}"
        elif "links" in data:
            entry["link"] = data["links"][0]
        shown.append(entry)
    message.shown_attachments = shown
    return message


def _thread(case: Case) -> list[CaseMessage]:
    return [_shown(message) for message in selectors.case_messages(case)]


# --- The owner's side ------------------------------------------------------------------------------------------


@login_required
@require_GET
def my_cases(request: HttpRequest) -> HttpResponse:
    """The viewer's cases, and the support queues of the organisations they are a member of."""
    return render(
        request,
        "support/my_cases.html",
        {
            "cases": selectors.cases_of_owner(viewer=request.user)[:200],
            "queues": selectors.queues_of(viewer=request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def thing_support(request: HttpRequest, slug: str) -> HttpResponse:
    twin = twin_get(viewer=request.user, slug=slug)
    parties = services.help_connections(twin=twin)
    items = things_context.choices(twin)
    initial = {"connection": request.GET.get("to")} if request.GET.get("to", "").isdigit() else None
    form = forms.OpenForm(request.POST or None, request.FILES or None, parties=parties, items=items, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                case = services.case_open(
                    owner=request.user,
                    twin=twin,
                    connection_id=form.cleaned_data["connection"],
                    subject=form.cleaned_data["subject"],
                    text=form.cleaned_data["text"],
                    keys=form.cleaned_data["context"],
                    photo=form.cleaned_data.get("photo"),
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                return redirect("support-case", case.public_id)
        status = 400
    cases = selectors.cases_of_twin(viewer=request.user, twin=twin)
    return render(
        request,
        "support/thing_support.html",
        {"twin": twin, "form": form, "parties": parties, "cases": cases},
        status=status,
    )


def _step(
    form: django_forms.Form,
    act: Callable[[dict], object],
    done: HttpResponse,
    again: Callable[[django_forms.Form], HttpResponse],
) -> HttpResponse:
    """One step on a case, on either side: a valid form runs `act(cleaned_data)` and goes to `done`; an invalid
    one, or a service's ValidationError, shows the case again with the form's errors (`again(form)`, a 400)."""
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return done
    return again(form)


def _owner_page(request: HttpRequest, case: Case, *, status: int = 200, **forms_given) -> HttpResponse:
    mine = case.twin is not None and case.twin.owner_id == request.user.pk
    items = things_context.choices(case.twin) if mine else []
    ask = selectors.pending_ask(case) if mine else None
    context = {
        "case": case,
        "side": "owner",
        "thread": _thread(case),
        "can_write": mine,
        "ask": ask,
        "reply_form": forms_given.get("reply_form") or forms.ReplyForm(),
        "provide_form": forms_given.get("provide_form") or forms.ProvideForm(items=items),
        "status_form": forms_given.get("status_form") or forms.StatusForm(),
    }
    return render(request, "support/case.html", context, status=status)


@login_required
@require_GET
def case_page(request: HttpRequest, case_id: str) -> HttpResponse:
    return _owner_page(request, selectors.case_get_for_owner(viewer=request.user, case_id=case_id))


@login_required
@require_POST
def case_reply(request: HttpRequest, case_id: str) -> HttpResponse:
    case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
    return _step(
        forms.ReplyForm(request.POST, request.FILES),
        lambda data: services.owner_reply(case=case, by=request.user, text=data["text"], photo=data.get("photo")),
        redirect("support-case", case.public_id),
        lambda form: _owner_page(request, case, status=400, reply_form=form),
    )


@login_required
@require_POST
def case_answer(request: HttpRequest, case_id: str) -> HttpResponse:
    """The owner answers an ask: send the ticked context, or decline."""
    case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
    items = things_context.choices(case.twin) if case.twin is not None and case.twin.owner_id == request.user.pk else []

    def answer(data: dict) -> object:
        if data["answer"] == "decline":
            return services.owner_decline(case=case, by=request.user, text=data["text"])
        return services.owner_provide(case=case, by=request.user, keys=data["context"], text=data["text"])

    return _step(
        forms.ProvideForm(request.POST, items=items),
        answer,
        redirect("support-case", case.public_id),
        lambda form: _owner_page(request, case, status=400, provide_form=form),
    )


@login_required
@require_POST
def case_status(request: HttpRequest, case_id: str) -> HttpResponse:
    case = selectors.case_get_for_owner(viewer=request.user, case_id=case_id)
    return _step(
        forms.StatusForm(request.POST),
        lambda data: services.case_status(case=case, by=request.user, status=data["status"], text=data["text"]),
        redirect("support-case", case.public_id),
        lambda form: _owner_page(request, case, status=400, status_form=form),
    )


@login_required
@require_POST
def case_read(request: HttpRequest, case_id: str) -> HttpResponse:
    """The page was read (posted by static/support/support.js): read receipts for what had arrived."""
    services.case_mark_read(case=selectors.case_get_for_owner(viewer=request.user, case_id=case_id))
    return HttpResponse(status=204)


# --- The organisation's side -----------------------------------------------------------------------------------


@login_required
@require_GET
def org_queue(request: HttpRequest, slug: str) -> HttpResponse:
    organisation, membership = organisation_for_member(request.user, slug)
    filters = selectors.QueueFilters(
        status=request.GET.get("status", ""),
        gtin=request.GET.get("model", ""),
        assignee=request.GET.get("assignee", ""),
    )
    cases = selectors.queue(organisation=organisation, viewer=request.user, filters=filters)[:200]
    return render(
        request,
        "support/queue.html",
        {
            "organisation": organisation,
            "membership": membership,
            "cases": cases,
            "filters": filters,
            "statuses": Case.Status.choices,
            "models": ProductModel.objects.filter(organisation=organisation).order_by("name", "id"),
        },
    )


def _org_page(request: HttpRequest, organisation, case: Case, *, status: int = 200, **forms_given) -> HttpResponse:
    members = Membership.objects.filter(organisation=organisation).select_related("owner").order_by("owner__username")
    context = {
        "case": case,
        "organisation": organisation,
        "side": "party",
        "thread": _thread(case),
        "can_write": True,
        "ask": selectors.pending_ask(case),
        "reply_form": forms_given.get("reply_form") or forms.ReplyForm(),
        "ask_form": forms_given.get("ask_form") or forms.AskForm(),
        "status_form": forms_given.get("status_form") or forms.StatusForm(),
        "assign_form": forms_given.get("assign_form")
        or forms.AssignForm(members=members, initial={"assignee": case.assignee_id}),
    }
    return render(request, "support/case.html", context, status=status)


def _org_case(request: HttpRequest, slug: str, case_id: str):
    organisation, _ = organisation_for_member(request.user, slug)
    return organisation, selectors.case_get_for_organisation(organisation=organisation, case_id=case_id)


@login_required
@require_GET
def org_case(request: HttpRequest, slug: str, case_id: str) -> HttpResponse:
    organisation, case = _org_case(request, slug, case_id)
    return _org_page(request, organisation, case)


@login_required
@require_POST
def org_case_reply(request: HttpRequest, slug: str, case_id: str) -> HttpResponse:
    organisation, case = _org_case(request, slug, case_id)
    return _step(
        forms.ReplyForm(request.POST),
        lambda data: services.party_reply(case=case, by=request.user, text=data["text"]),
        redirect("org-support-case", organisation.slug, case.public_id),
        lambda form: _org_page(request, organisation, case, status=400, reply_form=form),
    )


@login_required
@require_POST
def org_case_ask(request: HttpRequest, slug: str, case_id: str) -> HttpResponse:
    organisation, case = _org_case(request, slug, case_id)
    return _step(
        forms.AskForm(request.POST),
        lambda data: services.party_ask(case=case, by=request.user, asks=data["asks"], text=data["text"]),
        redirect("org-support-case", organisation.slug, case.public_id),
        lambda form: _org_page(request, organisation, case, status=400, ask_form=form),
    )


@login_required
@require_POST
def org_case_assign(request: HttpRequest, slug: str, case_id: str) -> HttpResponse:
    organisation, case = _org_case(request, slug, case_id)
    members = Membership.objects.filter(organisation=organisation).select_related("owner")
    return _step(
        forms.AssignForm(request.POST, members=members),
        lambda data: services.party_assign(case=case, by=request.user, assignee_id=data["assignee"]),
        redirect("org-support-case", organisation.slug, case.public_id),
        lambda form: _org_page(request, organisation, case, status=400, assign_form=form),
    )


@login_required
@require_POST
def org_case_status(request: HttpRequest, slug: str, case_id: str) -> HttpResponse:
    organisation, case = _org_case(request, slug, case_id)
    return _step(
        forms.StatusForm(request.POST),
        lambda data: services.case_status(case=case, by=request.user, status=data["status"], text=data["text"]),
        redirect("org-support-case", organisation.slug, case.public_id),
        lambda form: _org_page(request, organisation, case, status=400, status_form=form),
    )


@login_required
@require_POST
def org_case_read(request: HttpRequest, slug: str, case_id: str) -> HttpResponse:
    _, case = _org_case(request, slug, case_id)
    services.case_mark_read(case=case)
    return HttpResponse(status=204)
