"""Values for tests/test_access_matrix.py: a bulk job of alice's over her thing, still queued."""

from __future__ import annotations

from bulk.models import BulkJob, BulkOutcome


def job_of(world) -> BulkJob:
    found = BulkJob.objects.filter(owner=world.alice, action="mark-lost").first()
    if found is None:
        found = BulkJob.objects.create(
            owner=world.alice, action="mark-lost", label="Mark lost", twin_ids=[world.thing.pk], total=1
        )
    return found


def snapshot(alice) -> tuple:
    """alice's jobs and their outcomes, for the matrix's "a stranger changes nothing" check."""
    return (
        list(BulkJob.objects.filter(owner=alice).order_by("pk").values()),
        list(BulkOutcome.objects.filter(job__owner=alice).order_by("pk").values()),
    )
