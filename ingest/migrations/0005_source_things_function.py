"""PostgreSQL: ingest_source_things(), the things a message names (ingest.services.source_things).

A function for the same reason as ingest_store_small: its query is planned once per connection (planning the
two-branch UNION cost more than running it, for every message). Columns come in the order of
ingest.services.THING_FIELDS in the model.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION ingest_source_things(p_source bigint, p_owner bigint, p_names text[], p_only boolean)
RETURNS TABLE (branch int, external_id text, id bigint, owner_id bigint, slug text, reading_kind text,
               reading_unit text, deactivated_at timestamptz, require_device_signature boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    -- By external id: the (source, external_id) index; by slug: the twin slug index, then (source, twin).
    RETURN QUERY
        SELECT 1, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text, t.reading_unit::text,
               t.deactivated_at, t.require_device_signature
        FROM ingest_sourcething l JOIN twins_twin t ON t.id = l.twin_id
        WHERE l.source_id = p_source AND t.owner_id = p_owner AND l.external_id = ANY(p_names)
        UNION ALL
        SELECT 2, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text, t.reading_unit::text,
               t.deactivated_at, t.require_device_signature
        FROM twins_twin t JOIN ingest_sourcething l ON l.twin_id = t.id AND l.source_id = p_source
        WHERE t.owner_id = p_owner AND t.slug = ANY(p_names);
    IF p_only THEN
        -- Up to two of the source's things: whether it feeds exactly one.
        RETURN QUERY
            SELECT 3, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text,
                   t.reading_unit::text, t.deactivated_at, t.require_device_signature
            FROM ingest_sourcething l JOIN twins_twin t ON t.id = l.twin_id
            WHERE l.source_id = p_source AND t.owner_id = p_owner ORDER BY l.id LIMIT 2;
    END IF;
END
$$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ingest_source_things")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0004_store_small_function"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
