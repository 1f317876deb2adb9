"""Nothing that must not be lost is lost with a worker killed in the middle of a task (SIGKILL: no cleanup).

The task row stays RUNNING; once its lease (TASK_LEASE_SECONDS) has run out, the reaper of the next worker
(core.worker.tasks_recover) puts it back and it runs to completion, and the email goes out exactly once. A task
that outlasts its lease on a live worker renews it, so a second worker never runs it again.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from owners.models import Notification
from owners.services import notify
from tests.faults.conftest import database_url, wait_for
from tests.faults.mail import sent
from tests.faults.tasks import slow_append

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="worker processes need a shared server database"),
]

WORKER = "worker"  # with `db_worker` the killed task stays RUNNING for good: this test fails with it.
LEASE = 2.0


def test_an_email_whose_worker_was_killed_mid_send_is_sent_once_by_the_next_worker(alice, workers, db_tasks):
    (workers.mail_dir / "block-next-send").touch()
    first = workers.start(WORKER, db_url=database_url(), lease=LEASE)
    item = notify(owner=alice, kind=Notification.Kind.MESSAGE, title="Your bike was found", email=True)
    wait_for((workers.mail_dir / "sending").exists, timeout=30, what="the worker to be in the middle of the send")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["RUNNING"]
    assert sent(workers.mail_dir) == []

    workers.start(WORKER, db_url=database_url(), lease=LEASE)
    wait_for(lambda: len(sent(workers.mail_dir)) == 1, timeout=60, what="the email, sent by the next worker")
    wait_for(
        lambda: list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"],
        timeout=10,
        what="the task recorded as successful",
    )
    time.sleep(3 * LEASE)  # several reaper rounds: nothing runs it again
    assert len(sent(workers.mail_dir)) == 1
    assert b"Your bike was found" in sent(workers.mail_dir)[0]
    item.refresh_from_db()
    assert item.emailed_at is not None
    assert len(DBTaskResult.objects.get().worker_ids) == 2


def test_a_task_longer_than_its_lease_runs_once_among_two_workers(workers, db_tasks, tmp_path):
    out = tmp_path / "runs.txt"
    for _ in range(2):
        workers.start(WORKER, db_url=database_url(), lease=LEASE)
    slow_append.enqueue(str(out), 3 * LEASE)
    wait_for(
        lambda: list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL"],
        timeout=60,
        what="the slow task to finish",
    )
    time.sleep(2 * LEASE)
    assert Path(out).read_text() == "ran\n"
    assert len(DBTaskResult.objects.get().worker_ids) == 1
