"""`python manage.py tasks_recover`: put back in the queue the tasks whose worker died under them.

`python manage.py worker` does this at start and every quarter lease; run this one by hand (or from cron) to see
what a crash left behind, or when only `db_worker` runs.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core.worker import lease, tasks_recover


class Command(BaseCommand):
    help = "Requeue background tasks RUNNING for longer than TASK_LEASE_SECONDS (their worker died)."

    def handle(self, *args, **options) -> None:
        requeued, failed = tasks_recover()
        seconds = int(lease().total_seconds())
        self.stdout.write(f"{requeued} requeued, {failed} failed (lease {seconds} s).")
