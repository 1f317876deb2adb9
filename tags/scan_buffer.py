"""Strangers' scans off the request path: with Redis, a scan is one RPUSH and a worker writes them in batches.

A finder's page view is the hottest request the product serves, and every one of them must be recorded. With
Redis configured (production), the request appends the scan to a Redis list and schedules a flush task unless one is
already waiting; the task moves every buffered scan into the database in one transaction (Scan rows, the
owner's coalesced "scanned" notification, then the history batch). Without Redis (one process on a laptop) the
scan is written at once, in the request.

Batching: the flush is enqueued to run FLUSH_DELAY_SECONDS after the scan that asks for it (a deferred task), and
it moves what is buffered when it runs, then stops: it never chases scans that arrive while it writes (the first of
those enqueues the next flush). A batch costs the worker ~12 ms of CPU whatever its size (its queries, the
notification, the history task it schedules and that task's entry) and ~20 µs per scan, so what the worker spends
per scan is set by the batch size: a flush that looped while scans kept coming wrote them a dozen at a time and
spent 170-600 µs of CPU per scan (bench/scan.py), CPU the web processes on the same machine lacked. Waiting a
second makes a busy tag's batch a second's scans. A backend that cannot defer (the immediate one of tests) runs
the flush at once.

Durability: buffered scans live in Redis until the next flush (about a second, or two with the worker's poll
interval). Run Redis with AOF persistence in production if a Redis crash must not lose those seconds of scan log.

A thing on its way to another host, or moved there (twins.leaving, issue 18), gets no scan rows here from the flush:
its package was built at the move's confirmation, so they would stay behind, and a finder's view is not data its
owner acknowledged. Those scans are dropped (a count is logged) and the rest of the batch is written as ever. The
check is one query per batch, outside the batch's transaction: a scan flushed in the moment a confirmation commits
may still be written, and then stays out of the history (the catch-up holds off for a leaving thing).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from django.db import Error as DatabaseError
from django.tasks import task
from django.utils import timezone
from redis import Redis
from redis.commands.core import Script

from core.redis import redis_client
from tags.scans import BufferedScan, record_buffered_scans, record_scan
from twins.models import Twin

log = logging.getLogger(__name__)

BUFFER_KEY = "tags:scan-buffer"
FLUSH_MARKER = "tags:scan-flush-pending"
FLUSH_MARKER_SECONDS = 30
# How long a flush waits for scans to gather (module docstring, "Batching"); well under FLUSH_MARKER_SECONDS.
FLUSH_DELAY_SECONDS = 1.0
BATCH = 5000


def item_prefix(*, tag_id: int, twin_id: int) -> str:
    """The start of a buffered scan's JSON (a BufferedScan): what the kept page knows (tags.public_cache keeps it
    beside the page). :func:`item_tail` closes it with what only the request knows."""
    return f'{{"tag":{int(tag_id)},"twin":{int(twin_id)},'


def item_tail(user_agent: str, source: str = "") -> str:
    """`source` only for a scan that is not a plain link (an NFC tap): the QR scan's item is unchanged."""
    src = f'"src":{json.dumps(source)},' if source and source != "link" else ""
    return f'{src}"ua":{json.dumps(user_agent[:60])},"t":"{datetime.now(UTC).isoformat()}"}}'


# The finder's scan in one round trip, atomic in Redis: fetch the kept page; if there is one, count the client's
# scan against its budget and, within it, buffer the scan and set the flush marker (see record_stranger_scan).
# KEYS: the client's counter for this window, the page's hash, the buffer, the flush marker.
# ARGV: the counter's lifetime, the budget, the scan's tail (item_tail), the marker's lifetime.
# Returns {count, html or nil, 1 if a flush must be enqueued else 0}. A missing page counts and buffers nothing
# (count 0): the caller takes the slow path, which counts the scan and records it itself. So does a caller that
# gives up on a missing page (the finder's shortcut, tags.middleware): the full path it hands over to counts it.
_SCAN_SCRIPT = """
local page = redis.call('HMGET', KEYS[2], 'html', 'scan')
if not page[1] or not page[2] then return {0, false, 0} end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then return {count, false, 0} end
redis.call('RPUSH', KEYS[3], page[2] .. ARGV[3])
if redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then return {count, page[1], 1} end
return {count, page[1], 0}
"""
_scripts: dict[int, Script] = {}


def scan_hit(
    *, counter: str, seconds: int, budget: int, page_key: str, user_agent: str, source: str = ""
) -> tuple[int, bytes | None]:
    """Run the scan script (Redis required; raises core.redis.REDIS_ERRORS while it is unreachable): the client's
    count in this window (this scan included) and the kept page's HTML, or None when the count is over `budget`
    (then nothing was buffered); (0, None) when the page is not kept (then nothing was counted either)."""
    client = redis_client()
    script = _scripts.get(id(client))
    if script is None:
        # redis-py runs it by EVALSHA, loading it again after a Redis restart (NOSCRIPT).
        script = _scripts[id(client)] = client.register_script(_SCAN_SCRIPT)
    count, html, enqueue = script(
        keys=[counter, page_key, BUFFER_KEY, FLUSH_MARKER],
        args=[seconds, budget, item_tail(user_agent, source), FLUSH_MARKER_SECONDS],
    )
    if enqueue:
        _enqueue_flush_or_release(client)
    return count, html


