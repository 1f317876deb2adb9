"""Import pages: upload, the dry-run report (errors paginated), confirm, progress and result; export downloads."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from bulk.selection import Selection
from core.errors import error_response
from imports import export, selectors, services
from imports.forms import UploadForm
from imports.models import ImportRowError, ImportRun


@login_required
def import_start(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            run = services.import_upload(owner=request.user, upload=upload, filename=upload.name)
        except services.ImportRefused as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("import", run_id=run.pk)
    runs = selectors.run_list(viewer=request.user)[:20]
    status = 400 if form.errors else 200
    return render(request, "imports/start.html", {"form": form, "runs": runs}, status=status)


@login_required
@require_GET
def import_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """The dry run before confirmation; the progress bar while it runs (the page reloads itself); the result."""
    run = selectors.run_get(viewer=request.user, run_id=run_id)
    phase = ImportRowError.Phase.CHECK if run.status == ImportRun.Status.CHECKED else ImportRowError.Phase.APPLY
    if run.status == ImportRun.Status.REFUSED:
        phase = ImportRowError.Phase.CHECK
    page = selectors.error_page(run=run, phase=phase, number=request.GET.get("page"))
    running = run.status in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING)
    return render(request, "imports/detail.html", {"run": run, "page": page, "running": running})


@login_required
@require_POST
def import_confirm(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_get(viewer=request.user, run_id=run_id)
    services.import_confirm(run=run)
    return redirect("import", run_id=run.pk)


@login_required
@require_GET
def export_things(request: HttpRequest, fmt: str) -> HttpResponse:
    """The owner's things matching the cards page's filters (`?q=…&lost=yes`), or the ticked ones (`thing=`)."""
    try:
        twins = Selection.from_params(request.GET, request.GET.getlist("thing")).twins(request.user)
        twins.exists()
    except ValidationError as exc:
        return error_response(request, 400, " ".join(exc.messages))
    return export.export_response(twins, fmt)
