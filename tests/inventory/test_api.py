"""The inventory API: places and labels (read/write), a thing's place and labels, cards filters; the caller's own
only, bad input a 400 naming what is wrong, nothing half written."""

import pytest

from inventory import labels, locations
from inventory.models import Label, Location, Placement
from tests.conftest import api_for
from twins import services

pytestmark = pytest.mark.django_db


def test_places_are_created_nested_moved_and_deleted(alice):
    api = api_for(alice)
    home = api.post("/api/places/", {"name": "Home"}, format="json")
    assert home.status_code == 201, home.content
    kitchen = api.post("/api/places/", {"name": "Kitchen", "parent": home.json()["id"]}, format="json").json()
    assert kitchen["parent"] == home.json()["id"]
    cycle = api.patch(f"/api/places/{home.json()['id']}/", {"parent": kitchen["id"]}, format="json")
    assert cycle.status_code == 400
    assert "Kitchen is inside Home" in cycle.json()["message"]
    top = api.patch(f"/api/places/{kitchen['id']}/", {"parent": None, "name": "Big kitchen"}, format="json")
    assert top.json() == {**kitchen, "parent": None, "name": "Big kitchen"}
    assert [item["name"] for item in api.get("/api/places/").json()["results"]] == ["Big kitchen", "Home"]
    assert api.delete(f"/api/places/{kitchen['id']}/").status_code == 204
    assert list(Location.objects.values_list("name", flat=True)) == ["Home"]


def test_place_input_is_strict(alice):
    api = api_for(alice)
    assert api.post("/api/places/", {"nmae": "Home"}, format="json").status_code == 400
    assert api.post("/api/places/", {"name": 5}, format="json").status_code == 400
    response = api.post("/api/places/", {"name": "Shed", "parent": "no-such-place"}, format="json")
    assert response.status_code == 400 and "No such place among yours" in response.json()["message"]
    assert not Location.objects.exists()


def test_a_stranger_gets_404_for_alices_places_and_labels(alice, carol, home_tree, red):
    api = api_for(carol)
    assert api.get(f"/api/places/{home_tree['home'].public_id}/").status_code == 404
    assert api.delete(f"/api/places/{home_tree['home'].public_id}/").status_code == 404
    assert api.patch(f"/api/labels/{red.pk}/", {"name": "Mine"}, format="json").status_code == 404
    assert api.get("/api/places/").json()["results"] == []
    assert api.get("/api/labels/").json()["results"] == []
    response = api.post("/api/places/", {"name": "x", "parent": home_tree["home"].public_id}, format="json")
    assert response.status_code == 400


def test_labels_are_created_with_their_text_colour_and_refused_without_a_hex_colour(alice):
    api = api_for(alice)
    made = api.post("/api/labels/", {"name": "Sell", "colour": "#F9A825"}, format="json")
    assert made.status_code == 201
    assert (made.json()["colour"], made.json()["text_colour"]) == ("#f9a825", "#000000")
    bad = api.post("/api/labels/", {"name": "Bad", "colour": "yellow"}, format="json")
    assert bad.status_code == 400 and "#rrggbb" in bad.json()["message"]
    twice = api.post("/api/labels/", {"name": "sell", "colour": "#000000"}, format="json")
    assert twice.status_code == 400
    black = api.patch(f"/api/labels/{made.json()['id']}/", {"colour": "#000000"}, format="json")
    assert black.json()["text_colour"] == "#ffffff"


def test_a_things_place_and_labels_are_read_and_written(alice, home_tree, red):
    kettle = services.twin_create(owner=alice, name="Kettle")
    api = api_for(alice)
    url = f"/api/things/{kettle.slug}/inventory"
    assert api.get(url).json() == {"location": None, "path": [], "labels": []}
    written = api.patch(url, {"location": home_tree["drawer"].public_id, "labels": [red.pk]}, format="json")
    assert written.status_code == 200, written.content
    body = written.json()
    assert body["location"]["name"] == "Drawer"
    assert [place["name"] for place in body["path"]] == ["Home", "Kitchen", "Drawer"]
    assert [label["name"] for label in body["labels"]] == ["Red"]
    assert api.patch(url, {"location": None}, format="json").json()["location"] is None
    assert [label["name"] for label in api.get(url).json()["labels"]] == ["Red"]


def test_a_bad_label_leaves_the_move_undone(alice, carol, home_tree):
    kettle = services.twin_create(owner=alice, name="Kettle")
    carols = labels.label_create(owner=carol, name="Carol's")
    response = api_for(alice).patch(
        f"/api/things/{kettle.slug}/inventory",
        {"location": home_tree["drawer"].public_id, "labels": [carols.pk]},
        format="json",
    )
    assert response.status_code == 400 and "No such label among yours" in response.json()["message"]
    assert not Placement.objects.filter(twin=kettle).exists()
    assert not Label.twins.through.objects.filter(twin_id=kettle.pk).exists()
    carols_place = locations.location_create(owner=carol, name="Shed")
    response = api_for(alice).patch(
        f"/api/things/{kettle.slug}/inventory", {"location": carols_place.public_id}, format="json"
    )
    assert response.status_code == 400 and "No such place among yours" in response.json()["message"]
    assert api_for(carol).get(f"/api/things/{kettle.slug}/inventory").status_code == 404


def test_the_things_api_filters_by_label_and_place(alice, home_tree, red):
    kettle = services.twin_create(owner=alice, name="Kettle")
    services.twin_create(owner=alice, name="Other")
    locations.thing_place(twin=kettle, location=home_tree["drawer"])
    labels.thing_set_labels(twin=kettle, labels=[red])
    api = api_for(alice)
    by_place = api.get("/api/things/", {"location": home_tree["home"].public_id}).json()["results"]
    assert [item["name"] for item in by_place] == ["Kettle"]
    by_label = api.get("/api/things/", {"label": red.pk}).json()["results"]
    assert [item["name"] for item in by_label] == ["Kettle"]
    bad = api.get("/api/things/", {"label": 999999})
    assert bad.status_code == 400 and "No such label among yours" in bad.json()["message"]


def test_the_schema_documents_the_inventory_operations(alice):
    schema = api_for(alice).get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/places/", "/api/places/{location_id}/", "/api/labels/", "/api/things/{slug}/inventory"):
        assert path in schema["paths"], path
    assert "text_colour" in schema["components"]["schemas"]["Label"]["properties"]


def test_the_schema_documents_the_things_lists_label_and_place_filters(alice):
    schema = api_for(alice).get("/api/schema/", {"format": "json"}).json()
    names = {parameter["name"] for parameter in schema["paths"]["/api/things/"]["get"]["parameters"]}
    assert {"q", "label", "location"} <= names
    assert "parameters" not in schema["paths"]["/api/things/"]["post"] or not {
        p["name"] for p in schema["paths"]["/api/things/"]["post"]["parameters"]
    } & {"label", "location"}
