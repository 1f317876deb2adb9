"""The things list's filters served by indexes (migration twins 0013) give exactly the per-row results.

On PostgreSQL a numeric attribute comparison (`attr=weight>20`) reads `twins_attribute_number`, kept by triggers;
the search box tests serial and model through trigram indexes. Each test compares the list with a plain Python
oracle (the same rule written out), on SQLite and PostgreSQL alike, after every kind of change to the things."""

from __future__ import annotations

import importlib
import math
import re

import pytest
from django.db import connection
from django.utils import timezone

from twins import selectors, services
from twins.models import Twin

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes and triggers")
migration = importlib.import_module("twins.migrations.0013_list_filter_indexes")

# Values as the forms store them (text) and as other writers may (JSON numbers, nesting). Not JSON booleans:
# SQLite's JSON functions hand `true` over as 1, PostgreSQL's as 'true' (a difference older than these indexes).
VALUES = [
    "120",
    "3.5",
    " 20 ",
    "2e1",
    "+.5",
    "1.",
    "-7",
    "heavy",
    "NaN",
    "inf",
    "1e400",  # a three-digit exponent: not a number to the list (the pattern bounds it)
    "123456789012345678901",  # 21 digits: likewise
    "",
    20,
    -0.25,
    None,
    {"kg": "5"},
    ["5"],
]
EXPRESSIONS = ["weight>20", "weight>=20", "weight<20", "weight<=3.5", "weight>-1e2", "weight<0", "weight>1e30"]


