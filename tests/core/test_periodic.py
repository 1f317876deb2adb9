"""Periodic jobs (core.periodic) and the task worker that runs them (core.worker's background thread): a due job
runs, a job that ran waits its interval, a failing job is logged and runs again at the next tick."""

from __future__ import annotations

import logging
import threading

import pytest

from core import periodic
from core.worker import _Reaper


@pytest.fixture
def jobs():
    """Only this test's jobs are registered while it runs; the app's come back afterwards."""
    saved = dict(periodic._jobs)
    periodic._jobs.clear()
    yield
    periodic._jobs.clear()
    periodic._jobs.update(saved)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_job_that_ran_waits_its_interval_before_running_again(jobs):
    calls = []
    periodic.register_periodic("count", 60, lambda: calls.append(1))
    clock = Clock()
    runner = periodic.PeriodicRunner(clock=clock)

    assert runner.run_due() == {"count": True}
    clock.now += 59
    assert runner.run_due() == {}
    clock.now += 1
    assert runner.run_due() == {"count": True}
    assert len(calls) == 2


def test_a_failing_job_is_logged_and_runs_again_at_the_next_tick_without_stopping_the_others(jobs, caplog):
    attempts = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("mail server down")

    others = []
    periodic.register_periodic("flaky", 3600, flaky)
    periodic.register_periodic("other", 3600, lambda: others.append(1))
    runner = periodic.PeriodicRunner(clock=Clock())

    with caplog.at_level(logging.ERROR, logger="core.periodic"):
        assert runner.run_due() == {"flaky": False, "other": True}
    assert "periodic job flaky failed" in caplog.text
    assert "mail server down" in caplog.text
    # The same instant: the failed job is still due, the one that succeeded is not.
    assert runner.run_due() == {"flaky": True}
    assert len(attempts) == 2 and len(others) == 1


def test_an_interval_must_be_positive(jobs):
    with pytest.raises(ValueError, match="must be positive"):
        periodic.register_periodic("never", 0, lambda: None)


@pytest.mark.django_db(transaction=True)
def test_the_task_worker_runs_registered_jobs_and_retries_a_failed_one(jobs, settings):
    """The worker's background thread (the reaper) runs the periodic jobs at each tick: a job failing at first
    is run again at the next tick, and succeeds."""
    settings.TASK_LEASE_SECONDS = 4  # a tick every second
    attempts = []
    succeeded = threading.Event()

    def job() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first run fails")
        succeeded.set()

    periodic.register_periodic("test-job", 3600, job)
    reaper = _Reaper("default")
    reaper.start()
    try:
        assert succeeded.wait(timeout=30), "the worker never ran the job again after its failure"
    finally:
        reaper.done.set()
        reaper.join(timeout=10)
    assert len(attempts) == 2
