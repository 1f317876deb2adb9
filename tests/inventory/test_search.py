"""Search of one's things by name, serial, model, attribute values and journal notes, on the cards page and in the
API, on SQLite and PostgreSQL alike; only the viewer's own (and kept) things."""

import pytest
from django.utils import timezone

from tests.conftest import api_for, client_for
from twins import services
from twins.models import JournalNote

pytestmark = pytest.mark.django_db


@pytest.fixture
def things(alice, carol):
    kettle = services.twin_create(
        owner=alice, name="Kettle", model_name="Bosch TWK", serial="KT-0042", attributes={"colour": "Rotgrün"}
    )
    drill = services.twin_create(owner=alice, name="Drill", attributes={"bits": "masonry 8 mm", "volts": 18})
    bike = services.twin_create(owner=alice, name="Bike")
    JournalNote.objects.create(twin=bike, title="New chain", text="Fitted a KMC X11 chain", time=timezone.now())
    strangers = services.twin_create(owner=carol, name="Carol's kettle", serial="KT-0042", attributes={"c": "Rotgrün"})
    JournalNote.objects.create(twin=strangers, title="KMC X11 chain too", time=timezone.now())
    return {"kettle": kettle, "drill": drill, "bike": bike, "strangers": strangers}


def _cards(owner, query: str) -> list[str]:
    response = client_for(owner).get("/things/", {"q": query})
    assert response.status_code == 200
    return [twin.name for twin in response.context["page"]]


def _api(owner, query: str) -> list[str]:
    response = api_for(owner).get("/api/things/", {"q": query})
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kt-0042", ["Kettle"]),  # serial, any case
        ("twk", ["Kettle"]),  # model
        ("masonry", ["Drill"]),  # an attribute value
        ("18", ["Drill"]),  # a number value
        ("rotgrün", ["Kettle"]),  # an accented value (SQLite stores it escaped in the JSON text)
        ("x11", ["Bike"]),  # a journal note's text
        ("new chain", ["Bike"]),  # a journal note's title
        ("kettle", ["Kettle"]),  # the name, as before
    ],
)
def test_cards_and_api_find_own_things_by_each_field(things, alice, query, expected):
    assert _cards(alice, query) == expected
    assert _api(alice, query) == expected


def test_attribute_names_and_json_syntax_do_not_match(things, alice):
    assert _cards(alice, "colour") == []  # a key, not a value
    assert _cards(alice, '":') == []


def test_like_wildcards_in_the_query_are_taken_literally(things, alice):
    assert _cards(alice, "%") == []
    assert _cards(alice, "_") == []


def test_a_stranger_finds_none_of_alices_things(things, carol):
    assert _cards(carol, "kettle") == ["Carol's kettle"]
    assert _api(carol, "x11") == ["Carol's kettle"]


def test_archived_things_are_searched_only_among_the_archived(things, alice):
    services.twin_set_archived(twin=things["drill"], archived=True)
    assert _cards(alice, "masonry") == []
    response = client_for(alice).get("/things/", {"q": "masonry", "archived": "1"})
    assert [twin.name for twin in response.context["page"]] == ["Drill"]


def test_a_thing_with_several_matching_notes_is_listed_once(things, alice):
    for n in range(3):
        JournalNote.objects.create(twin=things["bike"], title=f"chain {n}", time=timezone.now())
    assert _cards(alice, "chain") == ["Bike"]


def test_a_keeper_finds_a_kept_thing_by_its_details_but_not_by_its_owners_journal(things, alice, bob):
    from credentials import keepers
    from credentials.models import AccessCredential
    from twins import access

    keepers.access_credential_issue(
        twin=things["bike"],
        issued_by=alice,
        holder=bob,
        role=AccessCredential.Role.KEEPER,
        capabilities=[access.VIEW],
    )
    services.twin_update(twin=things["bike"], attributes={"frame": "steel"})
    assert _cards(bob, "steel") == ["Bike"]
    assert _cards(bob, "x11") == []  # the journal is not the keeper's to read
