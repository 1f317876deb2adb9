"""Buffered scans are written in batches: the flush waits for them to gather and never chases new ones.

A flush costs its worker about the same whatever its size, so a flush that ran at once, or looped while finders
kept scanning, wrote a busy tag's scans a few at a time and spent most of the worker's CPU on the batches' own
overhead (bench/scan.py). Every scan is still written: the ones a flush leaves have enqueued the next flush.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.tasks import task_backends
from django.tasks.backends.dummy import DummyBackend
from django.utils import timezone

from tags import scan_buffer
from tags.models import Scan
from twins import events

pytestmark = pytest.mark.django_db


def _flushes() -> list:
    return [r for r in task_backends["default"].results if r.task.name == scan_buffer.flush_scan_buffer.name]


def _scan(tag) -> None:
    """A finder's scan as the full path buffers it."""
    scan_buffer.record_stranger_scan(
        tag_id=tag.pk, twin_id=tag.twin_id, owner_id=tag.twin.owner_id, name=tag.twin.name, user_agent="Firefox"
    )


def test_a_scan_enqueues_its_flush_to_run_a_moment_later_so_scans_gather(scan_redis, anon_client, grinder_tag):
    before = timezone.now()
    for _ in range(3):
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    (flush,) = _flushes()  # one flush for the three: the marker says one is waiting
    assert flush.task.run_after is not None
    assert flush.task.run_after >= before + timedelta(seconds=scan_buffer.FLUSH_DELAY_SECONDS)
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 3


def test_the_finders_shortcut_enqueues_its_flush_a_moment_later_too(scan_redis, anon_client, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())  # the full path keeps the page
    assert scan_buffer.flush_scan_buffer.call() == 1
    before = timezone.now()
    anon_client.get(grinder_tag.get_absolute_url())  # the shortcut: the scan script asks for the next flush
    assert len(_flushes()) == 2
    assert _flushes()[-1].task.run_after is not None
    assert _flushes()[-1].task.run_after >= before + timedelta(seconds=scan_buffer.FLUSH_DELAY_SECONDS)


def test_a_flush_leaves_scans_that_arrive_while_it_writes_to_the_next_flush(
    scan_redis, grinder_tag, django_capture_on_commit_callbacks
):
    for _ in range(2):
        _scan(grinder_tag)
    arrived = []

    def finder_scans_meanwhile(event: events.ScanRecorded) -> None:
        if not arrived:  # a finder scans while the flush writes its batch
            arrived.append(event)
            _scan(grinder_tag)

    events.subscribe(events.ScanRecorded, finder_scans_meanwhile, in_transaction=True)
    try:
        waiting = len(_flushes())
        with django_capture_on_commit_callbacks(execute=True):
            assert scan_buffer.flush_scan_buffer.call() == 2
    finally:
        events.unsubscribe(events.ScanRecorded, finder_scans_meanwhile)
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 1  # not chased: it waits for the next flush ...
    assert len(_flushes()) == waiting + 1  # ... which its scan enqueued
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_buffer.flush_scan_buffer.call() == 1
    assert Scan.objects.filter(tag=grinder_tag, by_owner=False).count() == 3


def test_a_flush_drains_a_backlog_larger_than_one_batch(
    scan_redis, grinder_tag, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(scan_buffer, "BATCH", 2)
    for _ in range(5):
        _scan(grinder_tag)
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_buffer.flush_scan_buffer.call() == 5
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 0


def test_with_a_backend_that_cannot_defer_the_flush_runs_at_once(scan_redis, settings, anon_client, grinder_tag):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 0
    assert Scan.objects.filter(tag=grinder_tag, by_owner=False).count() == 1


class UnreachableDatabaseBackend(DummyBackend):
    """The database backend while PostgreSQL is unreachable: enqueueing a task fails."""

    def enqueue(self, task, args, kwargs):
        raise OperationalError("connection refused")


def test_a_flush_the_database_refuses_is_asked_for_again_by_the_next_scan(
    scan_redis, settings, anon_client, grinder_tag
):
    settings.TASKS = {"default": {"BACKEND": f"{__name__}.UnreachableDatabaseBackend"}}
    for _ in range(2):  # the full path renders and keeps the page, then the finder's shortcut serves it
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 2
    # No marker without its task: the next scan (once the database answers) enqueues the flush.
    assert not scan_redis.exists(scan_buffer.FLUSH_MARKER)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    anon_client.get(grinder_tag.get_absolute_url())
    assert len(_flushes()) == 1


def test_scans_whose_flush_was_never_enqueued_are_flushed_by_the_periodic_backstop(scan_redis, grinder_tag):
    """A web process that died between buffering a scan and writing its flush task leaves a marker with no task;
    once the marker has expired, a quiet tag's scans would wait for the next finder. Each worker's periodic job
    flushes them."""
    from core.periodic import periodic_jobs

    _scan(grinder_tag)
    _scan(grinder_tag)
    task_backends["default"].clear()  # the flush the first scan enqueued never reached the database
    assert scan_buffer.flush_stranded() == 0  # the marker still promises a flush: not stranded yet
    scan_redis.delete(scan_buffer.FLUSH_MARKER)  # ... until it expires
    job = next(job for job in periodic_jobs() if job.name == "tags.scan_stranded")
    assert job.fn() == 2
    assert Scan.objects.filter(tag=grinder_tag).count() == 2
    assert scan_redis.llen(scan_buffer.BUFFER_KEY) == 0
    assert job.fn() == 0  # nothing waits: nothing to do
