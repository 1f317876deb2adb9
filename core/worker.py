"""The task worker, made to run unattended: it rides out a database outage and recovers tasks lost with a worker.

django-tasks-db's worker (`db_worker`) claims a task by setting it RUNNING (SELECT ... FOR UPDATE SKIP LOCKED, in
one transaction), runs it, then records SUCCESSFUL or FAILED. It leaves two things to its operator:

- Any database error but SQLite's "database is locked" ends the process (the OperationalError of its claim
  transaction), so a PostgreSQL restart or a network blip stops email, DIDComm delivery and history flushes until
  a person restarts it. :class:`ResilientWorker` closes the connection, logs one line, waits (exponential backoff
  capped at :data:`BACKOFF_CAP` seconds) and carries on.
- A task whose worker dies under it (SIGKILL, out of memory, a power cut) stays RUNNING for good. The reaper,
  :func:`tasks_recover`, puts back to READY every task RUNNING for longer than the lease (``TASK_LEASE_SECONDS``,
  default 300). The worker runs it at start and every quarter lease; `python manage.py tasks_recover` runs it once.
  While a task runs, its worker renews the lease (``started_at`` moves forward every third of a lease), so a long
  task on a live worker is never taken for a lost one: the lease bounds how long a crash delays a task, not how
  long a task may run.

The same background thread runs the periodic jobs features register (core.periodic.register_periodic: upkeep's
reminders) at each of its ticks, so a deployment with a worker needs no cron.

Recovery makes every task at least once: a task may run again after a crash at any point of its first run, so each
must be safe to re-run (README "Running in production" lists them). A task whose worker died under it
``TASK_MAX_ATTEMPTS`` times (default 5) is recorded as FAILED (:class:`LeaseExpired`) rather than crash workers
forever (a task that exhausts memory, say).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from core.periodic import PeriodicRunner

log = logging.getLogger(__name__)

# The database went away (server restart, network, failover): worth waiting for, not worth dying of.
DATABASE_DOWN = (OperationalError, InterfaceError)
BACKOFF_START = 1.0
BACKOFF_CAP = 30.0


def lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "TASK_LEASE_SECONDS", 300))


def max_attempts() -> int:
    return getattr(settings, "TASK_MAX_ATTEMPTS", 5)


class LeaseExpired(Exception):
    """The task's worker stopped while running it (crash, SIGKILL) on every one of its attempts."""


def tasks_recover(*, backend_name: str | None = None, now: datetime | None = None) -> tuple[int, int]:
    """Put back to READY every task RUNNING for longer than the lease; one that has used up ``TASK_MAX_ATTEMPTS``
    becomes FAILED. Returns (requeued, failed). Safe to run from several processes at once: each stale row is
    taken under its row lock (SKIP LOCKED), and a worker's own claim or result is a write of that same row."""
    cutoff = (now or timezone.now()) - lease()
    stale = DBTaskResult.objects.running().filter(started_at__lt=cutoff)
    if backend_name is not None:
        stale = stale.filter(backend_name=backend_name)
    requeued = failed = 0
    with exclusive_transaction(stale.db):
        for row in stale.select_for_update(skip_locked=True).order_by("started_at")[:1000]:
            # worker_ids lists every worker that claimed the row: its number of attempts.
            if len(row.worker_ids) >= max_attempts():
                row.set_failed(LeaseExpired(f"its worker stopped under it {len(row.worker_ids)} times"))
                failed += 1
            else:
                row.status = TaskResultStatus.READY
                row.save(update_fields=["status"])
                requeued += 1
    if requeued or failed:
        log.warning("tasks running past their lease (their worker died): %s requeued, %s failed", requeued, failed)
    return requeued, failed


class _Heartbeat(threading.Thread):
    """Renews a running task's lease until stopped (its own database connection, opened only if the task
    outlasts a third of the lease)."""

    def __init__(self, task_id, every: float) -> None:
        super().__init__(name=f"task-lease-{task_id}", daemon=True)
        self.task_id = task_id
        self.every = every
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(self.every):
                try:
                    DBTaskResult.objects.filter(pk=self.task_id, status=TaskResultStatus.RUNNING).update(
                        started_at=timezone.now()
                    )
                except DATABASE_DOWN as exc:
                    log.warning("task %s: lease not renewed, database unavailable (%s)", self.task_id, exc)
                    _close_connections()
        finally:
            _close_connections()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)


class _Reaper(threading.Thread):
    """Runs :func:`tasks_recover` at once and then every quarter lease, in the background of a worker, and at each
    of those ticks the periodic jobs that are due (core.periodic: reminders)."""

    def __init__(self, backend_name: str) -> None:
        super().__init__(name="task-reaper", daemon=True)
        self.backend_name = backend_name
        self.done = threading.Event()
        self.periodic = PeriodicRunner()

    def run(self) -> None:
        every = max(lease().total_seconds() / 4, 1.0)
        while True:
            try:
                tasks_recover(backend_name=self.backend_name)
            except DATABASE_DOWN as exc:
                log.warning("task reaper: database unavailable (%s); next try in %.0f s", _first_line(exc), every)
            except Exception:
                log.exception("task reaper failed; next try in %.0f s", every)
            try:
                # Each job's failure is logged by the runner and retried at the next tick.
                self.periodic.run_due()
            finally:
                # Idle for a quarter lease: hold no connection (and no server slot) meanwhile.
                _close_connections()
            if self.done.wait(every):
                return


class ResilientWorker(Worker):
    """django-tasks-db's worker that waits out database outages and recovers lost tasks (see the module)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._orphans: list = []

    def run(self) -> None:
        reaper = _Reaper(self.backend_name)
        reaper.start()
        backoff = BACKOFF_START
        try:
            while True:
                try:
                    self._requeue_orphans()
                    return super().run()
                except DATABASE_DOWN as exc:
                    if self.batch or not self.running:
                        raise
                    _close_connections()
                    log.warning("database unavailable (%s); retrying in %.0f s", _first_line(exc), backoff)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
                    self.startup_delay = False
                    try:
                        connections["default"].ensure_connection()
                    except DATABASE_DOWN:
                        continue
                    log.info("database reachable again")
                    backoff = BACKOFF_START
        finally:
            reaper.done.set()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        heartbeat = _Heartbeat(db_task_result.pk, every=max(lease().total_seconds() / 3, 0.5))
        heartbeat.start()
        try:
            super().run_task(db_task_result)
        except DATABASE_DOWN:
            # The task's outcome could not be recorded (the database went away during it): the row is still
            # RUNNING under this live worker. Put it back as soon as the database answers, not a lease later.
            self._orphans.append(db_task_result.pk)
            raise
        finally:
            heartbeat.stop()

    def _requeue_orphans(self) -> None:
        while self._orphans:
            task_id = self._orphans[0]
            DBTaskResult.objects.filter(pk=task_id, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.READY
            )
            log.info("task %s requeued: its outcome was lost with the database connection", task_id)
            self._orphans.pop(0)


def _close_connections() -> None:
    """Drop this thread's connections, broken ones included; Django opens fresh ones on the next query."""
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # noqa: S110 - closing a dead connection may fail; it is dropped either way
            pass


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
