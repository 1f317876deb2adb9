"""Tags and scans in the twin's signed history.

Tag changes are appended in the same transaction. Scans are the hottest write (every stranger's page view), so
they are recorded after the fact: the scan row is committed first (with `in_history = False`), and
:func:`pending_scans`, registered with the twins history as a catch-up (tags.apps), appends every pending scan
the next time anything is appended to the twin's history, under the twin's lock. A task scheduled at most once per
twin at a time makes that happen soon even when nothing else is appended.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.tasks import task

from tags.models import Scan, Tag
from twins.history import TwinDeactivated, history_append, history_catch_up
from twins.models import HistoryEntry, Twin

_PENDING_KEY = "tags:scan-history-pending:{}"
_PENDING_SECONDS = 60

# The catch-up's probe (twins.history.register_catch_up_probe): served by the partial index scan_pending_history_idx.
PENDING_PROBE = f"EXISTS (SELECT 1 FROM {Scan._meta.db_table} s WHERE s.twin_id = t.id AND NOT s.in_history)"  # noqa: S608


def tag_history(*, tag: Tag, twin: Twin, action: str) -> None:
    history_append(twin=twin, kind=HistoryEntry.Kind.TAG, content={"tag": tag.code, "action": action})


def pending_scans(locked: Twin) -> list[tuple[str, dict[str, Any], int | None]]:
    """The catch-up: one history item per scan of the twin not yet in its history, oldest first, marked as in the
    history in the caller's transaction (under the twin's row lock, so a worker and a transfer never both take the
    same scans; a rollback leaves them pending)."""
    pending = list(Scan.objects.filter(twin=locked, in_history=False).select_related("tag").order_by("time", "id"))
    if not pending:
        return []
    Scan.objects.filter(pk__in=[scan.pk for scan in pending]).update(in_history=True)
    return [
        (
            HistoryEntry.Kind.SCAN,
            {"scan": scan.pk, "tag": scan.tag.code, "by_owner": scan.by_owner, "time": scan.time.isoformat()},
            scan.pk,
        )
        for scan in pending
    ]


def scans_remove(twin: Twin) -> None:
    """The redactor of scan entries (twins.history.register_redactor): the scan log goes with them."""
    Scan.objects.filter(twin=twin).delete()


def scans_to_history(*, twin: Twin) -> int:
    """Append the twin's pending scans (and whatever else its catch-ups have pending) now. Returns how many scan
    entries that made; 0 for a deactivated twin, whose history is closed (its scans stay in the scan log)."""
    try:
        entries = history_catch_up(twin=twin)
    except TwinDeactivated:
        return 0
    return sum(1 for entry in entries if entry.kind == HistoryEntry.Kind.SCAN)


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
