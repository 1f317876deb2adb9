"""Running a per-thing bulk action over a selection: inline for a few things, in the task worker for many.

Each thing is changed in its own transaction together with its outcome row (bulk.models.BulkOutcome): a refusal or
an error of one thing rolls back that thing only, is recorded as its failure with words an owner can act on, and
the others go on. Between things the runner looks for a cancel request. Progress (the job's counts) is saved
every few things and pushed to the owner's open pages (core.live); the job page polls as a fallback.

A worker that dies mid-job leaves the task to be run again (core.worker's lease): the outcome rows say which
things were done, and the run skips them, so nothing is done twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import Http404
from django.tasks import task
from django.utils import timezone

from bulk.actions import ActionRefused, BulkAction, action_get, actions
from bulk.models import BulkJob, BulkOutcome
from bulk.selection import Selection
from core.errors import Conflict
from core.live import broadcast_after_commit
from twins.models import Twin

log = logging.getLogger(__name__)

# The counts are saved (and pushed) after this many things: often enough for a live bar, cheap for 10,000.
PROGRESS_EVERY = 10
MAX_REASON = 500


def inline_max() -> int:
    """Jobs of at most this many things run in the request; larger ones in the task worker."""
    return settings.BULK_INLINE_MAX


def params_clean(action: BulkAction, data: Mapping[str, Any] | None, owner: Any) -> dict[str, Any]:
    """The action's parameters through its form; a ValidationError naming the fields otherwise."""
    if action.form is None:
        return {}
    if data is not None and not isinstance(data, Mapping):
        raise ValidationError({"params": "Give the parameters as an object of names to values."})
    form = action.form(data or {}, owner=owner)
    if not form.is_valid():
        raise ValidationError(
            {name if name != "__all__" else "params": [str(e) for e in errors] for name, errors in form.errors.items()}
        )
    return dict(form.cleaned_data)


def action_for_job(key: Any) -> BulkAction:
    action = action_get(key) if isinstance(key, str) else None
    if action is None:
        known = ", ".join(item.key for item in actions() if item.per_twin is not None)
        raise ValidationError({"action": f"No such action. Choose one of: {known}."})
    if action.per_twin is None:
        raise ValidationError({"action": f"“{action.label}” answers at once (a page or a download), not as a job."})
    return action


def job_create(
    *, owner: Any, action: BulkAction, params: Mapping[str, Any], selection: Selection, run_inline: bool = True
) -> BulkJob:
    """Make the job for the owner's selected things (their own only) with cleaned `params`, then run it: at once
    if small (`run_inline`), otherwise in the task worker once the job row is committed. A selection that matches
    nothing, or a filter value a feature refuses, is a ValidationError."""
    ids = list(selection.twins(owner).values_list("pk", flat=True))
    if not ids:
        raise ValidationError({"selection": "Nothing selected: tick some of your things, or choose all matching."})
    with transaction.atomic():
        job = BulkJob.objects.create(
            owner=owner,
            action=action.key,
            label=action.label,
            params=dict(params),
            selection=selection.as_json(),
            twin_ids=ids,
            total=len(ids),
        )
        if not (run_inline and len(ids) <= inline_max()):
            # On commit: the worker must find the job row, and a rolled-back request enqueues nothing.
            transaction.on_commit(lambda: run_job_task.enqueue(job.pk))
            return job
    return job_run(job.pk)


@task()
def run_job_task(job_id: int) -> str:
    """The task worker's entry: run (or resume) the job. Returns its final status. An error outside any one
    thing (the database went away) fails the job with words rather than leave it "running" for good; what was
    done is kept and listed."""
    try:
        return job_run(job_id).status
    except Exception:
        log.exception("bulk job %s stopped", job_id)
        job = BulkJob.objects.get(pk=job_id)
        _save_progress(
            job,
            status=BulkJob.Status.FAILED,
            error="The job stopped on an error on our side; what was done is listed below, the rest is untouched.",
            finished_at=timezone.now(),
        )
        raise


def _cancel_requested(job_id: int) -> bool:
    return BulkJob.objects.filter(pk=job_id, cancel_requested_at__isnull=False).exists()


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        text = " ".join(exc.messages)
    else:
        text = str(exc) or getattr(exc, "message", "") or "Refused."
    return text[:MAX_REASON]


