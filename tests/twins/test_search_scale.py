"""The things list at scale: keyset pages (every thing exactly once, inserts in between), a constant number of
queries per page, and on PostgreSQL the indexes matching the SQL the filters generate."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import api_for
from twins import selectors, services
from twins.models import Twin

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _bulk(owner, count: int, *, start: int = 0, prefix: str = "Thing") -> list[Twin]:
    """Things with repeated names (ties), a reading time on two in three, and attributes."""
    return Twin.objects.bulk_create(
        [
            Twin(
                owner=owner,
                name=f"{prefix} {i % 9:02d}",
                latest_at=None if i % 3 == 0 else T0 + timedelta(hours=i % 5),
                latest_value=None if i % 3 == 0 else 1.0,
                attributes={"colour": "red" if i % 2 else "blue"},
            )
            for i in range(start, start + count)
        ]
    )


def _walk_api(api, params: dict, *, insert=None, backwards_from_end: bool = False) -> list[str]:
    """Follow `next` links to the end (calling `insert(n)` between pages); the ids seen, in order."""
    url = "/api/things/"
    query = {**params, "cursor": "", "limit": 4}
    seen: list[str] = []
    pages = 0
    while url:
        response = api.get(url, query) if query else api.get(url)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert "count" not in body
        seen += [row["id"] for row in body["results"]]
        pages += 1
        if insert:
            insert(pages)
        url, query = body["next"], None
        assert pages < 100
    if backwards_from_end:
        back: list[str] = []
        url = body["previous"]
        last = [row["id"] for row in body["results"]]
        while url:
            body = api.get(url).json()
            back = [row["id"] for row in body["results"]] + back
            url = body["previous"]
        return back + last
    return seen


@pytest.mark.parametrize("sort", ["name", "-name", "latest", "-latest"])
def test_cursor_pages_cover_every_thing_once_with_inserts_in_between(alice_api, alice, carol, sort):
    _bulk(alice, 30)
    _bulk(carol, 5, prefix="Carol")
    before = set(Twin.objects.filter(owner=alice).values_list("slug", flat=True))

    def insert(page: int) -> None:
        # Things added while paging: before and after the reader's position in every sort.
        _bulk(alice, 2, start=100 + page * 2)

    seen = _walk_api(alice_api, {"sort": sort}, insert=insert)
    assert len(seen) == len(set(seen)), "a thing came twice"
    assert before <= set(seen), "a thing that was there all along was skipped"
    assert set(seen) <= set(Twin.objects.filter(owner=alice).values_list("slug", flat=True))
    # With nothing inserted, the walk is exactly twin_list's order, forwards and backwards.
    expected = [twin.slug for twin in selectors.twin_list(viewer=alice, filters=selectors.TwinFilters(sort=sort))]
    assert _walk_api(alice_api, {"sort": sort}) == expected
    assert _walk_api(alice_api, {"sort": sort}, backwards_from_end=True) == expected


def test_cursor_pages_keep_the_filters(alice_api, alice):
    _bulk(alice, 30)
    seen = _walk_api(alice_api, {"attr": "colour=red", "sort": "-latest"})
    expected = set(Twin.objects.filter(owner=alice, attributes__colour="red").values_list("slug", flat=True))
    assert sorted(seen) == sorted(expected) and len(seen) == 15


def test_cards_page_next_and_previous_links_walk_every_thing_once(alice_client, alice):
    _bulk(alice, 60)
    url = reverse("things") + "?sort=-latest"
    seen: list[str] = []
    while url:
        response = alice_client.get(url)
        assert response.status_code == 200
        page = response.context["page"]
        seen += [twin.slug for twin in page]
        url = reverse("things") + page.links["next"] if page.has_next() else ""
        _bulk(alice, 1, start=500 + len(seen))  # a new thing each page
    assert len(seen) == len(set(seen)) >= 60
    # Back one page from the last: the things just before it, as the list now stands (inserts included).
    previous = alice_client.get(reverse("things") + page.links["previous"]).context["page"]
    now = [twin.slug for twin in selectors.twin_list(viewer=alice, filters=selectors.TwinFilters(sort="-latest"))]
    start = now.index(next(iter(page)).slug)
    assert [twin.slug for twin in previous] == now[start - len(previous) : start] and len(previous) == 24


def test_a_cursor_from_another_sort_is_refused(alice_api, alice):
    _bulk(alice, 10)
    body = alice_api.get("/api/things/", {"cursor": "", "limit": 3}).json()
    cursor = parse_qs(urlparse(body["next"]).query)["cursor"][0]
    response = alice_api.get("/api/things/", {"cursor": cursor, "sort": "-latest"})
    assert response.status_code == 400
    assert "another sort order" in response.json()["message"]


def test_the_offset_pages_of_the_api_are_unchanged(alice_api, alice):
    _bulk(alice, 7)
    body = alice_api.get("/api/things/", {"limit": 3, "offset": 3}).json()
    assert body["count"] == 7 and len(body["results"]) == 3
    assert "offset=6" in body["next"] and body["previous"] is not None


def _with_every_badge(owner, twins: list[Twin], keeper_of_bob: Twin | None) -> None:
    """Tags, labels, places and groups on the things, so every feature's badge query has rows to find."""
    from django.apps import apps

    if apps.is_installed("tags"):
        from tags.models import Tag

        Tag.objects.bulk_create([Tag(twin=twin) for twin in twins])
    if apps.is_installed("inventory"):
        from inventory.models import Label, Location, Placement

        label = Label.objects.get_or_create(owner=owner, name="Kitchen")[0]
        label.twins.add(*twins)
        place = Location.objects.get_or_create(owner=owner, name="Shed")[0]
        Placement.objects.bulk_create(
            [Placement(twin=twin, location=place, moved_at=T0) for twin in twins], ignore_conflicts=True
        )
    if apps.is_installed("fleets"):
        from fleets.models import Group, Membership

        group = Group.objects.get_or_create(owner=owner, name="Herd")[0]
        Membership.objects.bulk_create([Membership(group=group, twin=twin) for twin in twins], ignore_conflicts=True)


