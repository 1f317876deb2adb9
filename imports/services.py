"""Writes of an import: keep the upload, check it (the dry run), confirm it, and apply it a batch at a time.

The dry run writes only the import's own rows (its counts and per-row errors). The confirmed import runs in the task
worker (imports.tasks): each batch of IMPORTS_BATCH_ROWS rows (a setting) is one transaction with the cursor, so a
worker killed mid-batch leaves the batch undone and the next run of the task starts right after the last committed
one. Within a batch, the plain new things (no tag to claim, no group to join) are made at once, in one savepoint
(twins.services.twins_create_many and credentials' ownership_credentials_issue_new: one INSERT per kind, each thing
as twin_create leaves it); every other row, and every row of a batch whose bulk creation was refused, has its own
savepoint: a row refused at that moment is recorded as that row's error and leaves nothing of itself behind.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.tasks import task
from django.utils import timezone

from core.errors import Conflict
from credentials.services import ownership_credentials_announced, ownership_credentials_issue_new
from fleets.services import group_for_import, members_add
from imports.models import ImportChunk, ImportedThing, ImportRowError, ImportRun
from imports.reader import FileRefused, rows, shown, sniff_format
from imports.rows import Action, FileSeen, Planned, Row, TagBudget, parse_row, plan_batch
from tags.services import TagUnavailable, tag_claim
from twins import events
from twins.history import history_append
from twins.services import twin_create, twin_update, twins_create_many

CHUNK_BYTES = 1024 * 1024
MAX_FILE_BYTES = 256 * 1024 * 1024
# Rows per transaction: the unit of all-or-nothing, of progress, and of what a crash undoes. An environment knob
# for operators (smaller batches: smoother progress, more commits) and for the crash test.
# Per-row errors kept per phase (all are counted): enough to fix a file, not a second copy of a broken one.
MAX_ERRORS = 10_000
# HistoryEntry.kind takes any short [a-z0-9_.-] string (twins.history); this one is not among twins' choices.
HISTORY_KIND = "updated"


class ImportRefused(Exception):
    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- the kept file -------------------------------------------------------------------------------------------------


class ChunkReader(io.RawIOBase):
    """The uploaded file, read back from its chunks one at a time."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.seq = 0
        self.piece = b""
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while self.offset >= len(self.piece):
            data = ImportChunk.objects.filter(run_id=self.run_id, seq=self.seq).values_list("data", flat=True).first()
            if data is None:
                return 0
            self.piece, self.offset, self.seq = bytes(data), 0, self.seq + 1
        size = min(len(target), len(self.piece) - self.offset)
        target[:size] = self.piece[self.offset : self.offset + size]
        self.offset += size
        return size


def run_file(run: ImportRun) -> IO[bytes]:
    return io.BufferedReader(ChunkReader(run.pk), buffer_size=256 * 1024)


def run_rows(run: ImportRun) -> Iterator[Row]:
    for raw in rows(run_file(run), run.format):
        yield parse_row(raw)


# --- upload and dry run --------------------------------------------------------------------------------------------


