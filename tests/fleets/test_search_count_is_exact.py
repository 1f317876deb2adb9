"""A search's "Select all N matching" on the cards page: N is the number of the owner's things the search box finds
(by name, serial, model, attribute value, journal note or group name; a thing found two ways once; archived,
other owners' and attribute keys not), and selecting all of them acts on exactly those, on SQLite and PostgreSQL.
On PostgreSQL in both forms of the search's name term (twins.listing._own_fields): gathered through the trigram
index when few names have the query, tested on the row when many do."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bulk.models import BulkJob
from fleets import services as fleet_services
from twins import listing
from twins import services as twin_services
from twins.models import Twin

pytestmark = pytest.mark.django_db

# COMMON_NAME past any estimate: the name through its trigram index; below any: the name on the row.
FORMS = {"name gathered": 10**9, "name on the row": -1}


@pytest.fixture(autouse=True, params=list(FORMS))
def name_form(request, monkeypatch) -> str:
    monkeypatch.setattr(listing, "COMMON_NAME", FORMS[request.param])
    return request.param


FOUND_BY_KETTLE = {"Kettle one", "Kettle two", "Pot", "Jug", "Mug", "Cup", "Bowl"}


@pytest.fixture
def kitchen(alice, carol) -> dict[str, Twin]:
    made = {
        "Kettle one": twin_services.twin_create(owner=alice, name="Kettle one"),  # by name
        # By name and by an attribute value: counted once.
        "Kettle two": twin_services.twin_create(owner=alice, name="Kettle two", attributes={"kind": "kettle"}),
        "Pot": twin_services.twin_create(owner=alice, name="Pot", serial="KETTLE-7"),  # by serial
        "Jug": twin_services.twin_create(owner=alice, name="Jug", model_name="Kettle Pro"),  # by model
        "Mug": twin_services.twin_create(owner=alice, name="Mug", attributes={"use": "Electric kettle"}),
        "Cup": twin_services.twin_create(owner=alice, name="Cup"),  # by a journal note
        "Bowl": twin_services.twin_create(owner=alice, name="Bowl"),  # by its group's name
        "Plate": twin_services.twin_create(owner=alice, name="Plate"),
        "Spoon": twin_services.twin_create(owner=alice, name="Spoon", attributes={"kettle": "no"}),  # a key
        "Kettle old": twin_services.twin_create(owner=alice, name="Kettle old"),
    }
    twin_services.note_create(twin=made["Cup"], title="Descaled", text="Rinsed out like the kettle")
    shelf = fleet_services.group_create(owner=alice, name="Kettle shelf")
    fleet_services.members_add(group=shelf, twins=[made["Bowl"]])
    twin_services.twin_set_archived(twin=made["Kettle old"], archived=True)
    twin_services.twin_create(owner=carol, name="Carol's kettle", serial="KETTLE-8")
    return made


def _bar(client, query: str) -> tuple[str, str, set[str]]:
    """The selection bar's count and the query it posts, and the names the page lists."""
    response = client.get("/things/", {"q": query})
    assert response.status_code == 200
    page = response.content.decode()
    count_url = re.search(r'data-count-url="([^"]*)"', page)
    posted = re.search(r'name="query" value="([^"]*)"', page)
    return (
        client.get(unescape(count_url.group(1))).json()["text"] if count_url else "",
        unescape(posted.group(1)) if posted else "",
        {twin.name for twin in response.context["page"]},
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kettle", FOUND_BY_KETTLE),
        ("KETTLE-7", {"Pot"}),  # serial, any case
        ("pro", {"Jug"}),  # model
        ("electric", {"Mug"}),  # an attribute value
        ("rinsed", {"Cup"}),  # a journal note's text
        ("descaled", {"Cup"}),  # its title
        ("shelf", {"Bowl"}),  # a group's name
        ("nothing like it", set()),
    ],
)
def test_a_searchs_count_is_the_number_of_things_it_finds(alice_client, kitchen, query, expected):
    count, posted, listed = _bar(alice_client, query)
    assert listed == expected
    # No bar when nothing matches (it has nothing to select).
    assert count == (str(len(expected)) if expected else "")
    if expected:
        assert posted == f"q={query.replace(' ', '+')}"


def test_select_all_of_a_search_acts_on_exactly_the_things_it_found(alice_client, alice, kitchen):
    count, posted, listed = _bar(alice_client, "kettle")
    assert count == "7" and listed == FOUND_BY_KETTLE
    asked = alice_client.post("/bulk/act", {"action": "archive", "all": "1", "query": posted})
    assert "Archive 7 things?" in asked.content.decode()
    alice_client.post("/bulk/act", {"action": "archive", "all": "1", "query": posted, "confirm": "1"})
    archived = set(Twin.objects.filter(owner=alice, archived_at__isnull=False).values_list("name", flat=True))
    assert archived == FOUND_BY_KETTLE | {"Kettle old"}
    assert BulkJob.objects.get().total == 7
    assert not Twin.objects.filter(name="Carol's kettle", archived_at__isnull=False).exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_counts_with_the_name_term_in_the_form_its_estimate_picks(alice_client, kitchen, name_form):
    with CaptureQueriesContext(connection) as queries:
        alice_client.get("/bulk/count", {"q": "kettle"})  # the bar's number, fetched beside the page
    bar = 'SELECT COUNT(*) FROM (SELECT "twins_twin"."id"'
    counts = [q["sql"] for q in queries if q["sql"].startswith(bar)]
    assert len(counts) == 1
    on_the_row = 'WHERE ("twins_twin"."owner_id"' in counts[0] and 'UPPER("twins_twin"."name"' in counts[0]
    assert on_the_row == (name_form == "name on the row"), counts[0]
