"""A job over the inline limit runs in the real task worker (django-tasks-db's `db_worker` command), and is
cancelled mid-way: what was done is listed, the rest is untouched. A run after a crash does not redo things."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from bulk import jobs
from bulk.actions import BulkAction, _actions, action_get, register_action
from bulk.builtin import archive
from bulk.models import BulkJob, BulkOutcome
from bulk.selection import Selection
from tests.bulk.conftest import make_things
from tests.faults.conftest import Workers, database_url, wait_for
from twins.models import Twin

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


class Gate:
    """Archives each thing; at the `at`-th it says so and waits to be let go (the test cancels meanwhile)."""

    def __init__(self, at: int) -> None:
        self.at, self.seen = at, 0
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, twin, params, owner) -> None:
        archive(twin, params, owner)
        self.seen += 1
        if self.seen == self.at:
            # Once this thing's transaction has committed: SQLite's test database would refuse the owner's write
            # while the worker holds one open.
            transaction.on_commit(self.wait)

    def wait(self) -> None:
        self.reached.set()
        assert self.release.wait(timeout=30), "the test never let the worker go on"


@pytest.fixture
def gate():
    gate = Gate(at=4)
    register_action(BulkAction("gated-archive", "Archive slowly", per_twin=gate))
    yield gate
    gate.release.set()
    _actions.pop("gated-archive", None)


@pytest.mark.django_db(transaction=True)
def test_a_big_job_runs_in_the_worker_and_a_cancel_stops_it_between_things(settings, alice, alice_api, gate):
    settings.TASKS = DB_TASKS
    settings.BULK_INLINE_MAX = 5
    things = make_things(alice, 10)
    job = jobs.job_create(
        owner=alice, action=action_get("gated-archive"), params={}, selection=Selection.from_params({})
    )
    assert (job.status, job.total) == ("queued", 10)
    assert DBTaskResult.objects.count() == 1  # enqueued on commit, for the worker
    assert not Twin.objects.filter(archived_at__isnull=False).exists()

    answers = []

    def owner_cancels() -> None:
        # The owner, on the job page, while the worker is at the fourth thing.
        try:
            if gate.reached.wait(timeout=60):
                answers.append(alice_api.post(f"/api/bulk/jobs/{job.pk}/cancel"))
        finally:
            gate.release.set()
            connection.close()

    owner = threading.Thread(target=owner_cancels)
    owner.start()
    try:
        # The worker wants the main thread (it installs signal handlers); --batch: drain the queue, then return.
        call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    finally:
        gate.release.set()
        owner.join(timeout=60)
    assert answers and answers[0].status_code == 200 and answers[0].json()["cancel_requested"] is True

    job.refresh_from_db()
    assert (job.status, job.done_count, job.failed_count, job.untouched) == ("cancelled", 4, 0, 6)
    first_four = {t.pk for t in sorted(things, key=lambda t: t.name)[:4]}
    assert set(Twin.objects.filter(archived_at__isnull=False).values_list("pk", flat=True)) == first_four
    assert set(BulkOutcome.objects.filter(job=job, ok=True).values_list("twin_id", flat=True)) == first_four
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"]

    page = alice_api.get(f"/bulk/jobs/{job.pk}/").content.decode()
    assert "Done (4)" in page and "Drill 003" in page and "Drill 004" not in page
    assert "6 things left untouched" in page


@pytest.mark.django_db(transaction=True)
def test_a_job_run_again_after_a_crash_skips_what_it_had_done(alice, drills):
    """A worker killed mid-job leaves the job RUNNING with some outcomes; its task runs again (core.worker's lease)
    and does only the rest, each thing once."""
    job = BulkJob.objects.create(
        owner=alice, action="mark-lost", label="Mark lost", twin_ids=[d.pk for d in drills], total=4
    )
    # What the first run had done when it died: two things marked lost, each with its outcome.
    Twin.objects.filter(pk__in=[drills[0].pk, drills[1].pk]).update(lost=True, lost_reward="first run")
    BulkOutcome.objects.bulk_create([BulkOutcome(job=job, twin=d, ok=True) for d in drills[:2]])
    BulkJob.objects.filter(pk=job.pk).update(status="running")

    job = jobs.job_run(job.pk)
    assert (job.status, job.done_count, job.failed_count) == ("done", 4, 0)
    assert BulkOutcome.objects.filter(job=job).count() == 4
    # The first two were not done again (their reward would have been cleared).
    assert set(Twin.objects.filter(lost_reward="first run").values_list("pk", flat=True)) == {
        drills[0].pk,
        drills[1].pk,
    }
    assert Twin.objects.filter(lost=True).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_run_again_does_nothing(alice, drills):
    job = jobs.job_create(owner=alice, action=action_get("mark-lost"), params={}, selection=Selection.from_params({}))
    assert job.status == "done"
    Twin.objects.update(lost=False)
    assert jobs.job_run(job.pk).status == "done"
    assert not Twin.objects.filter(lost=True).exists()


# --- The worker as its own process (`manage.py db_worker`), as production runs it: PostgreSQL only -------------


@pytest.fixture
def worker_processes(tmp_path):
    (tmp_path / "mail").mkdir()
    pool = Workers(tmp_path / "mail", tmp_path)
    yield pool
    pool.stop_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker process needs a shared server database")
def test_the_worker_process_is_cancelled_mid_way_and_leaves_the_rest_untouched(
    settings, alice, alice_api, worker_processes
):
    settings.TASKS = DB_TASKS
    settings.BULK_INLINE_MAX = 5
    Twin.objects.bulk_create([Twin(owner=alice, name=f"Sensor {i:04d}") for i in range(1500)])
    response = alice_api.post("/api/bulk/jobs", {"action": "archive", "selection": {"all": True}}, format="json")
    assert response.status_code == 202
    job_id = response.json()["id"]
    worker_processes.start("db_worker", db_url=database_url())
    wait_for(
        lambda: BulkJob.objects.get(pk=job_id).done_count >= 20, timeout=60, what="the worker to archive 20 things"
    )
    assert alice_api.post(f"/api/bulk/jobs/{job_id}/cancel").status_code == 200
    wait_for(lambda: BulkJob.objects.get(pk=job_id).finished, timeout=60, what="the job to stop")

    job = BulkJob.objects.get(pk=job_id)
    assert job.status == "cancelled", worker_processes.log(0)
    assert 20 <= job.done_count < 1500 and job.failed_count == 0
    archived = set(Twin.objects.filter(archived_at__isnull=False).values_list("pk", flat=True))
    assert archived == set(BulkOutcome.objects.filter(job=job, ok=True).values_list("twin_id", flat=True))
    assert len(archived) == job.done_count
    assert Twin.objects.filter(archived_at__isnull=True).count() == 1500 - job.done_count


@pytest.mark.django_db(transaction=True)
def test_an_error_outside_any_thing_fails_the_job_with_words_and_keeps_what_was_done(settings, alice, monkeypatch):
    settings.BULK_INLINE_MAX = 1  # queued: the test settings' backend runs the task inline, on commit
    make_things(alice, 4)
    calls = []

    def database_goes_away(job_id: int) -> bool:
        calls.append(job_id)
        if len(calls) == 3:
            raise RuntimeError("connection lost")
        return False

    monkeypatch.setattr(jobs, "_cancel_requested", database_goes_away)
    job = jobs.job_create(owner=alice, action=action_get("mark-lost"), params={}, selection=Selection.from_params({}))
    job.refresh_from_db()
    assert (job.status, job.done_count, job.failed_count) == ("failed", 2, 0)
    assert "stopped on an error on our side" in job.error
    assert Twin.objects.filter(lost=True).count() == 2
