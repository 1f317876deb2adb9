"""Indexes for the things list at scale (twins.selectors: filters, sorts and keyset pages).

Written per database rather than in Twin.Meta: PostgreSQL needs `NULLS FIRST` (SQLite refuses it in an index and
sorts NULL first anyway), a GIN index and a trigram operator class, none of which SQLite has.

- `twin_cards_latest_idx`: `WHERE owner_id = ? AND archived_at IS NULL ORDER BY latest_at ASC NULLS FIRST, id`
  (sort=latest; read backwards for sort=-latest, `DESC NULLS LAST, id DESC`), and the keyset bound
  `(latest_at, id) > (?, ?)` of a cursor.
- PostgreSQL `twin_attributes_gin`: `attributes @> '{"colour": "red"}'` (attr=colour=red) and `attributes ? 'colour'`
  (attr=colour): the default jsonb_ops class serves both.
- PostgreSQL `twin_name_trgm`: `UPPER(name::text) LIKE UPPER('%drill%')`, the SQL Django writes for
  `name__icontains` (the search box and ?name=): pg_trgm's GIN class serves LIKE with a leading wildcard.
"""

from django.db import migrations

POSTGRES = [
    (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        None,
    ),
    (
        "CREATE INDEX IF NOT EXISTS twin_cards_latest_idx ON twins_twin "
        "(owner_id, archived_at, latest_at ASC NULLS FIRST, id)",
        "DROP INDEX IF EXISTS twin_cards_latest_idx",
    ),
    (
        "CREATE INDEX IF NOT EXISTS twin_attributes_gin ON twins_twin USING gin (attributes)",
        "DROP INDEX IF EXISTS twin_attributes_gin",
    ),
    (
        "CREATE INDEX IF NOT EXISTS twin_name_trgm ON twins_twin USING gin (UPPER(name::text) gin_trgm_ops)",
        "DROP INDEX IF EXISTS twin_name_trgm",
    ),
]

SQLITE = [
    (
        "CREATE INDEX IF NOT EXISTS twin_cards_latest_idx ON twins_twin (owner_id, archived_at, latest_at, id)",
        "DROP INDEX IF EXISTS twin_cards_latest_idx",
    ),
]


def _statements(vendor: str) -> list[tuple[str, str | None]]:
    return {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor, [])


def create(apps, schema_editor) -> None:
    for forward, _ in _statements(schema_editor.connection.vendor):
        schema_editor.execute(forward)


def drop(apps, schema_editor) -> None:
    # The extension stays: other databases' objects may use it.
    for _, backward in reversed(_statements(schema_editor.connection.vendor)):
        if backward:
            schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0009_added_by"),
    ]

    operations = [migrations.RunPython(create, drop)]