def record_stranger_scan(
    *, tag_id: int, twin_id: int, owner_id: int, name: str, user_agent: str, source: str = ""
) -> None:
    """Record a non-owner's scan of an active tag: buffered in Redis when available, else written now.

    Takes plain values (what the cached page knows), so it builds no model instance from the database.
    """
    client = redis_client()
    if client is None:
        twin = Twin(pk=twin_id, owner_id=owner_id, name=name)
        record_scan(tag_id=tag_id, twin=twin, by_owner=False, user_agent=user_agent, source=source or "link")
        return
    # One round trip: the scan, and the marker (SET NX) that says whether a flush must be enqueued.
    # The marker means "a flush is enqueued and has not started": every scan pushed before the task starts
    # (and deletes the marker) is drained by it, and the first scan after that enqueues the next one. Its
    # lifetime only matters when no worker runs: then at most one task per FLUSH_MARKER_SECONDS piles up.
    pipe = client.pipeline(transaction=False)
    pipe.rpush(BUFFER_KEY, item_prefix(tag_id=tag_id, twin_id=twin_id) + item_tail(user_agent, source))
    pipe.set(FLUSH_MARKER, 1, nx=True, ex=FLUSH_MARKER_SECONDS)
    if pipe.execute()[1]:
        _enqueue_flush_or_release(client)


def _enqueue_flush_or_release(client: Redis) -> None:
    """Enqueue the flush the marker promises. If the database refuses the task, release the marker, so the next
    scan asks again: the scan is buffered and its page is served either way, and a marker without its task would
    leave every scan buffered for FLUSH_MARKER_SECONDS with no flush coming."""
    try:
        enqueue_flush()
    except DatabaseError as exc:
        client.delete(FLUSH_MARKER)
        log.warning("scan buffer: flush not enqueued, the next scan asks again (%s)", type(exc).__name__)


def enqueue_flush() -> None:
    """Enqueue the flush to run FLUSH_DELAY_SECONDS from now (at once on a backend that cannot defer a task)."""
    flush = flush_scan_buffer
    if FLUSH_DELAY_SECONDS > 0 and flush.get_backend().supports_defer:
        flush = flush.using(run_after=timezone.now() + timedelta(seconds=FLUSH_DELAY_SECONDS))
    flush.enqueue()


@task()
def flush_scan_buffer() -> int:
    """Move the buffered scans into the database, one transaction per batch (tags.scans.record_buffered_scans),
    until a batch comes out short: the buffer was empty then. Scans pushed after the marker's deletion and missed
    by the last pop have enqueued the next flush (the first of them set the marker again). Safe to run
    concurrently: each item is popped once."""
    client = redis_client()
    if client is None:
        return 0
    client.delete(FLUSH_MARKER)
    moved = 0
    while True:
        raw = client.lpop(BUFFER_KEY, BATCH)
        if not raw:
            return moved
        items = staying_here([json.loads(entry) for entry in raw])
        if items:
            moved += record_buffered_scans(items=items)
        if len(raw) < BATCH:
            return moved


# The backstop's period: every worker runs flush_stranded about this often (core.periodic).
STRANDED_EVERY_SECONDS = 60


def flush_stranded() -> int:
    """Periodic backstop (every task worker, core.periodic): flush scans that wait with no flush coming. A marker set
    by a web process that died before its task was written, or whose enqueue failed in a way it could not see,
    leaves the buffer with no flush until the marker expires and another finder scans, which on a quiet tag may be
    never. Here: scans are buffered and no marker promises a flush, so they are flushed now (safe beside a running
    flush: each item is popped once)."""
    client = redis_client()
    if client is None or not client.llen(BUFFER_KEY) or client.exists(FLUSH_MARKER):
        return 0
    moved = flush_scan_buffer.call()
    if moved:
        log.warning("scan buffer: %d scans were waiting with no flush coming; flushed by the periodic backstop", moved)
    return moved


def staying_here(items: list[BufferedScan]) -> list[BufferedScan]:
    """The buffered scans of things that stay here: those of things moving to another host or moved there are left
    out (see the module docstring), with a count in the log (no ids, no user agents)."""
    leaving = set(
        Twin.objects.filter(pk__in={item["twin"] for item in items})
        .exclude(leaving_to="", moved_to="")
        .values_list("pk", flat=True)
    )
    if not leaving:
        return items
    kept = [item for item in items if item["twin"] not in leaving]
    log.info("scan buffer: %d scans of things moving to another host not recorded", len(items) - len(kept))
    return kept
