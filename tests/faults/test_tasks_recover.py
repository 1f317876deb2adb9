"""The reaper (core.worker.tasks_recover, `manage.py tasks_recover`): tasks RUNNING past their lease go back to
READY; one whose worker died under it TASK_MAX_ATTEMPTS times is recorded as FAILED; the rest is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from core.worker import tasks_recover

pytestmark = pytest.mark.django_db


def task_row(*, status: str, started_ago: timedelta | None, attempts: int = 1) -> DBTaskResult:
    return DBTaskResult.objects.create(
        status=status,
        started_at=timezone.now() - started_ago if started_ago is not None else None,
        worker_ids=[f"w{n}" for n in range(attempts)],
        args_kwargs={"args": [1], "kwargs": {}},
        task_path="owners.tasks.send_notification_email",
        backend_name="default",
        run_after=get_date_max(),
    )


def test_a_task_running_past_its_lease_is_requeued_and_a_fresh_one_is_left(settings):
    settings.TASK_LEASE_SECONDS = 60
    lost = task_row(status="RUNNING", started_ago=timedelta(seconds=61))
    busy = task_row(status="RUNNING", started_ago=timedelta(seconds=30))
    done = task_row(status="SUCCESSFUL", started_ago=timedelta(hours=1))
    waiting = task_row(status="READY", started_ago=None)

    assert tasks_recover() == (1, 0)

    statuses = dict(DBTaskResult.objects.values_list("id", "status"))
    assert statuses == {lost.id: "READY", busy.id: "RUNNING", done.id: "SUCCESSFUL", waiting.id: "READY"}
    assert DBTaskResult.objects.ready().filter(id=lost.id).exists()


def test_the_default_lease_is_five_minutes(settings):
    del settings.TASK_LEASE_SECONDS
    task_row(status="RUNNING", started_ago=timedelta(seconds=299))
    assert tasks_recover() == (0, 0)
    task_row(status="RUNNING", started_ago=timedelta(seconds=301))
    assert tasks_recover() == (1, 0)


def test_a_task_that_keeps_killing_its_worker_fails_after_max_attempts(settings):
    settings.TASK_LEASE_SECONDS = 60
    settings.TASK_MAX_ATTEMPTS = 3
    poison = task_row(status="RUNNING", started_ago=timedelta(minutes=5), attempts=3)
    assert tasks_recover() == (0, 1)
    poison.refresh_from_db()
    assert poison.status == "FAILED"
    assert poison.exception_class_path == "core.worker.LeaseExpired"


def test_the_command_says_what_it_did(settings, capsys):
    settings.TASK_LEASE_SECONDS = 60
    task_row(status="RUNNING", started_ago=timedelta(minutes=2))
    call_command("tasks_recover")
    assert capsys.readouterr().out.strip() == "1 requeued, 0 failed (lease 60 s)."