def _run_one(job: BulkJob, action: BulkAction, twin_id: int) -> bool | None:
    """Act on one thing; True done, False failed (recorded), None already recorded by another run."""
    reason = ""
    try:
        with transaction.atomic():
            twin = Twin.objects.select_for_update().filter(pk=twin_id).first()
            if twin is None or twin.owner_id != job.owner_id:
                raise ActionRefused("This thing is no longer yours: nothing was changed.")
            if twin.deactivated_at is not None:
                raise ActionRefused("This thing is deactivated: it can no longer change.")
            action.per_twin(twin, job.params, job.owner)
            BulkOutcome.objects.create(job=job, twin_id=twin_id, ok=True)
        return True
    except IntegrityError:
        if BulkOutcome.objects.filter(job=job, twin_id=twin_id).exists():
            return None  # another run of this job did it meanwhile; its change stands, this one rolled back
        reason = "The database refused the change: nothing was changed on this thing."
        log.exception("bulk job %s: thing %s", job.pk, twin_id)
    except (ActionRefused, ValidationError, Conflict, Http404) as exc:
        reason = _reason(exc)
    except Exception:
        log.exception("bulk job %s: thing %s", job.pk, twin_id)
        reason = "Something went wrong on our side: nothing was changed on this thing."
    if not Twin.objects.filter(pk=twin_id).exists():
        return None
    _, created = BulkOutcome.objects.get_or_create(job=job, twin_id=twin_id, defaults={"ok": False, "reason": reason})
    return False if created else None


def _save_progress(job: BulkJob, **fields: Any) -> BulkJob:
    """Counts from the outcome rows (right after a resume too), saved and pushed to the owner's pages."""
    counts = BulkOutcome.objects.filter(job=job).aggregate(
        done=Count("pk", filter=Q(ok=True)), failed=Count("pk", filter=Q(ok=False))
    )
    job.done_count, job.failed_count = counts["done"], counts["failed"]
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=["done_count", "failed_count", *fields])
    broadcast_after_commit(owner_id=job.owner_id, event=progress_event(job))
    return job


def progress_event(job: BulkJob) -> dict[str, Any]:
    """The live push (and the status API's core): {"kind": "bulk", "job", "status", "total", "done", "failed"}."""
    return {
        "kind": "bulk",
        "job": job.pk,
        "status": job.status,
        "total": job.total,
        "done": job.done_count,
        "failed": job.failed_count,
    }


def job_run(job_id: int) -> BulkJob:
    """Run the job's remaining things (those without an outcome), then record it done or cancelled. A finished
    job is left as it is; an action no longer installed fails the job with a reason."""
    now = timezone.now()
    claimed = BulkJob.objects.filter(pk=job_id, status__in=[BulkJob.Status.QUEUED, BulkJob.Status.RUNNING]).update(
        status=BulkJob.Status.RUNNING
    )
    job = BulkJob.objects.select_related("owner").get(pk=job_id)
    if not claimed:
        return job
    if job.started_at is None:
        job.started_at = now
        job.save(update_fields=["started_at"])
    action = action_get(job.action)
    if action is None or action.per_twin is None:
        return _save_progress(
            job, status=BulkJob.Status.FAILED, error="This action is no longer available.", finished_at=timezone.now()
        )
    seen = set(BulkOutcome.objects.filter(job=job).values_list("twin_id", flat=True))
    since_save = 0
    for twin_id in job.twin_ids:
        if twin_id in seen:
            continue
        if _cancel_requested(job.pk):
            return _save_progress(job, status=BulkJob.Status.CANCELLED, finished_at=timezone.now())
        _run_one(job, action, twin_id)
        since_save += 1
        if since_save >= PROGRESS_EVERY:
            since_save = 0
            _save_progress(job)
    return _save_progress(job, status=BulkJob.Status.DONE, finished_at=timezone.now())


def job_cancel(*, job: BulkJob) -> BulkJob:
    """Ask the job to stop before its next thing. A job still queued is cancelled at once (the worker, finding it
    cancelled, does nothing); a finished one is a Conflict."""
    now = timezone.now()
    if BulkJob.objects.filter(pk=job.pk, status=BulkJob.Status.QUEUED).update(
        status=BulkJob.Status.CANCELLED, cancel_requested_at=now, finished_at=now
    ):
        job.refresh_from_db()
        broadcast_after_commit(owner_id=job.owner_id, event=progress_event(job))
        return job
    if not BulkJob.objects.filter(pk=job.pk, status=BulkJob.Status.RUNNING).update(cancel_requested_at=now):
        job.refresh_from_db()
        raise Conflict(f"This job has already finished ({job.get_status_display().lower()}): nothing to cancel.")
    job.refresh_from_db()
    return job
