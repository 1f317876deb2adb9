"""PostgreSQL: receiving knows a thing on its way to another host, and the write refuses one that stopped living
here under its row lock (issue 18).

- ingest_source_things() also returns each thing's ``leaving_to`` (twins.leaving), with the rest of the thing in the
  same query: ingest.services.resolve_readings refuses a message naming a leaving thing. The return type changes,
  so the function is dropped and created again (columns in the model's field order, ingest.services.THING_FIELDS).
- ingest_store_small() locks the message's things only where they still live here (not moved, not arriving, not
  leaving) as well as being the owner's and not deactivated: the checks before the write read the things without a
  lock, so a move's confirmation or release committing in between stored the message on the old host. The lock's
  WHERE is re-checked on the locked row (a lock granted after a wait sees the committed row), the columns come with
  the row it already locks; a refusal stores nothing (ingest.store reads why). Same signature: ingest_store_group,
  which calls it, stays.
"""

import importlib

from django.db import migrations

_previous_things = importlib.import_module("ingest.migrations.0008_source_things_live")
_previous_small = importlib.import_module("ingest.migrations.0004_store_small_function")

THINGS = """
CREATE FUNCTION ingest_source_things(p_source bigint, p_owner bigint, p_names text[], p_only boolean)
RETURNS TABLE (branch int, external_id text, id bigint, owner_id bigint, slug text, reading_kind text,
               reading_unit text, deactivated_at timestamptz, require_device_signature boolean, moved_to text,
               arriving boolean, leaving_to text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    -- By external id: the (source, external_id) index; by slug: the twin slug index, then (source, twin).
    RETURN QUERY
        SELECT 1, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text, t.reading_unit::text,
               t.deactivated_at, t.require_device_signature, t.moved_to::text, t.arriving, t.leaving_to::text
        FROM ingest_sourcething l JOIN twins_twin t ON t.id = l.twin_id
        WHERE l.source_id = p_source AND t.owner_id = p_owner AND l.external_id = ANY(p_names)
        UNION ALL
        SELECT 2, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text, t.reading_unit::text,
               t.deactivated_at, t.require_device_signature, t.moved_to::text, t.arriving, t.leaving_to::text
        FROM twins_twin t JOIN ingest_sourcething l ON l.twin_id = t.id AND l.source_id = p_source
        WHERE t.owner_id = p_owner AND t.slug = ANY(p_names);
    IF p_only THEN
        -- Up to two of the source's things: whether it feeds exactly one.
        RETURN QUERY
            SELECT 3, l.external_id::text, t.id, t.owner_id, t.slug::text, t.reading_kind::text,
                   t.reading_unit::text, t.deactivated_at, t.require_device_signature, t.moved_to::text, t.arriving,
                   t.leaving_to::text
            FROM ingest_sourcething l JOIN twins_twin t ON t.id = l.twin_id
            WHERE l.source_id = p_source AND t.owner_id = p_owner ORDER BY l.id LIMIT 2;
    END IF;
END
$$;
"""

# The one change to 0004's function: the lock's condition.
_OLD_LOCK = "WHERE id = ANY(p_twins) AND owner_id = p_owner AND deactivated_at IS NULL\n"
_NEW_LOCK = (
    "WHERE id = ANY(p_twins) AND owner_id = p_owner AND deactivated_at IS NULL\n"
    "          AND moved_to = '' AND NOT arriving AND leaving_to = ''\n"
)
assert _previous_small.FUNCTION.count(_OLD_LOCK) == 1
SMALL = _previous_small.FUNCTION.replace(_OLD_LOCK, _NEW_LOCK).replace(
    "re-checks owner and deactivation.", "re-checks owner, deactivation and that each lives here (ingest.live)."
)

DROP_THINGS = _previous_things.DROP


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_THINGS)
        schema_editor.execute(THINGS)
        schema_editor.execute(SMALL)


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_THINGS)
        schema_editor.execute(_previous_things.FUNCTION)
        schema_editor.execute(_previous_small.FUNCTION)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0008_source_things_live"),
        ("twins", "0017_twin_leaving_to"),
    ]

    operations = [
        migrations.RunPython(create, restore),
    ]
