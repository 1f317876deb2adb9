"""PostgreSQL: the list's name index also holds each name in capitals, for a search that tests the name on the row.

A common search term in names (`q=Kettle`, one thing in six) is tested on each row the list's walk meets in name
order (twins.listing._own_fields: the walk meets a page of matches soon, where the trigram index would gather
all 16,000 first). The test is Django's icontains, `UPPER(name::text) LIKE UPPER(%s)`: computing UPPER() on every
name walked past was most of the walk (33,700 rows before the first "Kettle", 23-32 ms on a loaded machine). With
the expression stored in the index the index-only walk reads it instead (3-8 ms); the same names match. The plain
list still walks the index by (owner_id, name, id), index only. SQLite keeps its index (0016).
"""

from django.db import migrations

LIVE = "archived_at IS NULL AND moved_to = '' AND NOT arriving"


def _rebuild(schema_editor, columns: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS twin_active_name_idx")
    schema_editor.execute(f"CREATE INDEX twin_active_name_idx ON twins_twin {columns} WHERE {LIVE}")


def forward(apps, schema_editor) -> None:
    _rebuild(schema_editor, "(owner_id, name, id, (UPPER(name::text)))")


def backward(apps, schema_editor) -> None:
    _rebuild(schema_editor, "(owner_id, name, id)")


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0020_offer_thing_name"),
    ]

    operations = [migrations.RunPython(forward, backward)]
