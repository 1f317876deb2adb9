"""SIGKILL the real task worker in the middle of a confirmed CSV import, start another: the import finishes with
every row's thing made exactly once (rows with and without an external id), nothing lost, nothing twice.

Each batch of rows commits with the run's cursor (imports.services); the killed worker's open batch rolls back with
its session. The task stays RUNNING until its lease runs out; the next worker's reaper puts it back (core.worker),
and the run resumes after the cursor.
"""

from __future__ import annotations

import io
import signal
import time

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from imports import services
from imports.models import ImportedThing, ImportRun
from tests.faults.conftest import database_url, wait_for
from twins.models import DidLogEntry, HistoryEntry, Twin

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs("tags", "fleets"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="worker processes need a shared server database"),
]

ROWS = 36
BATCH = 6
LEASE = 2.0


def _csv() -> bytes:
    lines = ["name,serial,external_id,colour"]
    for n in range(1, ROWS + 1):
        # Every third row has no external id: only the (run, row) key keeps a resumed run from making it twice.
        lines.append(f"Cow {n},C-{n:03d},{'' if n % 3 == 0 else f'cow-{n}'},brown")
    return ("\n".join(lines) + "\n").encode()


def _status(run: ImportRun) -> ImportRun:
    run.refresh_from_db()
    return run


def test_a_worker_killed_mid_import_is_resumed_by_the_next_with_no_duplicates(alice, workers, db_tasks, monkeypatch):
    monkeypatch.setenv("IMPORTS_BATCH_ROWS", str(BATCH))  # the workers' batches (they read it at start)
    run = services.import_upload(owner=alice, upload=io.BytesIO(_csv()), filename="herd.csv")
    assert (run.status, run.will_create) == (ImportRun.Status.CHECKED, ROWS)

    first = workers.start("worker", db_url=database_url(), lease=LEASE)
    services.import_confirm(run=run)
    try:
        wait_for(lambda: _status(run).cursor > 2 * BATCH, timeout=120, what="two batches of the import to commit")
    except AssertionError:
        raise AssertionError(workers.log(0)) from None
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = _status(run)
    assert killed_at.status == ImportRun.Status.RUNNING
    done = killed_at.cursor - 1  # the cursor is a row number; the heading is row 1
    assert done < ROWS, "the import finished before the kill: make it longer"
    assert done % BATCH == 0  # only whole batches committed
    assert Twin.objects.filter(owner=alice).count() == done == killed_at.created  # the batch in flight left nothing
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["RUNNING"]

    workers.start("worker", db_url=database_url(), lease=LEASE)
    wait_for(lambda: _status(run).status == ImportRun.Status.DONE, timeout=180, what="the next worker to finish")
    time.sleep(2 * LEASE)  # reaper rounds: nothing runs it again

    run = _status(run)
    assert (run.created, run.failed, run.done_rows, run.cursor) == (ROWS, 0, ROWS, ROWS + 1)
    twins = Twin.objects.filter(owner=alice)
    assert twins.count() == ROWS
    assert sorted(twins.values_list("serial", flat=True)) == [f"C-{n:03d}" for n in range(1, ROWS + 1)]
    mapped = ImportedThing.objects.filter(owner=alice)
    assert mapped.count() == ROWS
    assert sorted(mapped.values_list("row", flat=True)) == list(range(2, ROWS + 2))
    assert DidLogEntry.objects.filter(twin__owner=alice).count() == ROWS
    assert HistoryEntry.objects.filter(twin__owner=alice, kind="created").count() == ROWS
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"]

    # And the same file again is a no-op.
    again = services.import_upload(owner=alice, upload=io.BytesIO(_csv()), filename="herd.csv")
    # Rows without an external id are not made twice either: their serials are taken (a per-row error).
    assert (again.will_create, again.will_update, again.will_leave) == (0, 0, ROWS - ROWS // 3)
    assert again.check_errors == ROWS // 3
