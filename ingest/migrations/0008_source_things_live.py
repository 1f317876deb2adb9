"""PostgreSQL: ingest_source_things() also returns each thing's `moved_to` and `arriving` (issue 18).

Receiving refuses readings for a thing that does not live here (moved away, or still arriving:
ingest.services.resolve_readings), so it needs both columns with the rest of the thing, in the same query. The
return type changes, so the function is dropped and created again. Columns in the model's field order
(ingest.services.THING_FIELDS).
"""

import importlib

from django.db import migrations

FUNCTION = """
CREATE FUNCTION ingest_source_things(p_source bigint, p_owner bigint, p_names text[], p_only boolean)
RETURNS TABLE (branch int, external_id text, id bigint, owner_id bigint, slug text, reading_kind text,
               reading_unit text, deactivated_at timestamptz, require_device_signature boolean, moved_to text,
               arriving boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    -- By external id: the (source, external_id) index; by slug: the twin slug index, then (source, twin).
    RETURN QUERY
        SELECT 1, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text, t.reading_unit::text,
               t.deactivated_at, t.require_device_signature, t.moved_to::text, t.arriving
        FROM ingest_sourcething l JOIN twins_twin t ON t.id = l.twin_id
        WHERE l.source_id = p_source AND t.owner_id = p_owner AND l.external_id = ANY(p_names)
        UNION ALL
        SELECT 2, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text, t.reading_unit::text,
               t.deactivated_at, t.require_device_signature, t.moved_to::text, t.arriving
        FROM twins_twin t JOIN ingest_sourcething l ON l.twin_id = t.id AND l.source_id = p_source
        WHERE t.owner_id = p_owner AND t.slug = ANY(p_names);
    IF p_only THEN
        -- Up to two of the source's things: whether it feeds exactly one.
        RETURN QUERY
            SELECT 3, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text,
                   t.reading_unit::text, t.deactivated_at, t.require_device_signature, t.moved_to::text, t.arriving
            FROM ingest_sourcething l JOIN twins_twin t ON t.id = l.twin_id
            WHERE l.source_id = p_source AND t.owner_id = p_owner ORDER BY l.id LIMIT 2;
    END IF;
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS ingest_source_things(bigint, bigint, text[], boolean)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(FUNCTION)


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(importlib.import_module("ingest.migrations.0005_source_things_function").FUNCTION)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0007_store_group_function"),
        ("twins", "0014_moves_and_serial_index"),
    ]

    operations = [
        migrations.RunPython(create, restore),
    ]
