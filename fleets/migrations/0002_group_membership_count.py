"""Group.membership_count: how many memberships a group has, kept by triggers on fleets_membership.

The groups' cards above the things showed each group's member count by counting its memberships on every plain first
page (an index-only scan of 10,000 entries a group for an owner with 100,000 things: the page's slowest query). The
count is now a column the database keeps: triggers add and subtract on every insert and delete of a membership (and
move a row's count when its group changes), so no path can forget it: fleets.services, bulk jobs, imports, a sold
thing leaving its groups, a thing or a group deleted through Django's cascades, a COPY.

PostgreSQL: statement-level triggers over transition tables (one UPDATE a statement, however many rows a bulk_create
inserts), locking the groups' rows in id order first, so two writers touching the same groups wait for each other
instead of deadlocking; a TRUNCATE of the memberships sets every count to 0. SQLite: row triggers, the same counts.
The existing memberships are counted once, after the triggers are in; on PostgreSQL under a lock that holds writers
off until then (a membership written in between would be counted twice or not at all).

SQLite rebuilds a table for most schema changes and drops its triggers with it: a later migration that alters
fleets_membership must create them again (tests/fleets/test_member_count.py checks they are there).
"""

from django.db import migrations, models

COUNT_ALL = (
    "UPDATE fleets_group SET membership_count = "
    "(SELECT COUNT(*) FROM fleets_membership AS m WHERE m.group_id = fleets_group.id)"
)


def _postgres_change(rows: str) -> str:
    """A function adding each group's net change in `rows` (SELECT group_id, n) to its count, rows locked in id
    order first. Constant SQL: no value from outside reaches it."""
    return (
        f"BEGIN\n"
        f"  PERFORM 1 FROM fleets_group WHERE id IN (\n"
        f"    SELECT group_id FROM ({rows}) AS d GROUP BY group_id HAVING SUM(n) <> 0\n"
        f"  ) ORDER BY id FOR NO KEY UPDATE;\n"
        f"  UPDATE fleets_group AS g SET membership_count = g.membership_count + c.n FROM (\n"
        f"    SELECT group_id, SUM(n) AS n FROM ({rows}) AS d GROUP BY group_id HAVING SUM(n) <> 0\n"
        f"  ) AS c WHERE g.id = c.group_id;\n"
        f"  RETURN NULL;\n"
        f"END"
    )


ADDED = "SELECT group_id, 1 AS n FROM new_rows"
REMOVED = "SELECT group_id, -1 AS n FROM old_rows"

POSTGRES = [
    # Writers wait (readers do not) until the triggers are in and the existing memberships counted.
    ("LOCK TABLE fleets_membership IN SHARE ROW EXCLUSIVE MODE", None),
    (
        "CREATE FUNCTION fleets_membership_added() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        + _postgres_change(ADDED)
        + " $$",
        "DROP FUNCTION IF EXISTS fleets_membership_added() CASCADE",
    ),
    (
        "CREATE FUNCTION fleets_membership_removed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        + _postgres_change(REMOVED)
        + " $$",
        "DROP FUNCTION IF EXISTS fleets_membership_removed() CASCADE",
    ),
    (
        "CREATE FUNCTION fleets_membership_moved() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        + _postgres_change(f"{ADDED} UNION ALL {REMOVED}")
        + " $$",
        "DROP FUNCTION IF EXISTS fleets_membership_moved() CASCADE",
    ),
    (
        "CREATE FUNCTION fleets_membership_truncated() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  UPDATE fleets_group SET membership_count = 0 WHERE membership_count <> 0;\n"
        "  RETURN NULL;\n"
        "END $$",
        "DROP FUNCTION IF EXISTS fleets_membership_truncated() CASCADE",
    ),
    (
        "CREATE TRIGGER fleets_membership_added AFTER INSERT ON fleets_membership "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fleets_membership_added()",
        None,
    ),
    (
        "CREATE TRIGGER fleets_membership_removed AFTER DELETE ON fleets_membership "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION fleets_membership_removed()",
        None,
    ),
    (
        # Every UPDATE statement (a transition table allows no column list); only a changed group_id moves a count.
        "CREATE TRIGGER fleets_membership_moved AFTER UPDATE ON fleets_membership "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION fleets_membership_moved()",
        None,
    ),
    (
        "CREATE TRIGGER fleets_membership_truncated AFTER TRUNCATE ON fleets_membership "
        "FOR EACH STATEMENT EXECUTE FUNCTION fleets_membership_truncated()",
        None,
    ),
    (COUNT_ALL, None),
]

SQLITE = [
    (
        "CREATE TRIGGER fleets_membership_added AFTER INSERT ON fleets_membership BEGIN "
        "UPDATE fleets_group SET membership_count = membership_count + 1 WHERE id = NEW.group_id; END",
        "DROP TRIGGER IF EXISTS fleets_membership_added",
    ),
    (
        "CREATE TRIGGER fleets_membership_removed AFTER DELETE ON fleets_membership BEGIN "
        "UPDATE fleets_group SET membership_count = membership_count - 1 WHERE id = OLD.group_id; END",
        "DROP TRIGGER IF EXISTS fleets_membership_removed",
    ),
    (
        "CREATE TRIGGER fleets_membership_moved AFTER UPDATE OF group_id ON fleets_membership "
        "WHEN OLD.group_id <> NEW.group_id BEGIN "
        "UPDATE fleets_group SET membership_count = membership_count - 1 WHERE id = OLD.group_id; "
        "UPDATE fleets_group SET membership_count = membership_count + 1 WHERE id = NEW.group_id; END",
        "DROP TRIGGER IF EXISTS fleets_membership_moved",
    ),
    (COUNT_ALL, None),
]


def _statements(vendor: str) -> list[tuple[str, str | None]]:
    return {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor, [])


def create(apps, schema_editor) -> None:
    for forward, _ in _statements(schema_editor.connection.vendor):
        schema_editor.execute(forward)


def drop(apps, schema_editor) -> None:
    for _, backward in reversed(_statements(schema_editor.connection.vendor)):
        if backward:
            schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [
        ("fleets", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="group",
            name="membership_count",
            field=models.IntegerField(default=0, editable=False),
        ),
        migrations.RunPython(create, drop),
    ]
