"""The active-list partial indexes cover only the things that live here (twins.moving).

Every list and count of things now also says `moved_to = '' AND NOT arriving` (Twin.objects.live(): a thing that
moved away, or is still arriving, is on no list). A partial index whose predicate is only `archived_at IS NULL`
still matches such a query, but PostgreSQL must then read the table for the two new columns: the selection bar's
count and the filters' semi-joins were no longer index only (a group's count at 100,000 things went from 60 to
200 ms). Predicates that say the same as the queries give the index-only reads back. SQLite gets the two list
indexes it had (0011) with the same predicate.
"""

from django.db import migrations

LIVE = "archived_at IS NULL AND moved_to = '' AND NOT arriving"
ACTIVE = "archived_at IS NULL"

POSTGRES = {
    "twin_active_name_idx": "(owner_id, name, id)",
    "twin_active_latest_idx": "(owner_id, latest_at ASC NULLS FIRST, id)",
    "twin_active_id_idx": "(owner_id, id)",
    "twin_active_icon_idx": "(owner_id, icon, name, id)",
}
SQLITE = {
    "twin_active_name_idx": "(owner_id, name, id)",
    "twin_active_latest_idx": "(owner_id, latest_at, id)",
}


def _rebuild(schema_editor, predicate: str) -> None:
    indexes = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(schema_editor.connection.vendor, {})
    for name, columns in indexes.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(f"CREATE INDEX {name} ON twins_twin {columns} WHERE {predicate}")


def forward(apps, schema_editor) -> None:
    _rebuild(schema_editor, LIVE)


def backward(apps, schema_editor) -> None:
    _rebuild(schema_editor, ACTIVE)


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0015_move_not_live_index"),
    ]

    operations = [migrations.RunPython(forward, backward)]
