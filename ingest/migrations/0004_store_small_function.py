"""PostgreSQL: ingest_store_small(), the whole write of a small message in one call (ingest.store).

A function rather than one statement with CTEs: its statements are planned once per connection and reused (the
CTE statement cost about a millisecond of planning for every message), and each is a simple index lookup or
insert. It names the tables and columns it writes: a migration that changes them must replace it.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION ingest_store_small(
    p_source bigint, p_owner bigint, p_webhook_id text, p_response jsonb, p_now timestamptz, p_stale timestamptz,
    p_twins bigint[], p_readings jsonb,
    OUT ok boolean, OUT created boolean, OUT reading_ids bigint[], OUT flush bigint[], OUT moved bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    v_locked int;
BEGIN
    -- The things' row locks first, in primary-key order, held to COMMIT; re-checks owner and deactivation.
    SELECT count(*) INTO v_locked FROM (
        SELECT id FROM twins_twin WHERE id = ANY(p_twins) AND owner_id = p_owner AND deactivated_at IS NULL
        ORDER BY id FOR NO KEY UPDATE) AS things;
    ok := v_locked = cardinality(p_twins);
    created := false;
    IF NOT ok THEN
        RETURN;
    END IF;
    -- The unique (source, webhook_id) constraint decides between concurrent deliveries of one message.
    INSERT INTO ingest_delivery (source_id, webhook_id, status, response, created_at)
    VALUES (p_source, p_webhook_id, 200, p_response, p_now)
    ON CONFLICT (source_id, webhook_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    created := true;
    -- Input order (n), so the ids, assigned as rows are inserted, ascend in input order.
    WITH stored AS (
        INSERT INTO twins_reading (twin_id, kind, value, unit, time, source, note, created_at, device_signed,
                                   device_key, signature, signed_content)
        SELECT r.twin_id, r.kind, r.value, r.unit, r.time, 'api', '', p_now, r.device_signed, r.device_key,
               r.signature, r.signed_content
        FROM jsonb_to_recordset(p_readings) AS r(n int, twin_id bigint, kind text, value float8, unit text,
             time timestamptz, device_signed bool, device_key text, signature text, signed_content jsonb)
        ORDER BY r.n
        RETURNING id, twin_id
    ), pending AS (
        INSERT INTO ingest_pendingreadings (twin_id, reading_ids, created_at)
        SELECT twin_id, to_jsonb(array_agg(id ORDER BY id)), p_now FROM stored GROUP BY twin_id
    )
    SELECT array_agg(id ORDER BY id) INTO reading_ids FROM stored;
    -- Returned only when created, or renewed because it was stale (its flush lost).
    WITH requested AS (
        INSERT INTO ingest_historyflush AS f (twin_id, requested_at)
        SELECT unnest(p_twins), p_now
        ON CONFLICT (twin_id) DO UPDATE SET requested_at = EXCLUDED.requested_at WHERE f.requested_at < p_stale
        RETURNING twin_id
    )
    SELECT array_agg(twin_id ORDER BY twin_id) INTO flush FROM requested;
    -- Never backwards: the condition is checked on the locked row.
    WITH updated AS (
        UPDATE twins_twin t SET latest_value = n.value, latest_unit = n.unit, latest_at = n.time
        FROM jsonb_to_recordset(p_readings) AS n(twin_id bigint, value float8, unit text, time timestamptz,
             latest bool)
        WHERE t.id = ANY(p_twins) AND n.latest AND t.id = n.twin_id
          AND (t.latest_at IS NULL OR t.latest_at <= n.time)
        RETURNING t.id
    )
    SELECT array_agg(id) INTO moved FROM updated;
END
$$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ingest_store_small")


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0003_pending_history"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
