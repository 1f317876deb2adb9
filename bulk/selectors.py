"""Reading bulk jobs, always the viewer's own: anyone else's job is a 404, never a 403."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from bulk.models import BulkJob, BulkOutcome

# The result page lists at most this many of each kind of outcome (the counts say how many in all).
LIST_MAX = 500


def job_list(*, viewer: Any) -> QuerySet[BulkJob]:
    if not getattr(viewer, "is_authenticated", False):
        return BulkJob.objects.none()
    return BulkJob.objects.filter(owner=viewer).defer("twin_ids").order_by("-created_at", "-id")


def job_get(*, viewer: Any, job_id: int) -> BulkJob:
    job = job_list(viewer=viewer).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    return job


def outcome_list(*, job: BulkJob, ok: bool, limit: int = LIST_MAX) -> list[BulkOutcome]:
    """What the job did (`ok`) or could not do, in the order it went. Each outcome's `thing_name` and `thing_slug`
    are the thing's while the job's owner still owns it, None after it was sold or moved on: a buyer's name for
    the thing is the buyer's, not the seller's to read on an old job."""
    outcomes = list(
        BulkOutcome.objects.filter(job=job, ok=ok)
        .select_related("twin")
        .only("ok", "reason", "at", "twin__name", "twin__slug", "twin__owner_id", "job_id")
        .order_by("id")[:limit]
    )
    for outcome in outcomes:
        yours = outcome.twin.owner_id == job.owner_id
        outcome.thing_name = outcome.twin.name if yours else None
        outcome.thing_slug = outcome.twin.slug if yours else None
    return outcomes
