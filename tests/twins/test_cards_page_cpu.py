"""The cards page's fixed work (issue 16): the inventory's filter choices, filter checks and badges each read once a
request, and never an answer of another request or another owner."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from twins import services

pytestmark = [pytest.mark.django_db, pytest.mark.needs("inventory")]


def _page(client, params: dict | None = None) -> tuple[int, str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("things"), params or {})
    return response.status_code, response.content.decode(), [q["sql"] for q in queries.captured_queries]


def _reads_of(sqls: list[str], table: str) -> list[str]:
    # Reads of the table itself (not the badges' joins through it, nor the list's).
    return [sql for sql in sqls if f'FROM "{table}"' in sql]


def test_labels_and_places_are_read_once_a_page_for_the_form_and_the_filters(alice_client, alice):
    from inventory import labels, locations

    home = locations.location_create(owner=alice, name="Home")
    drawer = locations.location_create(owner=alice, name="Drawer", parent=home)
    red = labels.label_create(owner=alice, name="Red", colour="#c62828")
    kettle = services.twin_create(owner=alice, name="Kettle")
    labels.thing_set_labels(twin=kettle, labels=[red])
    locations.thing_place(twin=kettle, location=drawer)
    services.twin_create(owner=alice, name="Lamp")
    status, page, sqls = _page(alice_client, {"label": red.pk, "location": home.public_id})
    assert status == 200
    assert 'data-thing="' + kettle.slug + '"' in page and "Lamp" not in page
    # The form's choices and both filters' checks (on the page and in the selection bar): one read of each table.
    assert len(_reads_of(sqls, "inventory_label")) == 1
    assert len(_reads_of(sqls, "inventory_location")) == 1
    assert _reads_of(sqls, "inventory_label") == _reads_of(sqls, "inventory_location")
    assert f'<option value="{drawer.public_id}">Home › Drawer</option>' in page
    assert f'<option value="{red.pk}" selected>Red</option>' in page


def test_a_label_or_place_made_after_a_page_shows_on_the_next(alice_client, alice):
    from inventory import labels, locations

    services.twin_create(owner=alice, name="Kettle")
    _, before, _ = _page(alice_client)
    assert 'data-testid="filter-label"' not in before
    red = labels.label_create(owner=alice, name="Red", colour="#c62828")
    shed = locations.location_create(owner=alice, name="Shed")
    _, after, _ = _page(alice_client)
    assert f'<option value="{red.pk}">Red</option>' in after
    assert f'<option value="{shed.public_id}">Shed</option>' in after
    labels.label_update(label=red, name="Crimson")
    _, renamed, _ = _page(alice_client)
    assert f'<option value="{red.pk}">Crimson</option>' in renamed


def test_another_owners_label_or_place_is_refused_in_words(alice_client, alice, bob):
    from inventory import labels, locations

    services.twin_create(owner=alice, name="Kettle")
    bobs_label = labels.label_create(owner=bob, name="Bob's", colour="#000000")
    bobs_place = locations.location_create(owner=bob, name="Barn")
    status, page, _ = _page(alice_client, {"label": bobs_label.pk})
    assert status == 400 and "No such label among yours" in page and "Bob&#x27;s" not in page
    status, page, _ = _page(alice_client, {"location": bobs_place.public_id})
    assert status == 400 and "No such place among yours" in page and "Barn" not in page
    status, _, _ = _page(alice_client, {"label": "9" * 30})
    assert status == 400


def test_the_place_filter_takes_the_places_inside_and_none(alice_client, alice):
    from inventory import locations

    home = locations.location_create(owner=alice, name="Home")
    kitchen = locations.location_create(owner=alice, name="Kitchen", parent=home)
    drawer = locations.location_create(owner=alice, name="Drawer", parent=kitchen)
    garage = locations.location_create(owner=alice, name="Garage")
    for name, place in (("Spoon", drawer), ("Pan", kitchen), ("Car", garage), ("Loose", None)):
        locations.thing_place(twin=services.twin_create(owner=alice, name=name), location=place)

    def names(raw: str) -> list[str]:
        response = alice_client.get(reverse("things"), {"location": raw})
        assert response.status_code == 200
        return [twin.name for twin in response.context["page"]]

    assert names(home.public_id) == ["Pan", "Spoon"]
    assert names(kitchen.public_id) == ["Pan", "Spoon"]
    assert names(drawer.public_id) == ["Spoon"]
    assert names(garage.public_id) == ["Car"]
    assert names("none") == ["Loose"]
