"""PostgreSQL: twins_reading becomes a table partitioned by month on `time` (declarative range partitions).

Why: at a manufacturer's size (a hundred million readings and more) one table makes every index as deep as all of
history, VACUUM and ANALYZE walk all of it, and dropping old data is a DELETE. Partitioned by month, a chart's
query reads the partitions of its window only, a month's indexes stay small, and retention can detach a month.
Declarative partitions rather than pg_partman: PostgreSQL does all of it natively; what an extension adds (creating
months ahead) is one short function here (twins.partitions), so no new operational dependency.

What the migration does, in its transaction (existing rows are carried over; ids go on from the same number):

- renames the old table, its indexes and its sequence out of the way;
- creates the partitioned table with the same columns, defaults and identity, primary key (id, time) (a
  partitioned table's unique keys must include the partition key), one partition per month that holds rows, the
  current month and three ahead, and a DEFAULT partition so that an insert for a month not yet created never fails;
- copies the rows, then builds every index (partitioned indexes, same names) and the foreign keys (same names,
  same definitions), sets the new identity sequence to where the old one was, drops the old table.

Nothing references twins_reading by foreign key (readings are named by id in ingest's PendingReadings JSON only).
Django's model state does not change (Reading keeps `id` as its primary key: ids stay unique, assigned by the one
sequence), so `makemigrations` sees nothing. Later schema changes: an index on readings must be created without
CONCURRENTLY (PostgreSQL cannot build a partitioned index concurrently; create it ON ONLY the parent, then on each
partition concurrently, then ATTACH, for a big table). SQLite: nothing to do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import migrations

TABLE = "twins_reading"
OLD = "twins_reading_unpartitioned"
MONTHS_AHEAD = 3


def _month_name(month: date) -> str:
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _swap(schema_editor, *, partitioned: bool) -> None:
    """Rebuild twins_reading as a partitioned table (or back as a plain one), keeping rows, indexes, foreign keys
    and the identity sequence's position."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        if (cursor.fetchone()[0] == "p") == partitioned:
            return
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY c.relname",
            [TABLE],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [TABLE],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608 (the catalog's name)
        last_value, is_called = cursor.fetchone()

        # Out of the way: index and sequence names are unique in the schema.
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        cursor.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {OLD}_pkey")
        for name, _definition in indexes:
            cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:40]}_unpartitioned"')
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {OLD}_id_seq")

        like = f"LIKE {OLD} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS"
        if partitioned:
            cursor.execute(f'CREATE TABLE {TABLE} ({like}) PARTITION BY RANGE ("time")')
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, "time")')
            cursor.execute(f"SELECT DISTINCT date_trunc('month', \"time\" AT TIME ZONE 'UTC')::date FROM {OLD}")  # noqa: S608
            months = {row[0] for row in cursor.fetchall()}
            month = datetime.now(UTC).date().replace(day=1)
            for _ in range(MONTHS_AHEAD + 1):
                months.add(month)
                month = _next_month(month)
            for month in sorted(months):
                start, end = f"{month.isoformat()} 00:00+00", f"{_next_month(month).isoformat()} 00:00+00"
                cursor.execute(
                    f"CREATE TABLE {_month_name(month)} PARTITION OF {TABLE} FOR VALUES FROM ('{start}') TO ('{end}')"
                )
            cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        else:
            cursor.execute(f"CREATE TABLE {TABLE} ({like})")
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        cursor.execute(f"INSERT INTO {TABLE} OVERRIDING SYSTEM VALUE SELECT * FROM {OLD}")  # noqa: S608 (our tables)
        for _name, definition in indexes:
            # The old table's name was in it when it was read: it names the new table. A partitioned table's index
            # reads "ON ONLY" (that parent alone); here every index is built on the whole table.
            cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        cursor.execute("SELECT setval(%s, %s, %s)", [cursor.fetchone()[0], last_value, is_called])
        cursor.execute(f"DROP TABLE {OLD}")
        cursor.execute(f"ANALYZE {TABLE}")


def partition(apps, schema_editor) -> None:
    _swap(schema_editor, partitioned=True)


def unpartition(apps, schema_editor) -> None:
    _swap(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0011_active_list_indexes"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
