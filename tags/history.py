"""Tags and scans in the twin's signed history.

Tag changes are appended in the same transaction. Scans are the hottest write (every stranger's page view), so
they are appended in batches by a background task instead: the scan row is committed first (with
`in_history = False`), and a task scheduled at most once per twin at a time appends every pending scan under
the twin's lock. Transfer and export call scans_to_history first, so a bundle never lacks a committed scan.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.tasks import task

from tags.models import Scan, Tag
from twins.history import history_append, history_append_many, lock_twin
from twins.models import HistoryEntry, Twin

_PENDING_KEY = "tags:scan-history-pending:{}"
_PENDING_SECONDS = 60


def tag_history(*, tag: Tag, twin: Twin, action: str) -> None:
    history_append(twin=twin, kind=HistoryEntry.Kind.TAG, content={"tag": tag.code, "action": action})


@transaction.atomic
def scans_to_history(*, twin: Twin) -> int:
    """Append one history entry per scan not yet in the history, oldest first. Returns how many."""
    # The twin's lock first: a worker task and a transfer's catch-up must not both append the same scans.
    locked = lock_twin(twin)
    if locked.deactivated_at is not None:
        return 0  # its history is closed; the scans stay in the scan log
    pending = list(Scan.objects.filter(twin=twin, in_history=False).select_related("tag").order_by("time", "id"))
    history_append_many(
        twin=twin,
        items=[
            (
                HistoryEntry.Kind.SCAN,
                {"scan": scan.pk, "tag": scan.tag.code, "by_owner": scan.by_owner, "time": scan.time.isoformat()},
                scan.pk,
            )
            for scan in pending
        ],
    )
    if pending:
        Scan.objects.filter(pk__in=[scan.pk for scan in pending]).update(in_history=True)
    return len(pending)


@task()
def scan_history_task(twin_id: int) -> int:
    # Clear the marker before reading: a scan committed after this line schedules a new run, and every scan
    # committed before it is read below, so none is left behind.
    cache.delete(_PENDING_KEY.format(twin_id))
    twin = Twin.objects.filter(pk=twin_id).first()
    return scans_to_history(twin=twin) if twin is not None else 0


def schedule_scan_history(twin_id: int) -> None:
    """Enqueue the batch task unless one is already waiting for this twin (called after the scan commits)."""
    if cache.add(_PENDING_KEY.format(twin_id), 1, timeout=_PENDING_SECONDS):
        scan_history_task.enqueue(twin_id)
