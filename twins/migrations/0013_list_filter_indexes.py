"""Indexes for the things list's filters at 100,000 things (PostgreSQL; SQLite gives the same results, slower).

- `twin_active_id_idx` `(owner_id, id) WHERE archived_at IS NULL`: the narrowest index over one owner's active
  things. The semi-joins of the tag, keeper and group filters and the selection bar's capped count read it index
  only (the table costs 8x more pages). Kept narrow on purpose: with the sort keys INCLUDEd the planner priced it
  above reading the table and went back to a sequential scan for those counts.
- `twin_active_icon_idx` `(owner_id, icon, name, id) WHERE archived_at IS NULL`: `?kind=` in name order, and its
  count, from the index alone (before: every active thing read and filtered).
- `twin_serial_trgm`, `twin_model_trgm`: `UPPER(serial::text) LIKE UPPER('%x%')` and the same for `model_name`, the
  SQL of `icontains` (the search box) and of `iexact` (`?model=`, which pg_trgm's GIN class serves as equality).
- `twins_attribute_number`: one row per attribute of a thing whose value reads as a number (the pattern of
  twins.selectors._NUMBER, exactly), kept by triggers on `twins_twin` (insert, delete, a change of `attributes` or
  `owner_id`, truncate), so `attr=weight>99.5` reads an index range `(owner_id, key, value)` instead of a regex and
  a cast on every thing of the owner. A plain table, not a model: only this SQL writes it and only
  twins.selectors reads it. No foreign key, so Django's flush (TRUNCATE of its own tables) is not refused; the
  truncate trigger empties it with twins_twin.
"""

from django.db import migrations

# Must match twins.selectors._NUMBER (a test holds them together): what the per-row comparison casts.
NUMBER = r"^ *[-+]?([0-9]{1,20}([.][0-9]{0,20})?|[.][0-9]{1,20})([eE][-+]?[0-9]{1,2})? *$"

NUMBERS_OF = (
    "SELECT {id}, {owner}, item.key, item.value::double precision FROM jsonb_each_text("
    "CASE WHEN jsonb_typeof({attributes}) = 'object' THEN {attributes} ELSE '{{}}'::jsonb END) AS item "
    "WHERE item.value ~ '{number}'"
)


def _numbers_of(*, id: str, owner: str, attributes: str) -> str:
    return NUMBERS_OF.format(id=id, owner=owner, attributes=attributes, number=NUMBER)


POSTGRES = [
    (
        "CREATE INDEX IF NOT EXISTS twin_active_id_idx ON twins_twin (owner_id, id) WHERE archived_at IS NULL",
        "DROP INDEX IF EXISTS twin_active_id_idx",
    ),
    (
        "CREATE INDEX IF NOT EXISTS twin_active_icon_idx ON twins_twin (owner_id, icon, name, id) "
        "WHERE archived_at IS NULL",
        "DROP INDEX IF EXISTS twin_active_icon_idx",
    ),
    (
        "CREATE INDEX IF NOT EXISTS twin_serial_trgm ON twins_twin USING gin (UPPER(serial::text) gin_trgm_ops)",
        "DROP INDEX IF EXISTS twin_serial_trgm",
    ),
    (
        "CREATE INDEX IF NOT EXISTS twin_model_trgm ON twins_twin USING gin (UPPER(model_name::text) gin_trgm_ops)",
        "DROP INDEX IF EXISTS twin_model_trgm",
    ),
    (
        "CREATE TABLE twins_attribute_number ("
        "twin_id bigint NOT NULL, owner_id bigint NOT NULL, key text NOT NULL, value double precision NOT NULL)",
        "DROP TABLE IF EXISTS twins_attribute_number",
    ),
    (
        # attr=weight>20: WHERE owner_id = ? AND key = ? AND value > ? (the twin ids from the index alone).
        "CREATE INDEX twin_attribute_number_idx ON twins_attribute_number (owner_id, key, value, twin_id)",
        None,
    ),
    (
        # The triggers' DELETE by twin, and a walk in the list's order probing each thing from the index alone.
        "CREATE INDEX twin_attribute_number_twin_idx ON twins_attribute_number (twin_id, key, value, owner_id)",
        None,
    ),
    (
        # Constant SQL: no value from outside reaches it.
        "CREATE FUNCTION twins_attribute_number_sync() RETURNS trigger LANGUAGE plpgsql AS $$\n"  # noqa: S608
        "BEGIN\n"
        "  IF TG_OP IN ('UPDATE', 'DELETE') THEN\n"
        "    DELETE FROM twins_attribute_number WHERE twin_id = OLD.id;\n"
        "  END IF;\n"
        "  IF TG_OP IN ('INSERT', 'UPDATE') THEN\n"
        "    INSERT INTO twins_attribute_number (twin_id, owner_id, key, value)\n"
        f"    {_numbers_of(id='NEW.id', owner='NEW.owner_id', attributes='NEW.attributes')};\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END $$",
        "DROP FUNCTION IF EXISTS twins_attribute_number_sync() CASCADE",
    ),
    (
        "CREATE FUNCTION twins_attribute_number_truncate() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  TRUNCATE twins_attribute_number;\n"
        "  RETURN NULL;\n"
        "END $$",
        "DROP FUNCTION IF EXISTS twins_attribute_number_truncate() CASCADE",
    ),
    (
        "CREATE TRIGGER twins_attribute_number_write AFTER INSERT OR DELETE ON twins_twin "
        "FOR EACH ROW EXECUTE FUNCTION twins_attribute_number_sync()",
        None,
    ),
    (
        # Only a real change: Django's save() names every column, and most saves (a new reading's latest_at) leave
        # the attributes and the owner as they were.
        "CREATE TRIGGER twins_attribute_number_change AFTER UPDATE OF attributes, owner_id ON twins_twin "
        "FOR EACH ROW WHEN (OLD.attributes IS DISTINCT FROM NEW.attributes OR OLD.owner_id IS DISTINCT FROM "
        "NEW.owner_id) EXECUTE FUNCTION twins_attribute_number_sync()",
        None,
    ),
    (
        "CREATE TRIGGER twins_attribute_number_truncate AFTER TRUNCATE ON twins_twin "
        "FOR EACH STATEMENT EXECUTE FUNCTION twins_attribute_number_truncate()",
        None,
    ),
    (
        "INSERT INTO twins_attribute_number (twin_id, owner_id, key, value) "
        + _numbers_of(id="twin.id", owner="twin.owner_id", attributes="twin.attributes").replace(
            "FROM jsonb_each_text(", "FROM twins_twin AS twin CROSS JOIN LATERAL jsonb_each_text(", 1
        ),
        None,
    ),
]


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for forward, _ in POSTGRES:
            schema_editor.execute(forward)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for _, backward in reversed(POSTGRES):
            if backward:
                schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0012_readings_partitioned_by_month"),
    ]

    operations = [migrations.RunPython(create, drop)]
