"""Reads of imports, always scoped to the viewer: anyone else's import is a 404, as if it did not exist."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404

from imports.models import ImportRowError, ImportRun

ERRORS_PER_PAGE = 50


def run_get(*, viewer, run_id: int) -> ImportRun:
    run = ImportRun.objects.filter(pk=run_id, owner_id=getattr(viewer, "pk", None)).first()
    if run is None:
        raise Http404("No such import among yours.")
    return run


def run_list(*, viewer) -> QuerySet[ImportRun]:
    return ImportRun.objects.filter(owner_id=viewer.pk).order_by("-created_at", "-id")


def error_page(*, run: ImportRun, phase: str, number: int | str | None) -> Page:
    errors = ImportRowError.objects.filter(run=run, phase=phase).order_by("row", "id")
    return Paginator(errors, ERRORS_PER_PAGE).get_page(number)
