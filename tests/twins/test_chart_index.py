"""PostgreSQL: a chart of one thing's readings is answered from reading_series_idx alone (twins 0019: the index
carries the value), so a thing whose readings are spread over a big table's pages costs index pages, not a heap
page per reading (bench/scale.py measures it at 100,000,000 readings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from twins.downsample import reading_series
from twins.models import Reading

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="INCLUDE columns and plans are PostgreSQL's"),
]


@pytest.mark.django_db(transaction=True)
def test_the_chart_reads_the_series_index_alone(grinder):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    # The chart's kind among the thing's others, as on a device that sends several.
    Reading.objects.bulk_create(
        Reading(twin=grinder, kind=kind, value=float(i % 7), unit="u", time=start + timedelta(minutes=i))
        for kind in ("grind", "temperature", "humidity", "weight", "noise")
        for i in range(2_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) twins_reading")  # the visibility map an index-only scan relies on
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'reading_series_idx'")
        (definition,) = cursor.fetchone()
    assert "INCLUDE (value)" in definition

    end = start + timedelta(days=2)
    buckets = reading_series(twin=grinder, kind="grind", start=start, end=end, buckets=10)
    assert sum(b.count for b in buckets) == 2_000  # the same answer as ever

    with connection.cursor() as cursor:
        # Heap scans made dear: with so few rows the planner would read the table whole.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            query = (
                Reading.objects.filter(twin=grinder, kind="grind", time__gte=start, time__lt=end)
                .order_by()
                .values("time", "value")
                .query
            )
            sql, params = query.sql_with_params()
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plan = str(cursor.fetchone()[0])
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")
    assert "Index Only Scan" in plan, plan
