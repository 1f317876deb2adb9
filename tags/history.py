"""Tags and scans in the twin's signed history.

Tag changes are appended in the same transaction. Scans are the hottest write (every stranger's page view), so
they are recorded after the fact: the scan row is committed first (with `in_history = False`), and
:func:`pending_scans`, registered with the twins history as a catch-up (tags.apps), appends every pending scan
the next time anything is appended to the twin's history, under the twin's lock: one entry that lists them all
(one signature per flush, not one per scan). A task scheduled at most once per
twin at a time makes that happen soon even when nothing else is appended.
"""

from __future__ import annotations

from datetime import datetime
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


# Scans per history entry at most: one entry commits to all of a twin's scans of a flush (a few hundred a second
# for a busy tag), split so an entry stays under ~100 kB, like an ingested batch of readings.
SCANS_PER_ENTRY = 1000


def scan_content(scan_id: int, tag_code: str, by_owner: bool, time: datetime) -> dict[str, Any]:
    """What the history keeps of one scan (its id in the scan log, the tag's code, by whom, when)."""
    return {"scan": scan_id, "tag": tag_code, "by_owner": by_owner, "time": time.isoformat()}


# scan_content's arguments, as read from the scan log: rows, not model instances (a flush reads hundreds of them).
SCAN_CONTENT_FIELDS = ("pk", "tag__code", "by_owner", "time")


def pending_scans(locked: Twin) -> list[tuple[str, dict[str, Any], int | None]]:
    """The catch-up: the twin's scans not yet in its history, oldest first, as few entries as possible: a single
    scan's own content, several scans' contents listed under "scans" (SCANS_PER_ENTRY at most per entry), like a
    batch of readings. Each entry's salted hash commits to every scan it lists, so a changed scan fails
    verification. Marked as in the history in the caller's transaction (under the twin's row lock, so a worker
    and a transfer never both take the same scans; a rollback leaves them pending)."""
    pending = list(
        Scan.objects.filter(twin=locked, in_history=False).order_by("time", "id").values_list(*SCAN_CONTENT_FIELDS)
    )
    if not pending:
        return []
    Scan.objects.filter(pk__in=[row[0] for row in pending]).update(in_history=True)
    items: list[tuple[str, dict[str, Any], int | None]] = []
    for start in range(0, len(pending), SCANS_PER_ENTRY):
        chunk = pending[start : start + SCANS_PER_ENTRY]
        if len(chunk) == 1:
            items.append((HistoryEntry.Kind.SCAN, scan_content(*chunk[0]), chunk[0][0]))
        else:
            items.append((HistoryEntry.Kind.SCAN, {"scans": [scan_content(*row) for row in chunk]}, None))
    return items


def scans_remove(twin: Twin) -> None:
    """The redactor of scan entries (twins.history.register_redactor): the scan log goes with them."""
    Scan.objects.filter(twin=twin).delete()


def scans_to_history(*, twin: Twin) -> int:
    """Append the twin's pending scans (and whatever else its catch-ups have pending) now. Returns how many scans
    the new entries commit to; 0 for a deactivated twin, whose history is closed (its scans stay in the scan log)."""
    try:
        entries = history_catch_up(twin=twin)
    except TwinDeactivated:
        return 0
    return sum(len(scans_of(entry.entry)) for entry in entries if entry.kind == HistoryEntry.Kind.SCAN)


def scans_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The scans a scan entry commits to (an entry of one scan, or of several under "scans"); [] once redacted."""
    content = entry.get("content")
    if content is None:
        return []
    return content["scans"] if "scans" in content else [content]


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
