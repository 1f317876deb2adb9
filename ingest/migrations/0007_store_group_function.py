"""PostgreSQL: ingest_store_group(), several small messages stored in one call (ingest.store.store_small_many).

The ingest gateway stores the small messages that arrived together in one transaction; calling
ingest_store_small once per message from Python cost a round trip each, during which the committer waited. This
calls it for each message in order, in the same transaction, and returns one row per message: exactly what each
call returns, so every rule of ingest_store_small holds per message.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION ingest_store_group(p_messages jsonb, p_now timestamptz, p_stale timestamptz)
RETURNS TABLE (ok boolean, created boolean, reading_ids bigint[], flush bigint[], moved bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    v_message jsonb;
BEGIN
    FOR v_message IN SELECT value FROM jsonb_array_elements(p_messages) WITH ORDINALITY ORDER BY ordinality LOOP
        RETURN QUERY SELECT s.ok, s.created, s.reading_ids, s.flush, s.moved FROM ingest_store_small(
            (v_message->>'source')::bigint, (v_message->>'owner')::bigint, v_message->>'webhook_id',
            v_message->'response', p_now, p_stale,
            ARRAY(SELECT jsonb_array_elements_text(v_message->'twins')::bigint), v_message->'readings') AS s;
    END LOOP;
END
$$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ingest_store_group")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0006_delivery_source_index_is_the_unique_one"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