def import_upload(*, owner, upload: UploadedFile | IO[bytes], filename: str = "") -> ImportRun:
    """Keep the file (privately, in the database, streamed in chunks) and check it: the dry run."""
    name = shown((filename or getattr(upload, "name", "") or "")[:200])
    with transaction.atomic():
        run = ImportRun.objects.create(owner=owner, filename=name, format=ImportRun.Format.CSV)
        size, seq, head = 0, 0, b""
        while piece := upload.read(CHUNK_BYTES):
            size += len(piece)
            if size > MAX_FILE_BYTES:
                raise ImportRefused(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.", status=413)
            if seq == 0:
                head = piece[:4096]
            ImportChunk.objects.create(run=run, seq=seq, data=piece)
            seq += 1
        if size == 0:
            raise ImportRefused("The file is empty: a CSV with a heading row, or a JSON array of objects.")
        run.size = size
        run.format = sniff_format(head) if not name.lower().endswith(".csv") else ImportRun.Format.CSV
        if name.lower().endswith(".json") or name.lower().endswith(".jsonl"):
            run.format = ImportRun.Format.JSON
        run.save(update_fields=["size", "format"])
    import_check(run=run)
    return run


def import_check(*, run: ImportRun) -> ImportRun:
    """The dry run: count what the file would create, update and leave alone now, and keep its per-row errors.
    Writes nothing but the run's own counts and errors (and spends the account's tag-code budget: rows.TagBudget)."""
    counts = {Action.CREATE: 0, Action.UPDATE: 0, Action.LEAVE: 0, Action.ERROR: 0}
    errors: list[ImportRowError] = []
    seen = FileSeen()
    budget = TagBudget(owner_id=run.owner_id)
    total = last = 0
    message = ""
    batch: list[Row] = []

    def flush() -> None:
        for item in plan_batch(owner=run.owner, rows=batch, seen=seen, budget=budget):
            counts[item.action] += 1
            for column, problem in item.row.problems:
                if len(errors) < MAX_ERRORS:
                    errors.append(_error(run, ImportRowError.Phase.CHECK, item.row.number, column, problem))
        batch.clear()

    try:
        for row in run_rows(run):
            total, last = total + 1, row.number
            batch.append(row)
            if len(batch) >= settings.IMPORTS_BATCH_ROWS:
                flush()
        flush()
    except FileRefused as exc:
        message = exc.message
    with transaction.atomic():
        ImportRowError.objects.filter(run=run, phase=ImportRowError.Phase.CHECK).delete()
        ImportRowError.objects.bulk_create(errors, batch_size=500)
        run.rows = total
        run.will_create, run.will_update = counts[Action.CREATE], counts[Action.UPDATE]
        run.will_leave, run.check_errors = counts[Action.LEAVE], counts[Action.ERROR]
        # Always set here, and only here: the import looks up the codes of rows up to it, none without it.
        run.tag_codes_until_row = budget.until_row if budget.until_row is not None else last
        run.message = shown(message)
        # The one place a run becomes confirmable: its counts and budget mark are saved with it.
        run.status = ImportRun.Status.REFUSED if message else ImportRun.Status.CHECKED
        run.save()
    return run


def _error(run: ImportRun, phase: str, row: int, column: str, message: str) -> ImportRowError:
    return ImportRowError(run=run, phase=phase, row=row, column=shown(column[:80]), message=shown(message[:300]))


# --- confirm and apply ---------------------------------------------------------------------------------------------


def import_confirm(*, run: ImportRun) -> ImportRun:
    """Queue the checked import for the worker. Confirming twice queues it once."""
    with transaction.atomic():
        claimed = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.CHECKED).update(
            status=ImportRun.Status.QUEUED, confirmed_at=timezone.now()
        )
        if not claimed:
            run.refresh_from_db()
            if run.status in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING, ImportRun.Status.DONE):
                return run
            if run.status == ImportRun.Status.CHECKING:
                raise Conflict("This import cannot be confirmed: its dry run did not finish. Upload the file again.")
            raise Conflict("This import cannot be confirmed: the file could not be read. Fix it and upload it again.")
        transaction.on_commit(lambda: import_apply_task.enqueue(run.pk))
    run.refresh_from_db()
    return run


@task()
def import_apply_task(run_id: int) -> None:
    """The worker's entry point (enqueued when the confirmation commits; safe to run again after a crash)."""
    import_apply(run_id)


def import_apply(run_id: int) -> ImportRun | None:
    """Apply a confirmed import from just after its cursor to the end. Safe to run again at any point (a worker
    killed mid-batch, a second worker): rows up to the cursor are only read, to know the keys earlier rows used."""
    run = ImportRun.objects.select_related("owner").filter(pk=run_id).first()
    if run is None or run.status not in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING):
        return run
    ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.QUEUED).update(status=ImportRun.Status.RUNNING)
    seen = FileSeen()
    # The codes the dry run paid for, and no others: the import spends no budget of its own. A run whose dry run
    # did not finish (no mark; it cannot be confirmed, but one confirmed before that rule) looks up none.
    until_row = run.tag_codes_until_row if run.tag_codes_until_row is not None else 0
    budget = TagBudget(owner_id=run.owner_id, spend=False, until_row=until_row)
    batch: list[Row] = []
    try:
        for row in run_rows(run):
            if row.number <= run.cursor:
                seen.check(row)
                continue
            batch.append(row)
            if len(batch) >= settings.IMPORTS_BATCH_ROWS:
                run = _apply_batch(run, batch, seen, budget)
                batch = []
        if batch:
            run = _apply_batch(run, batch, seen, budget)
    except FileRefused as exc:
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportRun.Status.FAILED, message=shown(exc.message), finished_at=timezone.now()
        )
        return run
    except Exception:
        # Whatever else stops it ends the run in words rather than leaving it "running" for good; the committed
        # batches stay (the same file again updates those rows and makes the rest). The worker logs the error.
        done = ImportRun.objects.filter(pk=run.pk).values_list("cursor", flat=True).first() or 0
        after = f"after row {done:,}" if done else "before its first row"
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportRun.Status.FAILED,
            message=f"The import stopped {after} on an unexpected error. Upload the file again to import the rest.",
            finished_at=timezone.now(),
        )
        raise
    with transaction.atomic():
        finished = ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.RUNNING).update(
            status=ImportRun.Status.DONE, finished_at=timezone.now()
        )
        if finished:
            # The file has served its purpose; the run keeps its counts and errors.
            ImportChunk.objects.filter(run_id=run.pk).delete()
    run.refresh_from_db()
    return run