@pytest.mark.needs("tags", "inventory", "fleets", "credentials")
@pytest.mark.parametrize("query", ["", "?sort=-latest&attr=colour%3Dred", "?q=Thing&tagged=yes&kind=thing"])
def test_the_cards_page_costs_the_same_queries_for_3_and_40_things(
    alice_client, alice, bob, django_assert_num_queries, query
):
    from credentials import keepers
    from credentials.models import AccessCredential

    # One of bob's things alice keeps: the page lists it among hers, with its badge.
    bobs = services.twin_create(owner=bob, name="Thing of bob")
    keepers.access_credential_issue(
        twin=bobs,
        issued_by=bob,
        holder=alice,
        role=AccessCredential.Role.KEEPER,
        capabilities=keepers.KEEPER_CAPABILITIES,
    )
    _with_every_badge(alice, _bulk(alice, 3), None)
    url = reverse("things") + query
    with CaptureQueriesContext(connection) as small:
        assert alice_client.get(url).status_code == 200
    _with_every_badge(alice, _bulk(alice, 37, start=3), None)
    with django_assert_num_queries(len(small)):
        response = alice_client.get(url)
    assert len(response.context["page"]) > 3


@pytest.mark.needs("tags", "inventory", "fleets")
def test_the_api_costs_the_same_queries_for_3_and_40_things_first_and_deep(alice, django_assert_num_queries):
    api = api_for(alice, token=True)
    _with_every_badge(alice, _bulk(alice, 3), None)
    with CaptureQueriesContext(connection) as small:
        assert api.get("/api/things/", {"cursor": "", "sort": "-latest", "limit": 2}).status_code == 200
    _with_every_badge(alice, _bulk(alice, 37, start=3), None)
    with django_assert_num_queries(len(small)):
        body = api.get("/api/things/", {"cursor": "", "sort": "-latest", "limit": 2}).json()
    deep = selectors.Cursor.of(
        selectors.twin_list(viewer=alice, filters=selectors.TwinFilters(sort="-latest"))[30], "-latest"
    )
    with django_assert_num_queries(len(small)):
        body = api.get("/api/things/", {"cursor": deep.encode(), "sort": "-latest", "limit": 2}).json()
    assert len(body["results"]) == 2


# --- PostgreSQL: the indexes serve the SQL the filters generate ---------------------------------------------------

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes")


