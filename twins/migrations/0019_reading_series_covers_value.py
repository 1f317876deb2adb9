"""PostgreSQL: the chart's index (reading_series_idx: twin, kind, time DESC) also carries each reading's value
(INCLUDE), so a chart of one thing's month is an index-only scan.

Why: a thing's readings arrive interleaved with every other thing's, so at a manufacturer's size each of a 30-day
chart's 43,200 readings (one a minute) lies on a heap page of its own. Measured with bench/scale.py on 1,000,000
things and 100,000,000 readings: the chart read 43,342 pages (1.0-2.8 s, 4x its nearly empty figure); with the
value in the index, 329 pages (130-141 ms). The index grows by the value's 8 bytes a reading (~1 GB at 100M).
Index-only scans need the visibility map that (auto)vacuum keeps; rows not yet vacuumed cost one heap fetch each,
as before.

The model's index is unchanged for Django (same name and columns: a covering column is PostgreSQL's, and SQLite
has no INCLUDE), so the index is rebuilt here by SQL; `makemigrations` sees nothing. On the partitioned table the
CREATE builds it on every month (not CONCURRENTLY: see 0012; for a big table run it in a maintenance window).
SQLite: nothing to do.
"""

from __future__ import annotations

from django.db import migrations

PLAIN = "CREATE INDEX reading_series_idx ON twins_reading (twin_id, kind, time DESC)"
COVERING = PLAIN + " INCLUDE (value)"


def _rebuild(definition: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("DROP INDEX IF EXISTS reading_series_idx")
        schema_editor.execute(definition)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0018_leaving_to_of_moved_twins"),
    ]

    operations = [migrations.RunPython(_rebuild(COVERING), _rebuild(PLAIN))]
