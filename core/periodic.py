"""Periodic jobs: work that runs every so often without a request (reminders), registered by features.

There is no scheduler process. Each task worker (core.worker) runs the due jobs from its background thread, the
one that recovers lost tasks every quarter lease, so a job runs at most as often as that tick and at least every
``every`` while a worker is up. ``manage.py`` commands of the features run the same functions by hand or from cron.

Several workers each run every job, so a job must be idempotent and safe when two run it at once (claim each unit
of work with a conditional UPDATE, as upkeep's reminders do). A job that raises is logged and runs again at the
next tick; a job that succeeded waits ``every`` before its next run. The timing is per process: a restarted worker
runs every job at once, which an idempotent job allows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: float  # seconds
    fn: Callable[[], object]


_jobs: dict[str, PeriodicJob] = {}


def register_periodic(name: str, every: timedelta | float, fn: Callable[[], object]) -> None:
    """Run `fn()` about every `every` (a timedelta or seconds) in each task worker. Registering a name again
    replaces the job (``ready()`` may run twice in tests)."""
    seconds = every.total_seconds() if isinstance(every, timedelta) else float(every)
    if seconds <= 0:
        raise ValueError(f"periodic job {name}: `every` must be positive")
    _jobs[name] = PeriodicJob(name=name, every=seconds, fn=fn)


def unregister_periodic(name: str) -> None:
    _jobs.pop(name, None)


def periodic_jobs() -> list[PeriodicJob]:
    return sorted(_jobs.values(), key=lambda job: job.name)


class PeriodicRunner:
    """Runs the registered jobs that are due; remembers, for this process, when each last succeeded."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.succeeded_at: dict[str, float] = {}

    def run_due(self) -> dict[str, bool]:
        """Run every job not run successfully within its `every`: {name: succeeded} of the jobs it ran. A failure
        is logged with its traceback and leaves the job due, so the next call runs it again."""
        ran: dict[str, bool] = {}
        for job in periodic_jobs():
            last = self.succeeded_at.get(job.name)
            now = self.clock()
            if last is not None and now - last < job.every:
                continue
            try:
                job.fn()
            except Exception:
                log.exception("periodic job %s failed; it runs again at the next tick", job.name)
                ran[job.name] = False
            else:
                self.succeeded_at[job.name] = now
                ran[job.name] = True
        return ran
