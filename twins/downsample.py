"""Server-side downsampling: min/avg/max of a thing's readings per time bucket, aggregated in SQL.

A chart of a year of minute readings needs a few hundred points, not half a million rows. The database groups
the rows of [start, end) into `buckets` equal slices by integer division of epoch microseconds, so only one
row per non-empty bucket leaves it. The bucket expression is per vendor (EXTRACT(EPOCH) on PostgreSQL,
strftime('%s') on SQLite); both are served by reading_series_idx (twin, kind, -time), which on PostgreSQL
also carries the value (twins 0019): the chart reads the index alone, counting rows with Count("*").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Avg, Count, Func, IntegerField, Max, Min, Value

from twins.models import Reading, Twin

MAX_BUCKETS = 2000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BucketIndex(Func):
    """(epoch_µs(time) - start) integer-divided by width, in exact integer microseconds.

    Integer microseconds, not floating seconds: a reading exactly on a bucket boundary must land in the bucket
    it starts (julianday() arithmetic on SQLite was measured to put some a bucket early).
    """

    output_field = IntegerField()
    templates = {
        # EXTRACT(EPOCH) is numeric (exact) since PostgreSQL 14.
        "postgresql": "(((EXTRACT(EPOCH FROM {time}) * 1000000)::bigint - {start}) / {width})",
        # Django stores SQLite datetimes as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds from
        # strftime('%s'), microseconds from the text (an empty substring casts to 0).
        "sqlite": (
            "((CAST(strftime('%%s', {time}) AS INTEGER) * 1000000 + CAST(substr({time}, 21, 6) AS INTEGER)"
            " - {start}) / {width})"
        ),
    }

    def __init__(self, expression, *, start: int, width: int):
        super().__init__(expression, Value(int(start)), Value(int(width)))

    def as_sql(self, compiler, connection, **extra):
        template = self.templates.get(connection.vendor)
        if template is None:
            raise NotImplementedError(f"No bucket expression for {connection.vendor}.")
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        time, start, width = parts
        return template.format(time=time, start=start, width=width), params


def _us(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _epoch_us(moment: datetime) -> int:
    return _us(moment - EPOCH)


def bucket_width(*, start: datetime, end: datetime, buckets: int) -> timedelta:
    """(end - start) / buckets rounded up to a whole microsecond, so `buckets` buckets always cover the range."""
    return timedelta(microseconds=-(-_us(end - start) // buckets))


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime
    count: int
    min: float
    avg: float
    max: float


def reading_series(*, twin: Twin, kind: str, start: datetime, end: datetime, buckets: int) -> list[Bucket]:
    """Non-empty buckets of the twin's `kind` readings in [start, end), oldest first (at most `buckets`).

    `twin` must already be access-checked (twin_get). Bucket i covers [start + i·w, start + (i+1)·w) with
    w = bucket_width(...); the last bucket ends at `end`.
    """
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be 1..{MAX_BUCKETS}")
    if end <= start:
        raise ValueError("end must be after start")
    width = bucket_width(start=start, end=end, buckets=buckets)
    rows = (
        Reading.objects.filter(twin=twin, kind=kind, time__gte=start, time__lt=end)
        .annotate(bucket=BucketIndex("time", start=_epoch_us(start), width=_us(width)))
        .values("bucket")
        .annotate(n=Count("*"), low=Min("value"), mean=Avg("value"), high=Max("value"))
        .order_by("bucket")
    )
    merged: dict[int, list[float]] = {}
    for row in rows:
        # Defensive: with exact integers and width·buckets ≥ end - start every index is already in range.
        index = min(max(int(row["bucket"]), 0), buckets - 1)
        n, low, mean, high = row["n"], row["low"], row["mean"], row["high"]
        if index in merged:
            m = merged[index]
            total = m[0] + n
            merged[index] = [total, min(m[1], low), (m[2] * m[0] + mean * n) / total, max(m[3], high)]
        else:
            merged[index] = [n, low, mean, high]
    step = width
    return [
        Bucket(
            start=start + step * index,
            end=min(start + step * (index + 1), end),
            count=int(n),
            min=low,
            avg=mean,
            max=high,
        )
        for index, (n, low, mean, high) in sorted(merged.items())
    ]
