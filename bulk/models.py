"""A bulk job: one per-thing action over a selection of an owner's things, with what happened to each thing."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from twins.models import Twin


class BulkJob(models.Model):
    """One run of a per-thing action (bulk.actions) over the things selected when it was asked for.

    The things are fixed when the job is made (`twin_ids`, in the cards page's order): archiving "all matching"
    must not chase things that stop matching as it goes. What happened to each thing is a BulkOutcome row, written
    in the same transaction as the change itself, so a job resumed after a worker crash skips what was done."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_jobs")
    action = models.CharField(max_length=64)
    label = models.CharField(max_length=120)  # the action's words when asked for ("Archive")
    params = models.JSONField(default=dict, blank=True)
    selection = models.JSONField(default=dict, blank=True)  # bulk.selection.Selection.as_json()
    twin_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)  # why the whole job failed (status FAILED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The owner's recent jobs: WHERE owner_id = ? ORDER BY created_at DESC
            models.Index(fields=["owner", "-created_at"], name="bulkjob_owner_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.label} × {self.total} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.CANCELLED, self.Status.FAILED}

    @property
    def processed(self) -> int:
        return self.done_count + self.failed_count

    @property
    def untouched(self) -> int:
        return max(self.total - self.processed, 0)

    @property
    def percent(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 100


class BulkOutcome(models.Model):
    """What the job did to one thing: done (`ok`), or failed and why. At most one per thing and job."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="outcomes")
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="+")
    ok = models.BooleanField()
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A resumed job (or a second worker) never does one thing twice.
            models.UniqueConstraint(fields=["job", "twin"], name="bulkoutcome_one_per_thing"),
        ]
        indexes = [
            # The result page's lists: WHERE job_id = ? AND ok = ? ORDER BY id
            models.Index(fields=["job", "ok", "id"], name="bulkoutcome_job_ok_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.twin_id}: {'done' if self.ok else self.reason}"
