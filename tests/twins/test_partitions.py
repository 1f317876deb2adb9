"""Readings partitioned by month on PostgreSQL (migration twins 0012, twins.partitions, `reading_partitions`).

The migration carries existing rows over (same ids, the sequence going on from where it was, every index and
foreign key by name); the ORM's writes and reads (bulk_create's RETURNING, pk lookups, updates that move a row to
another month, deletes) work across partitions; a reading of a month with no partition lands in DEFAULT and is
moved into its month when that month is created. SQLite has no partitions: the functions answer "nothing to do".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from twins.models import Reading
from twins.partitions import (
    DEFAULT,
    ensure_reading_partitions,
    is_partitioned,
    month_start,
    next_month,
    partition_name,
    reading_partitions,
)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no table partitions; PostgreSQL's pass runs these"
)

BEFORE = ("twins", "0011_active_list_indexes")
AFTER = ("twins", "0012_readings_partitioned_by_month")


def _where(reading_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM twins_reading WHERE id = %s", [reading_id])
        return cursor.fetchone()[0]


def _reading(twin, when: datetime, value: float = 1.0) -> Reading:
    return Reading(twin=twin, kind="grind", value=value, unit="setting", time=when)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_migration_carries_rows_indexes_and_the_sequence_over_and_back(grinder):
    old = datetime(2019, 3, 14, 9, 26, tzinfo=UTC)
    Reading.objects.bulk_create([_reading(grinder, old, 1), _reading(grinder, datetime.now(UTC), 2)])
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([BEFORE])
        assert not is_partitioned()
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, time, value FROM twins_reading ORDER BY id")
            rows = cursor.fetchall()
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'twins_reading' ORDER BY 1")
            index_names = cursor.fetchall()
            cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'twins_reading'::regclass ORDER BY 1")
            constraints = cursor.fetchall()
        assert len(rows) == 2

        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])
        assert is_partitioned()
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, time, value FROM twins_reading ORDER BY id")
            assert cursor.fetchall() == rows
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'twins_reading' ORDER BY 1")
            assert cursor.fetchall() == index_names
            cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'twins_reading'::regclass ORDER BY 1")
            assert cursor.fetchall() == constraints
            cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'twins_reading_pkey'")
            assert cursor.fetchone()[0] == 'PRIMARY KEY (id, "time")'
        # The 2019 month held a row: it has its partition; this month and the next three exist too.
        starts = [p.start for p in reading_partitions()]
        assert date(2019, 3, 1) in starts
        this_month = month_start(datetime.now(UTC))
        assert this_month in starts and next_month(next_month(next_month(this_month))) in starts
        assert starts[-1] is None  # DEFAULT last
        assert _where(rows[0][0]) == partition_name(date(2019, 3, 1))
        newer = Reading.objects.create(twin=grinder, kind="grind", value=3, unit="setting", time=datetime.now(UTC))
        assert newer.pk > rows[-1][0]  # the sequence went on from where it was

        executor = MigrationExecutor(connection)
        executor.migrate([BEFORE])  # and back: a plain table again, with every row
        assert not is_partitioned()
        assert sorted(Reading.objects.values_list("value", flat=True)) == [1, 2, 3]
        later = Reading.objects.create(twin=grinder, kind="grind", value=4, unit="setting", time=datetime.now(UTC))
        assert later.pk > newer.pk
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert is_partitioned()


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db
def test_the_orm_writes_reads_moves_and_deletes_across_partitions(grinder):
    now = datetime.now(UTC)
    last_month = month_start(now) - timedelta(days=1)
    made = Reading.objects.bulk_create([_reading(grinder, now, 1), _reading(grinder, now - timedelta(minutes=1), 2)])
    assert all(r.pk for r in made)  # bulk_create's RETURNING through the partitioned table
    assert Reading.objects.get(pk=made[0].pk).value == 1
    assert _where(made[0].pk) == partition_name(month_start(now))

    moved = made[1]
    moved.time = datetime(last_month.year, last_month.month, 5, tzinfo=UTC)
    moved.save()  # the row moves to another partition (the DEFAULT one: no partition for last month here)
    assert _where(moved.pk) in {partition_name(month_start(moved.time)), DEFAULT}
    assert list(Reading.objects.filter(twin=grinder).values_list("pk", flat=True)) == [made[0].pk, moved.pk]

    Reading.objects.filter(pk=moved.pk).delete()
    assert list(Reading.objects.filter(twin=grinder).values_list("pk", flat=True)) == [made[0].pk]
    Reading.objects.bulk_create([_reading(grinder, moved.time, 3)])
    assert Reading.objects.filter(twin=grinder).delete()[0] == 2  # one DELETE across the partitions
    assert not Reading.objects.filter(twin=grinder).exists()


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db
def test_a_month_without_partition_goes_to_default_and_moves_into_its_month_when_created(grinder):
    far = month_start(datetime.now(UTC))
    for _ in range(8):
        far = next_month(far)  # beyond the months kept ahead
    when = datetime(far.year, far.month, 2, 12, tzinfo=UTC)
    ahead = Reading.objects.create(twin=grinder, kind="grind", value=7, unit="setting", time=when)
    assert _where(ahead.pk) == DEFAULT

    created = ensure_reading_partitions(ahead=8)
    assert partition_name(far) in created
    assert _where(ahead.pk) == partition_name(far)  # moved, not copied: one row, same id
    assert Reading.objects.filter(pk=ahead.pk).count() == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT}")
        assert cursor.fetchone()[0] == 0
        # The moved month got every partitioned index (ATTACH builds them).
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [partition_name(far)])
        assert cursor.fetchone()[0] == 5
    assert ensure_reading_partitions(ahead=8) == []  # idempotent
    Reading.objects.create(twin=grinder, kind="grind", value=8, unit="setting", time=when + timedelta(hours=1))
    assert Reading.objects.filter(twin=grinder, time__gte=when).count() == 2


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db
def test_the_command_creates_the_months_ahead_and_lists_them(grinder, capsys):
    call_command("reading_partitions", "--ahead", "6", "--list")
    out = capsys.readouterr().out
    month = month_start(datetime.now(UTC))
    for _ in range(6):
        month = next_month(month)
    assert partition_name(month) in out
    assert "DEFAULT" in out
    call_command("reading_partitions", "--ahead", "6")
    assert capsys.readouterr().out.startswith("0 partition(s) created")


@pytest.mark.django_db
def test_on_sqlite_there_is_nothing_to_do(capsys):
    if connection.vendor == "postgresql":
        assert is_partitioned()  # the PostgreSQL pass: the other tests of this file cover it
        return
    assert not is_partitioned()
    assert ensure_reading_partitions() == []
    assert reading_partitions() == []
    call_command("reading_partitions")
    assert "nothing to do" in capsys.readouterr().out


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db
def test_since_creates_every_month_back_to_it_before_an_import(grinder, capsys):
    now = datetime(2026, 12, 6, tzinfo=UTC)
    created = ensure_reading_partitions(ahead=1, since=date(2025, 11, 20), now=now)
    starts = {p.start for p in reading_partitions()}
    month = date(2025, 11, 1)
    while month <= date(2027, 1, 1):
        assert month in starts
        month = next_month(month)
    assert partition_name(date(2025, 11, 1)) in created
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("reading_partitions", "--since", "last year")


def test_the_task_workers_keep_months_ahead():
    from core import periodic

    [job] = [job for job in periodic.periodic_jobs() if job.name == "twins.reading_partitions"]
    assert job.fn is ensure_reading_partitions and job.every <= 24 * 3600
