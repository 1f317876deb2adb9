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
from collections import Counter
from datetime import UTC, datetime

from django.db import transaction
from django.tasks import task

from core.live import broadcast_after_commit
from core.redis import redis_client
from owners.services import notify_scan
from tags.models import Scan, Tag
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
        from tags.services import record_scan

        twin = Twin(pk=twin_id, owner_id=owner_id, name=name)
        record_scan(tag_id=tag_id, twin=twin, by_owner=False, user_agent=user_agent)
        return
    item = {"tag": tag_id, "twin": twin_id, "ua": user_agent[:60], "t": datetime.now(UTC).isoformat()}
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
    """Move every buffered scan into the database. Safe to run concurrently: each item is popped once."""
    from tags.history import schedule_scan_history

    client = redis_client()
    if client is None:
        return 0
    client.delete(FLUSH_MARKER)
    moved = 0
    while True:
        raw = client.lpop(BUFFER_KEY, BATCH)
        if not raw:
            return moved
        items = [json.loads(entry) for entry in raw]
        with transaction.atomic():
            # Tags or things deleted since the scan: their scans go with them.
            tags = set(Tag.objects.filter(pk__in={i["tag"] for i in items}).values_list("pk", flat=True))
            twins = {
                twin.pk: twin
                for twin in Twin.objects.filter(pk__in={i["twin"] for i in items}).only("pk", "owner_id", "name")
            }
            kept = [i for i in items if i["tag"] in tags and i["twin"] in twins]
            Scan.objects.bulk_create(
                [
                    Scan(
                        tag_id=i["tag"],
                        twin_id=i["twin"],
                        by_owner=False,
                        user_agent=i["ua"],
                        time=datetime.fromisoformat(i["t"]),
                    )
                    for i in kept
                ]
            )
            for twin_id, count in Counter(i["twin"] for i in kept).items():
                notify_scan(twin=twins[twin_id], count=count)
                transaction.on_commit(lambda twin_id=twin_id: schedule_scan_history(twin_id))
                broadcast_after_commit(
                    owner_id=twins[twin_id].owner_id,
                    twin_id=twin_id,
                    event={"kind": "scan", "count": count, "by_owner": False},
                )
        moved += len(kept)