def _plan(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def many(alice, bob):
    """Enough rows, analysed, that PostgreSQL's planner picks an index where it serves the query (on a few rows
    it would rightly read the table). ANALYZE counts this transaction's own rows; the GIN indexes' pending lists
    (where new rows wait until a VACUUM) are merged first, as VACUUM would, or the planner prices them as a scan."""
    for owner, count in ((alice, 3000), (bob, 200)):
        Twin.objects.bulk_create(
            [
                Twin(
                    owner=owner,
                    name=f"{['Drill', 'Cow', 'Van'][i % 3]} {i:05d}",
                    attributes={"colour": ["red", "blue", "green"][i % 3]},
                    latest_at=None if i % 4 == 0 else T0 + timedelta(minutes=i),
                )
                for i in range(count)
            ],
            batch_size=1000,
        )
    Twin.objects.filter(owner=alice, name="Van 00002").update(attributes={"colour": "rare"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list('twin_name_trgm'), gin_clean_pending_list('twin_attributes_gin')")
        cursor.execute("ANALYZE twins_twin")


def _ids_query(viewer, **filters):
    qs, _ = selectors._scoped(viewer, selectors.TwinFilters(**filters), False)
    return qs.order_by(*selectors._order(filters.get("sort", "name"))).values("pk")[:25]


@postgres_only
@pytest.mark.postgres
def test_postgres_serves_attribute_equality_from_the_gin_index(alice, many):
    plan = _plan(_ids_query(alice, attrs=("colour=rare",)))
    assert "twin_attributes_gin" in plan, plan
    assert [Twin.objects.get(pk=row["pk"]).name for row in _ids_query(alice, attrs=("colour=rare",))] == ["Van 00002"]


@postgres_only
@pytest.mark.postgres
def test_postgres_serves_name_search_from_the_trigram_index(alice, many):
    plan = _plan(_ids_query(alice, name="van 0000"))
    assert "twin_name_trgm" in plan, plan


@postgres_only
@pytest.mark.postgres
def test_postgres_starts_a_deep_page_at_the_cursor_in_the_index(alice, many):
    twin = Twin.objects.filter(owner=alice, name="Van 02003").get()
    for sort, index in (("name", "twin_active_name_idx"), ("-latest", "twin_active_latest_idx")):
        qs, _ = selectors._scoped(alice, selectors.TwinFilters(sort=sort), False)
        # The row comparison (a cursor's first part: -latest's NULLs are a second, UNION ALL'd on PostgreSQL).
        part = selectors.Cursor.of(twin, sort).parts()[0]
        plan = _plan(qs.filter(part).order_by(*selectors._order(sort)).values("pk")[:25])
        assert index in plan, plan
        # The scan starts at the cursor (Index Cond), rather than filtering every row before it.
        assert any("Index Cond" in line and "ROW(" in line for line in plan.splitlines()), plan
        assert "Sort" not in plan, plan


@postgres_only
@pytest.mark.postgres
def test_postgres_and_the_or_form_agree_on_a_page_past_null_and_non_null_rows(alice):
    _bulk(alice, 40)
    qs, _ = selectors._scoped(alice, selectors.TwinFilters(sort="-latest"), False)
    for twin in Twin.objects.filter(owner=alice):
        for backwards in (False, True):
            cursor = selectors.Cursor.of(twin, "-latest", backwards=backwards)
            order = selectors._order("-latest", reverse=backwards)
            expected = list(qs.filter(cursor.beyond()).order_by(*order).values_list("pk", flat=True)[:7])
            assert cursor.page_ids(qs, 7) == expected


def test_twin_count_counts_what_twin_list_lists(alice, carol):
    _bulk(alice, 12)
    _bulk(carol, 3)
    for filters in (selectors.TwinFilters(), selectors.TwinFilters(attrs=("colour=red",), sort="-latest")):
        assert selectors.twin_count(viewer=alice, filters=filters) == len(
            selectors.twin_list(viewer=alice, filters=filters)
        )
    assert selectors.twin_count(viewer=alice, filters=selectors.TwinFilters(attrs=("colour=red",))) == 6


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("-latest", "WyItbGF0ZXN0IiwgIjIwMjYtMTMtNDVUMDA6MDA6MDArMDA6MDAiLCA1LCAwXQ"),  # month 13
        ("-latest", "WyItbGF0ZXN0IiwgIjIwMjYtMDEtMDFUMDA6MDA6MDAiLCA1LCAwXQ"),  # no time zone
        ("name", "WyJuYW1lIiwgNSwgNSwgMF0"),  # a number for a name
        ("name", "WyJuYW1lIiwgIngiLCB0cnVlLCAwXQ"),  # true for an id
        ("name", "WyJuYW1lIiwgIngiLCA1LCAyXQ"),  # neither forwards nor backwards
        ("name", "%%%"),
        ("name", "e30"),  # {}
    ],
)
def test_a_damaged_cursor_is_a_400_with_words_never_a_500(alice_api, alice_client, alice, sort, cursor):
    _bulk(alice, 3)
    response = alice_api.get("/api/things/", {"cursor": cursor, "sort": sort})
    assert response.status_code == 400
    assert "start again from the first page" in response.json()["message"]
    page = alice_client.get(reverse("things"), {"cursor": cursor, "sort": sort})
    assert page.status_code == 400 and "start again from the first page" in page.content.decode()


def test_a_cursor_nested_too_deep_for_json_is_a_400_not_a_500(alice_client, alice):
    # json.loads raised RecursionError (not ValueError) on `[[[[…` a few thousand deep: the cards page was a 500.
    _bulk(alice, 3)
    cursor = base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=")
    page = alice_client.get(reverse("things"), {"cursor": cursor})
    assert page.status_code == 400 and "start again from the first page" in page.content.decode()