def _number(value) -> float | None:
    """The rule the list follows: the value's text (JSON text for nesting), if it reads as a number."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return float(text) if re.match(selectors._NUMBER, text) else None


def _expected(owner, expression: str) -> list[str]:
    condition = selectors.AttrCondition.parse(expression)
    compare = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}[condition.op]
    names = []
    for twin in Twin.objects.filter(owner=owner, archived_at=None):
        attributes = twin.attributes if isinstance(twin.attributes, dict) else {}
        number = _number(attributes.get("weight")) if "weight" in attributes else None
        if number is not None and math.isfinite(number) and compare(number, float(condition.value)):
            names.append(twin.name)
    return sorted(names)


def _listed(viewer, expression: str) -> list[str]:
    return [
        twin.name for twin in selectors.twin_list(viewer=viewer, filters=selectors.TwinFilters(attrs=(expression,)))
    ]


def _things(owner, prefix: str = "") -> list[Twin]:
    made = [
        services.twin_create(owner=owner, name=f"{prefix}Thing {n:02d}", attributes={"colour": "red"})
        for n in range(len(VALUES))
    ]
    # Written straight to the column, as imports' and makers' batch inserts and the admin may: the list must
    # follow whatever the row holds.
    for twin, value in zip(made, VALUES, strict=True):
        Twin.objects.filter(pk=twin.pk).update(attributes={"weight": value, "size": "7"})
    return made


def test_the_migration_reads_numbers_with_the_lists_own_pattern():
    assert migration.NUMBER == selectors._NUMBER


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_numeric_comparisons_list_what_the_rule_says(alice, carol, expression):
    _things(alice)
    _things(carol, prefix="Carol's ")
    assert _listed(alice, expression) == _expected(alice, expression)
    assert all(not name.startswith("Carol") for name in _listed(alice, expression))


def test_numeric_comparisons_follow_edits_transfers_deletions_and_bulk_inserts(alice, carol):
    things = _things(alice)
    services.twin_update(twin=things[0], attributes={"weight": "5"})  # 120 -> 5
    Twin.objects.filter(pk=things[7].pk).update(attributes={"weight": "99"})  # "heavy" -> 99
    Twin.objects.filter(pk=things[1].pk).update(attributes=[1, 2])  # not an object at all
    Twin.objects.filter(pk=things[2].pk).update(owner=carol)  # " 20 " leaves alice's list for carol's
    Twin.objects.filter(pk=things[3].pk).update(archived_at=timezone.now())
    gone, _ = Twin.objects.bulk_create(
        [
            Twin(owner=alice, name="Gone", attributes={"weight": "500"}),
            Twin(owner=alice, name="Bulk 1", attributes={"weight": "42"}),
        ]
    )
    gone.delete()  # made without credentials, so it may go (the others are held by their ownership credential)
    Twin.objects.filter(pk=things[4].pk).update(name="Renamed")  # the trigger ignores other columns
    for expression in EXPRESSIONS:
        assert _listed(alice, expression) == _expected(alice, expression), expression
        assert _listed(carol, expression) == _expected(carol, expression), expression
    assert "Bulk 1" in _listed(alice, "weight>41")
    assert _listed(carol, "weight>=20") == ["Thing 02"]


@pytest.mark.needs("credentials")
def test_a_keeper_compares_kept_things_row_by_row(alice, bob):
    from credentials import keepers
    from credentials.models import AccessCredential

    things = _things(alice)
    services.twin_create(owner=bob, name="Bob's own", attributes={"weight": "50"})
    keepers.access_credential_issue(
        twin=things[0],
        issued_by=alice,
        holder=bob,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
    )
    filters = selectors.TwinFilters(attrs=("weight>20",))
    listed = selectors.twin_list(viewer=bob, filters=filters, include_kept=True)
    assert [twin.name for twin in listed] == ["Bob's own", "Thing 00"]
    assert selectors.twin_count(viewer=bob, filters=filters, include_kept=True) == 2


@pytest.mark.needs("credentials")
def test_the_search_box_finds_serial_and_model_of_own_and_kept_things(alice, bob, carol):
    from credentials import keepers
    from credentials.models import AccessCredential

    services.twin_create(owner=alice, name="Grinder", serial="SN-ab12", model_name="Mazzer")
    kept = services.twin_create(owner=alice, name="Mixer", serial="SN-ab13", model_name="KitchenAid")
    services.twin_create(owner=bob, name="Kettle", serial="K-9", model_name="mazzer mini")
    services.twin_create(owner=carol, name="Carol's", serial="SN-ab14", model_name="Mazzer")
    keepers.access_credential_issue(
        twin=kept,
        issued_by=alice,
        holder=bob,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
    )

    def found(viewer, query: str, *, include_kept: bool = False) -> list[str]:
        filters = selectors.TwinFilters(query=query)
        return [t.name for t in selectors.twin_list(viewer=viewer, filters=filters, include_kept=include_kept)]

    assert found(alice, "sn-AB") == ["Grinder", "Mixer"]
    assert found(alice, "mazz") == ["Grinder"]
    assert found(bob, "MAZZER") == ["Kettle"]
    assert found(bob, "kitchen", include_kept=True) == ["Mixer"]
    assert found(bob, "ab1", include_kept=True) == ["Mixer"]
    assert found(bob, "ab1") == []


# --- PostgreSQL: the side table and the plans ---------------------------------------------------------------------


def _numbers_table() -> set[tuple[int, int, str, float]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT twin_id, owner_id, key, value FROM twins_attribute_number")
        return set(cursor.fetchall())


def _numbers_expected() -> set[tuple[int, int, str, float]]:
    rows = set()
    for twin in Twin.objects.all():
        for key, value in twin.attributes.items() if isinstance(twin.attributes, dict) else ():
            number = _number(value)
            if number is not None:
                rows.add((twin.pk, twin.owner_id, key, number))
    return rows


@postgres_only
def test_postgres_keeps_the_numbers_table_in_step_with_the_things(alice, carol):
    things = _things(alice)
    assert _numbers_table() == _numbers_expected()
    Twin.objects.filter(pk=things[5].pk).update(owner=carol)
    Twin.objects.filter(pk=things[6].pk).update(attributes={"weight": "8", "depth": "+3"})
    Twin.objects.bulk_create([Twin(owner=alice, name="Gone", attributes={"weight": "500"})])[0].delete()
    assert _numbers_table() == _numbers_expected()
    with connection.cursor() as cursor:
        # What Django's flush does between transactional tests: the numbers go with the things. (The deferred
        # foreign key checks of this test's rows are run first: TRUNCATE refuses a table with pending ones.)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE twins_twin CASCADE")
    assert _numbers_table() == set()


def _plan(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def many(alice, carol):
    """Enough analysed rows that the planner picks an index where one serves the query."""
    for owner, count in ((alice, 4000), (carol, 500)):
        Twin.objects.bulk_create(
            [
                Twin(
                    owner=owner,
                    name=f"{['Drill', 'Cow', 'Van'][i % 3]} {i:05d}",
                    icon=["thing", "tool", "animal", "home", "lock", "coffee", "health", "vehicle"][i % 8],
                    serial=f"SN{i:07d}",
                    model_name=f"M-{i % 50:02d}",
                    attributes={"weight": f"{(i * 37) % 1000 / 10:.1f}", "colour": "red"},
                )
                for i in range(count)
            ],
            batch_size=1000,
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list('twin_serial_trgm'), gin_clean_pending_list('twin_model_trgm')")
        cursor.execute("ANALYZE twins_twin")
        cursor.execute("ANALYZE twins_attribute_number")


def _scoped(viewer, **filters):
    return selectors._scoped(viewer, selectors.TwinFilters(**filters), False)[0]


@postgres_only
@pytest.mark.postgres
def test_postgres_counts_a_rare_numeric_match_from_the_numbers_index(alice, many):
    qs = _scoped(alice, attrs=("weight>99.5",))
    plan = _plan(qs.order_by().values("pk")[:10001])
    assert "twin_attribute_number_idx" in plan, plan
    assert sorted(qs.values_list("name", flat=True)) == _expected(alice, "weight>99.5")


@postgres_only
@pytest.mark.postgres
def test_postgres_active_list_indexes_hold_only_the_things_that_live_here():
    # The lists leave out moved and arriving things (Twin.objects.live()). A partial index whose predicate says the
    # same lets a count or a semi-join answer from the index alone; one that says only `archived_at IS NULL` makes
    # PostgreSQL read every row to check the two columns (a group's count at 100,000 things: 60 -> 200 ms).
    # Which plan wins on this test's few thousand young rows is a coin toss, so the predicates are what is checked.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'twin_active%%'")
        definitions = dict(cursor.fetchall())
    assert set(definitions) == {
        "twin_active_name_idx",
        "twin_active_latest_idx",
        "twin_active_id_idx",
        "twin_active_icon_idx",
    }
    for name, definition in definitions.items():
        predicate = definition.partition(" WHERE ")[2]
        assert "archived_at IS NULL" in predicate and "moved_to" in predicate, (name, definition)
        assert "NOT arriving" in predicate, (name, definition)


@postgres_only
@pytest.mark.postgres
def test_postgres_serves_kind_in_name_order_from_its_index(alice, many):
    qs = _scoped(alice, kind="tool")
    plan = _plan(qs.order_by(*selectors._order("name")).values("pk")[:25])
    assert "twin_active_icon_idx" in plan, plan
    assert "Sort" not in plan, plan


@postgres_only
@pytest.mark.postgres
def test_postgres_finds_serials_and_models_through_their_trigram_indexes(alice, many):
    plan = _plan(_scoped(alice, query="SN00012").order_by().values("pk"))
    assert "twin_serial_trgm" in plan, plan
    plan = _plan(_scoped(alice, model="m-07").order_by().values("pk"))
    assert "twin_model_trgm" in plan, plan
    assert _scoped(alice, query="SN0001234").get().name == "Cow 01234"


@postgres_only
@pytest.mark.postgres
def test_postgres_name_index_holds_the_name_in_capitals_for_a_search_walking_it(alice):
    # A common name term (q=Kettle) is tested on each row of the walk in name order as Django's icontains,
    # UPPER(name) LIKE UPPER(...): read from the index (twins 0021) rather than computed on every name walked past.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'twin_active_name_idx'")
        (definition,) = cursor.fetchone()
    assert "(owner_id, name, id, upper((name)::text))" in definition, definition
    Twin.objects.bulk_create([Twin(owner=alice, name=f"{['Cow', 'Kettle'][i % 2]} {i:04d}") for i in range(400)])
    qs = Twin.objects.owned_by(alice).active().live().filter(name__icontains="kettle")
    sql, params = qs.order_by("name", "id").values("pk")[:25].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE twins_twin")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using twin_active_name_idx" in plan, plan
    assert "Filter: ((upper((name)::text)) ~~" in plan, plan  # the index's column, not upper() of the name
