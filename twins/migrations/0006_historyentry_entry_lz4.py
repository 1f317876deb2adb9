"""History entries' TOAST compression: lz4 instead of PostgreSQL's default pglz, where the server has it.

An ingested batch's entry is ~60 kB of JSON (one item per reading); pglz costs about half a millisecond per
entry to compress, inside the things' row locks, and more to decompress when the head is read. lz4 does both
several times faster, for a slightly larger entry. Only entries written from now on use it (existing ones keep
theirs; both read alike). Nothing changes on SQLite, or on a server built without lz4.
"""

from django.db import migrations

_TABLE = "twins_historyentry"


def _lz4_available(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def to_lz4(apps, schema_editor) -> None:
    if _lz4_available(schema_editor):
        schema_editor.execute(f"ALTER TABLE {_TABLE} ALTER COLUMN entry SET COMPRESSION lz4")


def to_default(apps, schema_editor) -> None:
    if _lz4_available(schema_editor):
        schema_editor.execute(f"ALTER TABLE {_TABLE} ALTER COLUMN entry SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [("twins", "0005_message_kind")]

    operations = [migrations.RunPython(to_lz4, to_default)]
