"""Writes to the scan log: one scan now, or a batch of buffered ones. Each sends `twins.events.ScanRecorded`.

A module of its own because both the scan services (tags.services) and the scan buffer's flush task
(tags.scan_buffer) write scans, and the scan services also push to the buffer: with the writes here, neither
of them imports the other's caller.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import NotRequired, TypedDict

from django.db import connection, transaction

from core.live import broadcast_after_commit
from core.sql import select_rows
from owners.services import notify_scan
from tags.history import schedule_scan_history
from tags.models import Scan, Tag
from twins import events
from twins.models import Twin


class BufferedScan(TypedDict):
    """A stranger's scan as the buffer keeps it (JSON in Redis): ids, the coarse user agent, the ISO time."""

    tag: int
    twin: int
    ua: str
    t: str
    # Only when not a plain link ("nfc"): the common case stays as short as it was (tags.scan_buffer.item_tail).
    src: NotRequired[str]


def record_scan(
    *, tag_id: int, twin: Twin | None, by_owner: bool, user_agent: str = "", source: str = Scan.Source.LINK
) -> Scan:
    """One transaction: the scan log and the owner's "scanned" count never disagree.

    `twin` needs only pk, owner_id and name (the scan fast path passes a lightweight instance).
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            statements = []
            if outermost:
                # Asynchronous commit, for this transaction only and only when it is ours alone (PostgreSQL
                # docs, "Asynchronous Commit"): COMMIT returns without waiting for the WAL flush. Every
                # stranger's scan of a thing bumps the same notification row, whose lock is held until COMMIT
                # returns, so with a synchronous commit those scans queue behind one disk flush each. The
                # database stays consistent either way; a crash of the database server can lose the last
                # fraction of a second of scans, which is acceptable for a scan log and a "scanned" count.
                statements.append("SET LOCAL synchronous_commit = off")
            if twin is not None:
                statements.append(_KEY_SHARE_TWIN)
            if statements:
                # One round trip for both (Django binds parameters on the client: one execute may hold two statements).
                with connection.cursor() as cursor:
                    cursor.execute("; ".join(statements), [twin.pk] if twin is not None else None)
        scan = Scan.objects.create(
            tag_id=tag_id,
            twin_id=twin.pk if twin is not None else None,
            by_owner=by_owner,
            user_agent=user_agent[:60],
            source=source,
        )
        if twin is not None:
            _scans_recorded(twin=twin, scan_ids=(scan.pk,), count=1, by_owner=by_owner)
    return scan


# The lock order of every scan transaction on PostgreSQL: the twin's row first (FOR KEY SHARE), then the notification
# row (owners.services.notify_scan). Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so without this the
# scan's first lock on the twin is the key-share lock its foreign keys take at COMMIT, after the notification row
# is locked. A lock request that holds no lock on a row queues behind a waiting FOR UPDATE (the history's catch-up,
# ingestion, a transfer: twins.history.lock_twin), and that one waits for a scan holding FOR NO KEY UPDATE in
# notify_scan's slow path, which waits for the notification row: a deadlock (seen in the test suite). Holding the
# key-share lock from the start, a scan never waits for the twin again (its COMMIT checks find the lock held, and
# the slow path upgrades it without queueing), so nothing that holds the notification row waits on the twin.
_KEY_SHARE_TWIN = f"SELECT 1 FROM {Twin._meta.db_table} WHERE id = %s FOR KEY SHARE"  # noqa: S608


@transaction.atomic
def record_buffered_scans(*, items: list[BufferedScan]) -> int:
    """Write a batch of strangers' buffered scans; returns how many were kept.

    Scans of tags or things deleted since the scan go with them.
    """
    tags = set(Tag.objects.filter(pk__in={i["tag"] for i in items}).values_list("pk", flat=True))
    twins = {twin.pk: twin for twin in _key_share_twins({i["twin"] for i in items})}
    kept = [i for i in items if i["tag"] in tags and i["twin"] in twins]
    ids = _insert_buffered(kept)
    counts = Counter(i["twin"] for i in kept)
    # In the twins' primary-key order, as every writer that locks several twins does: two flushes running at once
    # (tags.scan_buffer.flush_stranded beside a flush) take the notification slow path's twin locks in one order.
    for twin_id in sorted(counts):
        _scans_recorded(
            twin=twins[twin_id], scan_ids=tuple(ids.get(twin_id, ())), count=counts[twin_id], by_owner=False
        )
    return len(kept)


_TWIN_FIELDS = ("id", "owner_id", "name")


def _key_share_twins(ids: set[int]) -> list[Twin]:
    """The twins (pk, owner_id and name) of a batch; on PostgreSQL key-share locked in primary-key order before any
    other lock of the flush, for the reason given at :data:`_KEY_SHARE_TWIN`."""
    if connection.vendor != "postgresql":
        return list(Twin.objects.filter(pk__in=ids).only(*_TWIN_FIELDS))
    return select_rows(Twin, _TWIN_FIELDS, "WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [sorted(ids)])


# The batch in one statement over arrays, on PostgreSQL: no model instance per scan, the times parsed by the database.
_INSERT_BATCH = (
    f"INSERT INTO {Scan._meta.db_table} (tag_id, twin_id, time, user_agent, source, by_owner, in_history)"  # noqa: S608
    " SELECT tag, twin, time, ua, src, false, false FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[],"
    " %s::text[], %s::text[]) AS batch (tag, twin, time, ua, src) RETURNING id, twin_id"
)


def _insert_buffered(kept: list[BufferedScan]) -> dict[int, list[int]]:
    """Insert the batch's Scan rows; the new ids by twin (none on backends that return no ids from a bulk insert:
    those scans are left out of the event)."""
    ids: dict[int, list[int]] = {}
    if not kept:
        return ids
    if connection.vendor == "postgresql":
        columns = (
            [i["tag"] for i in kept],
            [i["twin"] for i in kept],
            [i["t"] for i in kept],  # ISO 8601 with its offset (tags.scan_buffer.item_tail)
            [i["ua"] for i in kept],
            [_buffered_source(i) for i in kept],
        )
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_BATCH, columns)
            rows = cursor.fetchall()
    else:
        scans = [
            Scan(
                tag_id=i["tag"],
                twin_id=i["twin"],
                by_owner=False,
                user_agent=i["ua"],
                time=datetime.fromisoformat(i["t"]),
                source=_buffered_source(i),
            )
            for i in kept
        ]
        rows = [(scan.pk, scan.twin_id) for scan in Scan.objects.bulk_create(scans) if scan.pk is not None]
    for scan_id, twin_id in sorted(rows):
        ids.setdefault(twin_id, []).append(scan_id)
    return ids


_SOURCES = frozenset(Scan.Source.values)  # once: `Scan.Source.values` builds its list anew on every call


def _buffered_source(item: BufferedScan) -> str:
    source = item.get("src", Scan.Source.LINK)
    return source if source in _SOURCES else Scan.Source.LINK


def _scans_recorded(*, twin: Twin, scan_ids: tuple[int, ...], count: int, by_owner: bool) -> None:
    """What follows `count` scans of one twin, inside the transaction that wrote them."""
    if not by_owner:
        # The last of the scan's own writes: the hot notification row stays locked for as short as possible.
        notify_scan(twin=twin, count=count)
    twin_id = twin.pk
    transaction.on_commit(lambda: schedule_scan_history(twin_id))
    broadcast_after_commit(
        owner_id=twin.owner_id, twin_id=twin_id, event={"kind": "scan", "count": count, "by_owner": by_owner}
    )
    events.send(
        events.ScanRecorded(twin_id=twin_id, owner_id=twin.owner_id, scan_ids=scan_ids, count=count, by_owner=by_owner)
    )
