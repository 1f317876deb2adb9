"""Readings' monthly partitions on PostgreSQL (twins_reading is partitioned by month on `time`, migration 0012).

:func:`ensure_reading_partitions` keeps the current month and the next few existing, so readings land in their own
month's partition rather than in the DEFAULT one (which only catches what no partition covers: a backfill from long
ago, a device whose clock runs years ahead). Run it from the ``reading_partitions`` command (cron, a systemd timer)
or as a periodic job of the task worker: it is idempotent and safe when several run it at once (a transaction-level
advisory lock serialises them).

A month whose rows already sit in the DEFAULT partition cannot simply be created (PostgreSQL refuses a partition
whose range the DEFAULT partition holds rows of): those rows are moved into a new table, which is then attached, all
in one transaction, so no reading is ever absent or doubled to a reader. On SQLite there is nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connections, transaction

TABLE = "twins_reading"
DEFAULT = f"{TABLE}_default"
MONTHS_AHEAD = 3
# Any constant of this project's own: pg_advisory_xact_lock's key space is shared by the whole database.
_LOCK_KEY = 0x7468_7072  # "thpr"


@dataclass(frozen=True)
class Partition:
    name: str
    start: date | None  # None: the DEFAULT partition
    end: date | None
    rows: int  # an estimate (pg_class.reltuples; -1 before the first ANALYZE)


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def is_partitioned(using: str = "default") -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def reading_partitions(using: str = "default") -> list[Partition]:
    """The readings table's partitions, months in order, then the DEFAULT one; empty when it is not partitioned."""
    if not is_partitioned(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        rows = cursor.fetchall()
    found = []
    for name, bound, tuples in rows:
        if bound == "DEFAULT":
            found.append(Partition(name=name, start=None, end=None, rows=tuples))
            continue
        # FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00'), in the session's time zone
        start, end = (part.split("'")[1] for part in bound.split(" TO "))
        found.append(
            Partition(
                name=name,
                start=datetime.fromisoformat(start).astimezone(UTC).date(),
                end=datetime.fromisoformat(end).astimezone(UTC).date(),
                rows=tuples,
            )
        )
    return sorted(found, key=lambda p: (p.start is None, p.start or date.min))


def ensure_reading_partitions(
    *, ahead: int = MONTHS_AHEAD, since: date | None = None, now: datetime | None = None, using: str = "default"
) -> list[str]:
    """Create the partitions missing for the current month and the `ahead` next ones, and for every month from
    `since` when given (before importing history); the names created (none on SQLite or when all exist). Rows of
    those months found in the DEFAULT partition are moved into theirs."""
    if ahead < 0:
        raise ValueError("ahead must be 0 or more")
    if not is_partitioned(using):
        return []
    current = month_start(now or datetime.now(UTC))
    month = min(current, month_start(since)) if since is not None else current
    wanted = []
    while month <= current or len([m for m in wanted if m > current]) < ahead:
        wanted.append(month)
        month = next_month(month)
    created = []
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        have = {p.start for p in reading_partitions(using) if p.start is not None}
        for month in wanted:
            if month in have:
                continue
            _create_month(cursor, month)
            created.append(partition_name(month))
    return created


def _create_month(cursor, month: date) -> None:
    name = partition_name(month)  # DDL takes no parameters: the bounds are written in, built from a date
    start = f"{month.isoformat()} 00:00+00"
    end = f"{next_month(month).isoformat()} 00:00+00"
    in_range = '"time" >= %s AND "time" < %s'
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE {in_range})", [start, end])  # noqa: S608
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM ('{start}') TO ('{end}')")
        return
    # The DEFAULT partition holds rows of this month. Locked first (ATTACH would lock it anyway), so no insert
    # lands there between the move and the attach; readers of the table wait for this short transaction.
    cursor.execute(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING STORAGE)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE {in_range} RETURNING *)"  # noqa: S608 (our tables)
        f" INSERT INTO {name} SELECT * FROM moved",
        [start, end],
    )
    # ATTACH builds the partitioned indexes on the new table and checks its rows against the range.
    cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{end}')")
