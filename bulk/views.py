"""Bulk pages: the action's parameters and confirmation, the job's progress and result, cancelling."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bulk import jobs, section, selectors
from bulk.actions import action_get, actions
from bulk.selection import MAX_PICKED, Selection
from core.errors import Conflict
from twins import listing


def _selection(request: HttpRequest) -> tuple[Selection, bool]:
    """The posted selection: the ticked things, or with `all` the cards page's filters (`query`) alone."""
    every = request.POST.get("all") == "1"
    slugs = [] if every else [slug for slug in request.POST.getlist("thing") if slug]
    if not every and not slugs:
        raise ValidationError("Nothing selected: tick some of your things, or choose “Select all”.")
    if len(slugs) > MAX_PICKED:
        raise ValidationError(f"At most {MAX_PICKED:,} things ticked one by one: choose “Select all” instead.")
    return Selection.from_params(QueryDict(request.POST.get("query", "")), slugs), every


def _things(count: int) -> str:
    return f"{count:,} thing{'' if count == 1 else 's'}"


@login_required
@require_POST
def bulk_act(request: HttpRequest) -> HttpResponse:
    """From the selection bar: the action's parameters and a confirmation ("Archive 2,143 things?"); with
    `confirm`, do it (a job for a per-thing action, the answer itself for a whole-selection one)."""
    action = action_get(request.POST.get("action", ""))
    back = reverse("things")
    context: dict = {"actions": actions(), "back": back}
    if action is None:
        return render(request, "bulk/act.html", {**context, "error": "Choose an action from the list."}, status=400)
    try:
        selection, every = _selection(request)
        twins = selection.twins(request.user)
        count = twins.count()
    except ValidationError as exc:
        return render(request, "bulk/act.html", {**context, "error": " ".join(exc.messages)}, status=400)
    if selection.query:
        back = f"{back}?{selection.query}"
    asked = "confirm" in request.POST
    form = action.form(request.POST if asked else None, owner=request.user) if action.form else None
    context.update(
        action=action,
        form=form,
        count=count,
        count_text=_things(count),
        question=action.ask(_things(count)),
        every=every,
        query=selection.query,
        slugs=selection.slugs,
        back=back,
    )
    if not count:
        context["error"] = "None of the selected things is yours any more."
        return render(request, "bulk/act.html", context, status=400)
    # An action with nothing to ask and easy to undo (mark found, print labels) is done at once.
    if not asked and (form is not None or action.confirm):
        return render(request, "bulk/act.html", context)
    if form is not None and not form.is_valid():
        return render(request, "bulk/act.html", context, status=400)
    params = dict(form.cleaned_data) if form is not None else {}
    if action.whole is not None:
        try:
            return action.whole(request, twins, params)
        except ValidationError as exc:
            return render(request, "bulk/act.html", {**context, "error": " ".join(exc.messages)}, status=400)
    try:
        job = jobs.job_create(owner=request.user, action=action, params=params, selection=selection)
    except ValidationError as exc:
        return render(request, "bulk/act.html", {**context, "error": " ".join(exc.messages)}, status=400)
    return redirect("bulk-job", job_id=job.pk)


@login_required
@require_GET
@never_cache
def bulk_count(request: HttpRequest) -> JsonResponse:
    """The selection bar's number, fetched by bulk.js once the cards page is shown (bulk.section): how many of the
    viewer's own things the cards page's filters (this request's query string) match, up to the bar's caps.
    {"matching": 2143, "text": "2,143", "capped": false}; a filter the list refuses is a 400 with its words."""
    filters = Selection.from_params(request.GET).filters()
    try:
        # The search's sets are gathered once and fetched by primary key when few, as on the cards page.
        with listing.one_request():
            found, text = section.matching(request.user, filters)
    except ValidationError as exc:
        return JsonResponse({"message": " ".join(exc.messages), "extra": {}}, status=400)
    return JsonResponse({"matching": found, "text": text, "capped": text.endswith("+")})


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get(viewer=request.user, job_id=job_id)
    context = {
        "job": job,
        "failures": selectors.outcome_list(job=job, ok=False),
        "done": selectors.outcome_list(job=job, ok=True),
        "list_max": selectors.LIST_MAX,
    }
    return render(request, "bulk/job.html", context)


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    return render(request, "bulk/jobs.html", {"jobs": selectors.job_list(viewer=request.user)[:50]})


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get(viewer=request.user, job_id=job_id)
    try:
        jobs.job_cancel(job=job)
    except Conflict as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, "Cancelling: the job stops before its next thing.")
    return redirect("bulk-job", job_id=job.pk)