def _apply_batch(run: ImportRun, batch: list[Row], seen: FileSeen, budget: TagBudget) -> ImportRun:
    with transaction.atomic():
        locked = ImportRun.objects.select_for_update().select_related("owner").get(pk=run.pk)
        todo = [row for row in batch if row.number > locked.cursor]
        for row in batch:
            if row.number <= locked.cursor:
                seen.check(row)  # another worker did it: only its keys count
        if not todo:
            return locked
        done = {Action.CREATE: 0, Action.UPDATE: 0, Action.LEAVE: 0, Action.ERROR: 0}
        errors: list[ImportRowError] = []
        stored = ImportRowError.objects.filter(run=locked, phase=ImportRowError.Phase.APPLY).count()
        planned = plan_batch(owner=locked.owner, rows=todo, seen=seen, budget=budget)
        plain = [item for item in planned if _plain_create(item)]
        made = {id(item) for item in _create_many(locked, plain)}
        for item in planned:
            action = item.action
            if id(item) in made:
                pass  # made with the rest of the batch's plain new things
            elif action in (Action.CREATE, Action.UPDATE):
                try:
                    with transaction.atomic():
                        _apply_row(locked, item)
                except (ValidationError, TagUnavailable, IntegrityError, Conflict) as exc:
                    item.row.problems.append(("", _words(exc)))
                    action = Action.ERROR
            done[action] += 1
            for column, problem in item.row.problems:
                if stored + len(errors) < MAX_ERRORS:
                    errors.append(_error(locked, ImportRowError.Phase.APPLY, item.row.number, column, problem))
        ImportRowError.objects.bulk_create(errors, batch_size=500)
        ImportRun.objects.filter(pk=locked.pk).update(
            cursor=todo[-1].number,
            done_rows=F("done_rows") + len(todo),
            created=F("created") + done[Action.CREATE],
            updated=F("updated") + done[Action.UPDATE],
            left_alone=F("left_alone") + done[Action.LEAVE],
            failed=F("failed") + done[Action.ERROR],
        )
    locked.refresh_from_db()
    return locked


def _words(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)[:300]
    if isinstance(exc, IntegrityError):
        return "another import made this row's thing at the same moment; import the file again to update it"
    return str(exc)[:300]


def _plain_create(item: Planned) -> bool:
    """A new thing with neither a tag to claim nor a group to join: made in bulk with the batch's others."""
    return item.action == Action.CREATE and item.tag is None and not item.join_group


def _create_fields(row: Row) -> dict:
    fields = {name: value for name, value in row.fields.items() if name != "name"}
    attributes = {key: value for key, value in row.attributes.items() if value}
    return {"name": row.fields["name"], "attributes": attributes, **fields}


def _create_many(run: ImportRun, items: list[Planned]) -> list[Planned]:
    """Make the batch's plain new things at once, each as twin_create makes it (DID log, signed history, the
    ownership credential, TwinCreated for every subscriber): one INSERT per kind, instead of about 60 queries a
    thing. All or none, in a savepoint: if any is refused now (a value the row checks let through, another import
    making the same external id at the same moment), none is made here and the rows go one by one, each in its own
    savepoint, so the bad row is named and does not sink the others. Returns the items made."""
    if not items:
        return []
    owner = run.owner
    try:
        with transaction.atomic():
            twins = twins_create_many(
                owner=owner, items=[_create_fields(item.row) for item in items], send_events=False
            )
            issued = ownership_credentials_issue_new(twins=twins)
            ImportedThing.objects.bulk_create(
                [
                    ImportedThing(
                        owner=owner, external_id=item.row.external_id, twin=twin, run=run, row=item.row.number
                    )
                    for item, twin in zip(items, twins, strict=True)
                ],
                batch_size=500,
            )
            # Every subscriber hears of every new thing, as from twin_create; the ownership credential's is told
            # which credentials were issued just above, and keeps them without a query a thing.
            with ownership_credentials_announced(credential.twin_id for credential in issued):
                for twin in twins:
                    events.send(events.TwinCreated(twin_id=twin.pk, owner_id=twin.owner_id))
    except (ValidationError, IntegrityError, Conflict):
        return []
    return items


def _apply_row(run: ImportRun, item: Planned) -> None:
    row = item.row
    owner = run.owner
    if item.action == Action.CREATE:
        twin = twin_create(owner=owner, **_create_fields(row))
        ImportedThing.objects.create(owner=owner, external_id=row.external_id, twin=twin, run=run, row=row.number)
    else:
        twin = item.twin
        if item.changes:
            twin = twin_update(twin=twin, **item.changes)
            history_append(
                twin=twin,
                kind=HISTORY_KIND,
                content={"by": "import", "import": run.pk, "row": row.number, "changed": item.changes},
            )
    if item.tag is not None:
        tag_claim(tag=item.tag, twin=twin, owner=owner)
    if item.join_group:
        members_add(group=group_for_import(owner=owner, path=row.group), twins=[twin])
