"""`python manage.py worker`: the task worker for production (core.worker.ResilientWorker).

The options are `db_worker`'s (django-tasks-db); the difference is what happens when things go wrong: a database
outage is waited out with backoff instead of ending the process, and tasks whose worker died under them are put
back in the queue once their lease (``TASK_LEASE_SECONDS``) has run out.
"""

from __future__ import annotations

import os

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from core.worker import ResilientWorker, log


class Command(db_worker.Command):
    help = "Run the background task worker: rides out database outages, recovers tasks lost with a crashed worker."

    def configure_logging(self, verbosity: int) -> None:
        super().configure_logging(verbosity)
        log.setLevel(db_worker.logger.level)

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options,
    ) -> None:
        self.configure_logging(verbosity)
        if reload and batch:
            reload = False
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = ResilientWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
