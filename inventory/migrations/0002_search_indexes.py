"""PostgreSQL indexes for the search box's inventory term (inventory.search), so it is answered once per query from
an index instead of row by row (100,000 things: a third of a second per page).

- `inventory_attribute_text(attributes)`: a thing's attribute values (jsonb_each_text, the per-row check's own
  function) joined by U+001F, IMMUTABLE so an index can hold it; `inventory_attribute_text_trgm` serves
  `inventory_attribute_text(attributes) ILIKE '%red%'` (pg_trgm's GIN class serves ILIKE with a leading wildcard).
- `inventory_note_title_trgm`, `inventory_note_text_trgm`: `UPPER(title::text) LIKE UPPER('%oil%')` and the same
  for `text`, the SQL Django writes for `__icontains`, on the journal the search reads (twins' table, this feature's
  query).
SQLite has none of these: its per-row check stays (the same results).
"""

from django.db import migrations

POSTGRES = [
    (
        # twins 0010 created it; repeated so this migration stands on its own.
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        None,
    ),
    (
        "CREATE OR REPLACE FUNCTION inventory_attribute_text(attributes jsonb) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ "
        "SELECT string_agg(value, E'\\x1f') FROM jsonb_each_text("
        "CASE WHEN jsonb_typeof(attributes) = 'object' THEN attributes ELSE '{}'::jsonb END) $$",
        "DROP FUNCTION IF EXISTS inventory_attribute_text(jsonb)",
    ),
    (
        "CREATE INDEX IF NOT EXISTS inventory_attribute_text_trgm ON twins_twin "
        "USING gin (inventory_attribute_text(attributes) gin_trgm_ops)",
        "DROP INDEX IF EXISTS inventory_attribute_text_trgm",
    ),
    (
        "CREATE INDEX IF NOT EXISTS inventory_note_title_trgm ON twins_journalnote "
        "USING gin (UPPER(title::text) gin_trgm_ops)",
        "DROP INDEX IF EXISTS inventory_note_title_trgm",
    ),
    (
        "CREATE INDEX IF NOT EXISTS inventory_note_text_trgm ON twins_journalnote USING gin (UPPER(text) gin_trgm_ops)",
        "DROP INDEX IF EXISTS inventory_note_text_trgm",
    ),
]


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for forward, _ in POSTGRES:
            schema_editor.execute(forward)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        # The extension stays: other apps' indexes use it.
        for _, backward in reversed(POSTGRES):
            if backward:
                schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("twins", "0010_list_search_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
