"""Strangers' scans off the request path: with Redis, a scan is one RPUSH and a worker writes them in batches.

A finder's page view is the hottest request the product serves, and every one of them must be recorded. With
Redis configured (production), the request appends the scan to a Redis list and schedules a flush task unless one is
already waiting; the task moves every buffered scan into the database in one transaction (Scan rows, the
owner's coalesced "scanned" notification, then the history batch). Without Redis (one process on a laptop) the
scan is written at once, in the request.

Durability: buffered scans live in Redis until the next flush (about a second with a running worker). Run
Redis with AOF persistence in production if a Redis crash must not lose that second of scan log.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.tasks import task

from core.redis import redis_client
from tags.scans import BufferedScan, record_buffered_scans, record_scan
from twins.models import Twin

BUFFER_KEY = "tags:scan-buffer"
FLUSH_MARKER = "tags:scan-flush-pending"
FLUSH_MARKER_SECONDS = 30
BATCH = 5000


def record_stranger_scan(*, tag_id: int, twin_id: int, owner_id: int, name: str, user_agent: str) -> None:
    """Record a non-owner's scan of an active tag: buffered in Redis when available, else written now.

    Takes plain values (what the cached page knows), so the fast path builds no model instance.
    """
    client = redis_client()
    if client is None:
        twin = Twin(pk=twin_id, owner_id=owner_id, name=name)
        record_scan(tag_id=tag_id, twin=twin, by_owner=False, user_agent=user_agent)
        return
    item: BufferedScan = {"tag": tag_id, "twin": twin_id, "ua": user_agent[:60], "t": datetime.now(UTC).isoformat()}
    # One round trip: the scan, and the marker (SET NX) that says whether a flush must be enqueued.
    # The marker means "a flush is enqueued and has not started": every scan pushed before the task starts
    # (and deletes the marker) is drained by it, and the first scan after that enqueues the next one. Its
    # lifetime only matters when no worker runs: then at most one task per FLUSH_MARKER_SECONDS piles up.
    pipe = client.pipeline(transaction=False)
    pipe.rpush(BUFFER_KEY, json.dumps(item, separators=(",", ":")))
    pipe.set(FLUSH_MARKER, 1, nx=True, ex=FLUSH_MARKER_SECONDS)
    if pipe.execute()[1]:
        flush_scan_buffer.enqueue()


@task()
def flush_scan_buffer() -> int:
    """Move every buffered scan into the database, one transaction per batch (tags.scans.record_buffered_scans).
    Safe to run concurrently: each item is popped once."""
    client = redis_client()
    if client is None:
        return 0
    client.delete(FLUSH_MARKER)
    moved = 0
    while True:
        raw = client.lpop(BUFFER_KEY, BATCH)
        if not raw:
            return moved
        moved += record_buffered_scans(items=[json.loads(entry) for entry in raw])
