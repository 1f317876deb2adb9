"""An import: the uploaded file (kept privately in the database, in chunks), its dry run, and its progress; and the
map from an owner's external ids to the things an import made.

An import is resumable because each batch of rows commits together with the run's `cursor` (the last row number
done) and with the `ImportedThing` rows of the things it made: a worker killed mid-batch leaves neither, and the
next one starts after the cursor. (owner, external id) and (run, row) are unique, so no row makes two things.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from twins.models import Twin


class ImportRun(models.Model):
    class Status(models.TextChoices):
        # Uploaded, the dry run not finished: never confirmable (a dry run that crashed left its run CHECKED, and
        # confirming it applied the file with no tag-code budget).
        CHECKING = "checking", "Checking"
        REFUSED = "refused", "Refused"  # the file cannot be read (message says why)
        CHECKED = "checked", "Checked"  # the dry run is done, waiting for the owner's confirmation
        QUEUED = "queued", "Queued"  # confirmed, waiting for the worker
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_runs")
    filename = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=8, choices=Format.choices)
    size = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKING)
    # A file that cannot be read at all (no heading row, a photo URL column, broken JSON): why, for the owner.
    message = models.TextField(blank=True)

    # The dry run: what the file would do if confirmed now.
    rows = models.PositiveIntegerField(default=0)
    will_create = models.PositiveIntegerField(default=0)
    will_update = models.PositiveIntegerField(default=0)
    will_leave = models.PositiveIntegerField(default=0)
    check_errors = models.PositiveIntegerField(default=0)
    # The last row whose tag code the dry run could look up: after it, the account's budget of tag codes not on its
    # own things (RATE_IMPORT_TAG_CODES_PER_ACCOUNT) was spent, and the import looks up no such code of a later row
    # either (imports.rows.TagBudget). The dry run always sets it (the last row it read, if the budget lasted);
    # None: the dry run did not finish, and the import looks up no such code at all.
    tag_codes_until_row = models.PositiveIntegerField(null=True, blank=True)

    # The import itself: the last row number whose batch committed, and what the batches did.
    cursor = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    left_alone = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The owner's imports page: WHERE owner_id = ? ORDER BY created_at DESC
            models.Index(fields=["owner", "-created_at"], name="import_run_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        return 100 if not self.rows else min(100, round(100 * self.done_rows / self.rows))

    @property
    def can_confirm(self) -> bool:
        return self.status == self.Status.CHECKED and (self.will_create or self.will_update)


class ImportChunk(models.Model):
    """A piece of the uploaded file, in order. Kept in the database so that any worker can read it, privately."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="import_chunk_one_per_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq}"


class ImportRowError(models.Model):
    """One problem with one row: "row 1,204, column serial: already used by Grinder 17"."""

    class Phase(models.TextChoices):
        CHECK = "check", "Dry run"
        APPLY = "apply", "Import"

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="errors")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=80, blank=True)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ["run", "phase", "row", "id"]
        indexes = [
            # The report's error pages: WHERE run_id = ? AND phase = ? ORDER BY row
            models.Index(fields=["run", "phase", "row"], name="import_error_page_idx"),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        where = f"row {self.row:,}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ImportedThing(models.Model):
    """Which thing an import made for an owner's external id (or, for a row without one, for that run's row)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200, blank=True)
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="imported_as")
    run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    row = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # Idempotence: one thing per external id of an owner, whatever races or resumes.
            models.UniqueConstraint(
                fields=["owner", "external_id"], condition=~Q(external_id=""), name="imported_one_per_external_id"
            ),
            # A resumed run never makes a second thing for a row without an external id.
            models.UniqueConstraint(fields=["run", "row"], condition=Q(run__isnull=False), name="imported_one_per_row"),
        ]
        indexes = [
            # Export: a page of things' external ids: WHERE twin_id IN (...)
            models.Index(fields=["twin"], name="imported_twin_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id or f"{self.run_id}/{self.row}"
