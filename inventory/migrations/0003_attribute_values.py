"""PostgreSQL: the search box's attribute term (inventory.search) answered from a table of attribute values, set
based, instead of an expression index whose every candidate is rechecked by calling a function.

Before: `inventory_attribute_text(attributes) ILIKE '%purple%'` (migration 0002). A trigram index on a function's
result is lossy, so PostgreSQL rechecks each candidate row by computing the function again (a SQL function with
`jsonb_each_text` and `string_agg`, ~20 µs a call): a term that many things share (`q=purple`, 12,000 of an
owner's 100,000) cost a third of a second on the cards page, and again in the selection bar's count.

Now: `inventory_attribute_value`, one row per attribute value of a thing (`jsonb_each_text`'s values, JSON null
left out, exactly the values the per-row check reads), kept by triggers on `twins_twin` (insert, delete, a change
of `attributes` or `owner_id`, truncate), with a trigram index on the value: a term is one bitmap scan whose
recheck is a plain ILIKE on a short text, `SELECT twin_id FROM inventory_attribute_value WHERE owner_id = %s AND
value ILIKE %s`. One value per row, so a query can never match across two values (no separator to guard). A plain
table, not a model: only this SQL writes it and only inventory.search reads it; no foreign key, so Django's flush
(TRUNCATE of its own tables) is not refused, and the truncate trigger empties it with twins_twin (as twins 0013
does for twins_attribute_number). The expression index and its function go.

SQLite has none of this: its per-row check stays (the same results).
"""

from django.db import migrations

VALUES_OF = (
    "SELECT {id}, {owner}, item.value FROM jsonb_each_text("
    "CASE WHEN jsonb_typeof({attributes}) = 'object' THEN {attributes} ELSE '{{}}'::jsonb END) AS item "
    "WHERE item.value IS NOT NULL"
)


def _values_of(*, id: str, owner: str, attributes: str) -> str:
    return VALUES_OF.format(id=id, owner=owner, attributes=attributes)


POSTGRES = [
    (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        None,
    ),
    (
        "CREATE TABLE inventory_attribute_value ("
        "twin_id bigint NOT NULL, owner_id bigint NOT NULL, value text NOT NULL)",
        "DROP TABLE IF EXISTS inventory_attribute_value",
    ),
    (
        # Constant SQL: no value from outside reaches it.
        "CREATE FUNCTION inventory_attribute_value_sync() RETURNS trigger LANGUAGE plpgsql AS $$\n"  # noqa: S608
        "BEGIN\n"
        "  IF TG_OP IN ('UPDATE', 'DELETE') THEN\n"
        "    DELETE FROM inventory_attribute_value WHERE twin_id = OLD.id;\n"
        "  END IF;\n"
        "  IF TG_OP IN ('INSERT', 'UPDATE') THEN\n"
        "    INSERT INTO inventory_attribute_value (twin_id, owner_id, value)\n"
        f"    {_values_of(id='NEW.id', owner='NEW.owner_id', attributes='NEW.attributes')};\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END $$",
        "DROP FUNCTION IF EXISTS inventory_attribute_value_sync() CASCADE",
    ),
    (
        "CREATE FUNCTION inventory_attribute_value_truncate() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  TRUNCATE inventory_attribute_value;\n"
        "  RETURN NULL;\n"
        "END $$",
        "DROP FUNCTION IF EXISTS inventory_attribute_value_truncate() CASCADE",
    ),
    (
        "CREATE TRIGGER inventory_attribute_value_write AFTER INSERT OR DELETE ON twins_twin "
        "FOR EACH ROW EXECUTE FUNCTION inventory_attribute_value_sync()",
        None,
    ),
    (
        # Only a real change: Django's save() names every column, and most saves (a new reading's latest_at) leave
        # the attributes and the owner as they were.
        "CREATE TRIGGER inventory_attribute_value_change AFTER UPDATE OF attributes, owner_id ON twins_twin "
        "FOR EACH ROW WHEN (OLD.attributes IS DISTINCT FROM NEW.attributes OR OLD.owner_id IS DISTINCT FROM "
        "NEW.owner_id) EXECUTE FUNCTION inventory_attribute_value_sync()",
        None,
    ),
    (
        "CREATE TRIGGER inventory_attribute_value_truncate AFTER TRUNCATE ON twins_twin "
        "FOR EACH STATEMENT EXECUTE FUNCTION inventory_attribute_value_truncate()",
        None,
    ),
    (
        "INSERT INTO inventory_attribute_value (twin_id, owner_id, value) "
        + _values_of(id="twin.id", owner="twin.owner_id", attributes="twin.attributes").replace(
            "FROM jsonb_each_text(", "FROM twins_twin AS twin CROSS JOIN LATERAL jsonb_each_text(", 1
        ),
        None,
    ),
    # The indexes after the existing values are in: built in one pass (a GIN index filled row by row would keep them
    # in its pending list until a VACUUM, which autovacuum-less databases never run).
    (
        # q=purple: WHERE value ILIKE '%purple%' AND owner_id = ? (pg_trgm's GIN class serves a leading wildcard).
        "CREATE INDEX inventory_attribute_value_trgm ON inventory_attribute_value USING gin (value gin_trgm_ops)",
        None,
    ),
    (
        # The triggers' DELETE by twin.
        "CREATE INDEX inventory_attribute_value_twin ON inventory_attribute_value (twin_id)",
        None,
    ),
    (
        # Replaced by the table above (recreated as migration 0002 made them when going back).
        "DROP INDEX IF EXISTS inventory_attribute_text_trgm",
        "CREATE INDEX IF NOT EXISTS inventory_attribute_text_trgm ON twins_twin "
        "USING gin (inventory_attribute_text(attributes) gin_trgm_ops)",
    ),
    (
        "DROP FUNCTION IF EXISTS inventory_attribute_text(jsonb)",
        "CREATE OR REPLACE FUNCTION inventory_attribute_text(attributes jsonb) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ "
        "SELECT string_agg(value, E'\\x1f') FROM jsonb_each_text("
        "CASE WHEN jsonb_typeof(attributes) = 'object' THEN attributes ELSE '{}'::jsonb END) $$",
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
        ("inventory", "0002_search_indexes"),
        ("twins", "0014_moves_and_serial_index"),
    ]

    operations = [migrations.RunPython(create, drop)]
