"""The things list's filters and sorts (twins.selectors.TwinFilters), on the cards page and /api/things/ alike.

Every expectation is an explicit set or order, so the suite's SQLite and PostgreSQL passes hold both databases to
the same results (PostgreSQL answers attribute equality through containment and its GIN index, SQLite by key)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.conftest import api_for
from twins import services
from twins.models import Twin

pytestmark = pytest.mark.django_db


def _names(api, **params) -> list[str]:
    response = api.get("/api/things/", params)
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


def _card_names(client, query: str) -> list[str]:
    response = client.get(reverse("things") + query)
    assert response.status_code == 200
    return [twin.name for twin in response.context["page"]]


def _thing(owner, name: str, **fields) -> Twin:
    return services.twin_create(owner=owner, name=name, **fields)


@pytest.fixture
def shed(alice, carol):
    """Alice's things with attributes as the forms store them (text), and carol's red one that must never show."""
    _thing(alice, "Anvil", attributes={"colour": "black", "weight": "120"}, icon="tool", model_name="A-1")
    _thing(alice, "Bucket", attributes={"colour": "red", "weight": "3.5"}, icon="home", model_name="b-2")
    _thing(alice, "Cart", attributes={"colour": "red", "weight": "20"}, icon="vehicle", model_name="B-2")
    _thing(alice, "Drill", attributes={"weight": "heavy"}, icon="tool")
    _thing(alice, "Easel", attributes={"colour": "Red", "weight": " 2e1 "})
    _thing(carol, "Carol's red box", attributes={"colour": "red", "weight": "25"})


class TestAttributeFilters:
    def test_equal_is_exact_text(self, alice_api, shed):
        assert _names(alice_api, attr="colour=red") == ["Bucket", "Cart"]

    def test_not_equal_also_lists_things_without_the_attribute(self, alice_api, shed):
        assert _names(alice_api, attr="colour!=red") == ["Anvil", "Drill", "Easel"]

    def test_a_bare_name_lists_things_that_have_it(self, alice_api, shed):
        assert _names(alice_api, attr="colour") == ["Anvil", "Bucket", "Cart", "Easel"]

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("weight>20", ["Anvil"]),
            ("weight>=20", ["Anvil", "Cart", "Easel"]),
            ("weight<20", ["Bucket"]),
            ("weight<=3.5", ["Bucket"]),
            ("weight>3.4", ["Anvil", "Bucket", "Cart", "Easel"]),
            ("weight > -1e2", ["Anvil", "Bucket", "Cart", "Easel"]),
        ],
    )
    def test_comparisons_are_numeric_and_skip_values_that_are_not_numbers(self, alice_api, shed, expression, expected):
        # "120" > "20" as numbers though not as text; Drill's "heavy" is no number, so no comparison lists it.
        assert _names(alice_api, attr=expression) == expected

    def test_expressions_combine_repeated_or_in_one_box(self, alice_api, alice_client, shed):
        assert _names(alice_api, attr=["colour=red", "weight>10"]) == ["Cart"]
        assert _card_names(alice_client, "?attr=colour%3Dred%3B+weight%3E10") == ["Cart"]

    def test_an_unknown_attribute_lists_nothing(self, alice_api, shed):
        assert _names(alice_api, attr="size>1") == []


class TestOtherFilters:
    def test_kind_model_and_name(self, alice_api, shed):
        assert _names(alice_api, kind="tool") == ["Anvil", "Drill"]
        assert _names(alice_api, model="B-2") == ["Bucket", "Cart"]  # whole, ignoring case
        assert _names(alice_api, model="B") == []
        assert _names(alice_api, name="RI") == ["Drill"]

    def test_lost(self, alice_api, alice_client, alice, shed):
        services.twin_set_lost(twin=Twin.objects.get(name="Cart"), lost=True)
        assert _names(alice_api, lost="true") == ["Cart"]
        assert _card_names(alice_client, "?lost=yes") == ["Cart"]
        assert "Cart" not in _card_names(alice_client, "?lost=no")

    def test_last_seen_before_and_after(self, alice_api, alice_client, alice, shed):
        services.reading_add(twin=Twin.objects.get(name="Anvil"), value="1", time=datetime(2026, 3, 1, 12, tzinfo=UTC))
        services.reading_add(twin=Twin.objects.get(name="Cart"), value="1", time=datetime(2026, 5, 1, 12, tzinfo=UTC))
        assert _names(alice_api, seen_after="2026-04-01T00:00:00Z") == ["Cart"]
        assert _names(alice_api, seen_before="2026-04-01") == ["Anvil"]  # never-seen things are left out
        assert _names(alice_api, seen_after="2026-01-01", seen_before="2026-12-01") == ["Anvil", "Cart"]
        assert _card_names(alice_client, "?seen_after=2026-04-01") == ["Cart"]

    @pytest.mark.needs("tags")
    def test_has_tag(self, alice_api, alice_client, shed):
        from tags.models import Tag

        Tag.objects.create(twin=Twin.objects.get(name="Bucket"))
        Tag.objects.create(twin=Twin.objects.get(name="Drill"), status=Tag.Status.RETIRED)
        assert _names(alice_api, tagged="yes") == ["Bucket"]
        assert _names(alice_api, tagged="no") == ["Anvil", "Cart", "Drill", "Easel"]
        assert _card_names(alice_client, "?tagged=yes") == ["Bucket"]

    @pytest.mark.needs("credentials")
    def test_keeper(self, alice_api, alice_client, bob, shed):
        from credentials import keepers
        from credentials.models import AccessCredential

        def keep(name: str) -> AccessCredential:
            twin = Twin.objects.get(name=name)
            return keepers.access_credential_issue(
                twin=twin,
                issued_by=twin.owner,
                holder=bob,
                role=AccessCredential.Role.KEEPER,
                capabilities=keepers.KEEPER_CAPABILITIES,
            )

        keep("Anvil")
        keepers.access_credential_revoke(credential=keep("Cart"))
        assert _names(alice_api, keeper="yes") == ["Anvil"]
        assert _names(alice_api, keeper="no") == ["Bucket", "Cart", "Drill", "Easel"]
        assert _card_names(alice_client, "?keeper=yes") == ["Anvil"]


class TestSorts:
    def test_by_name_either_way_with_id_breaking_ties(self, alice_api, alice):
        twins = [_thing(alice, name) for name in ("Same", "Apple", "Same", "Zebra", "Same")]
        same = [twin.slug for twin in twins if twin.name == "Same"]
        rows = alice_api.get("/api/things/", {"sort": "name"}).json()["results"]
        assert [row["name"] for row in rows] == ["Apple", "Same", "Same", "Same", "Zebra"]
        assert [row["id"] for row in rows if row["name"] == "Same"] == same
        rows = alice_api.get("/api/things/", {"sort": "-name"}).json()["results"]
        assert [row["name"] for row in rows] == ["Zebra", "Same", "Same", "Same", "Apple"]
        assert [row["id"] for row in rows if row["name"] == "Same"] == same[::-1]

    def test_by_last_reading_never_read_counting_oldest(self, alice_api, alice_client, alice):
        for name, day in (("Old", 1), ("Never", None), ("New", 20), ("Mid", 10)):
            twin = _thing(alice, name)
            if day:
                services.reading_add(twin=twin, value="1", time=datetime(2026, 3, day, tzinfo=UTC))
        assert _names(alice_api, sort="-latest") == ["New", "Mid", "Old", "Never"]
        assert _names(alice_api, sort="latest") == ["Never", "Old", "Mid", "New"]
        assert _names(alice_api, sort="-seen") == ["New", "Mid", "Old", "Never"]
        assert _card_names(alice_client, "?sort=-latest") == ["New", "Mid", "Old", "Never"]


class TestBadInput:
    @pytest.mark.parametrize(
        ("params", "words"),
        [
            ({"attr": "weight>heavy"}, "compares numbers"),
            ({"attr": "=red"}, "is not an attribute filter"),
            ({"attr": "colour="}, "has nothing after ="),
            ({"attr": "x" * 61 + "=1"}, "at most 60 characters"),
            ({"attr": [f"a{i}=1" for i in range(11)]}, "At most 10 attribute filters"),
            ({"attr": "weight>nan"}, "compares numbers"),
            ({"sort": "colour"}, "is not a valid choice"),
            ({"kind": "spaceship"}, "kind"),
            ({"seen_after": "yesterday"}, "is not a date"),
            ({"seen_after": "2026-02-30"}, "is not a date"),
            ({"seen_after": "2026-05-01", "seen_before": "2026-04-01"}, "must come after"),
            pytest.param({"tagged": "maybe"}, "Tagged is yes", marks=pytest.mark.needs("tags")),
            pytest.param({"keeper": "maybe"}, "Keeper is yes", marks=pytest.mark.needs("credentials")),
            ({"cursor": "not a cursor!"}, "not one this list gave out"),
            ({"cursor": "", "offset": "10"}, "not both"),
        ],
    )
    def test_api_answers_400_with_words(self, alice_api, grinder, params, words):
        response = alice_api.get("/api/things/", params)
        assert response.status_code == 400
        assert words in response.json()["message"]

    @pytest.mark.parametrize(
        ("query", "words"),
        [
            ("?attr=weight%3Eheavy", "compares numbers"),
            ("?sort=colour", "Sort by one of"),
            ("?kind=spaceship", "is not a kind of thing"),
            ("?seen_before=soon", "is not a date"),
            ("?cursor=WyJuYW1lIiwiYSIsLTEsMF0", "not one this list gave out"),
        ],
    )
    def test_cards_page_answers_400_with_words(self, alice_client, grinder, query, words):
        response = alice_client.get(reverse("things") + query)
        assert response.status_code == 400
        assert words in response.content.decode()


class TestOwnership:
    def test_carols_things_and_attributes_never_show(self, alice_api, alice_client, carol_api, shed):
        assert "Carol's red box" not in _names(alice_api, attr="colour=red")
        assert "Carol's red box" not in _names(alice_api, attr="weight>24")
        assert "Carol's red box" not in _card_names(alice_client, "?attr=colour%3Dred")
        # Carol's own filters see only hers, whatever alice's attributes say.
        assert _names(carol_api, attr="colour=red") == ["Carol's red box"]
        assert _names(carol_api, attr="colour=black") == []
        assert api_for(None).get("/api/things/", {"attr": "colour=red"}).status_code in (401, 403)


@pytest.mark.needs("bulk")
def test_a_bulk_selection_keeps_the_lists_new_parameters(alice, shed):
    from django.http import QueryDict

    from bulk.selection import Selection

    # What the cards page's "all matching" hands bulk: its own query string, attr boxes and sort included.
    selection = Selection.from_params(QueryDict("attr=colour%3Dred%3B+weight%3E10&sort=-name&kind=vehicle&page=3"))
    assert [twin.name for twin in selection.twins(alice)] == ["Cart"]
    assert Selection.from_json(selection.as_json()).filters() == selection.filters()


@pytest.mark.parametrize("key", ["a.b", "$[0]", "a__b", "naïve ✓", "a'b", "a\\b"])
def test_attribute_names_with_json_path_characters_match_exactly(alice_api, alice, key):
    _thing(alice, "Odd", attributes={key: "7", "a": "1"})
    _thing(alice, "Plain", attributes={"a": "7"})
    for expression in (f"{key}=7", f"{key}>6", key):
        assert _names(alice_api, attr=expression) == ["Odd"], expression
    assert _names(alice_api, attr=f"{key}!=7") == ["Plain"]


def test_an_attribute_name_with_a_double_quote_is_refused_in_words(alice_api, alice):
    response = alice_api.get("/api/things/", {"attr": 'a"b=7'})
    assert response.status_code == 400 and "double quote" in response.json()["message"]
