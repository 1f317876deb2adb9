"""Places: nested per owner, renamed and moved (never into themselves), deleted with what they hold moved up,
a page per place listing everything in it (sub-places included) with its breadcrumb."""

import pytest
from django.core.exceptions import ValidationError

from inventory import locations
from inventory.models import Location, Placement
from tests.conftest import client_for
from twins import services

pytestmark = pytest.mark.django_db


def test_a_place_cannot_move_inside_a_place_inside_it(home_tree):
    with pytest.raises(ValidationError, match="Drawer is inside Home"):
        locations.location_update(location=home_tree["home"], parent=home_tree["drawer"])
    with pytest.raises(ValidationError):
        locations.location_update(location=home_tree["kitchen"], parent=home_tree["kitchen"])
    home_tree["home"].refresh_from_db()
    assert home_tree["home"].parent_id is None


def test_moving_a_place_into_itself_over_http_is_a_400_with_words(alice, home_tree):
    response = client_for(alice).post(
        f"/places/{home_tree['home'].public_id}/edit", {"name": "Home", "parent": home_tree["drawer"].public_id}
    )
    # The form does not offer places inside it, so the choice itself is refused.
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert Location.objects.get(pk=home_tree["home"].pk).parent_id is None


def test_a_place_can_move_to_another_branch(alice, home_tree):
    garage = locations.location_create(owner=alice, name="Garage")
    response = client_for(alice).post(
        f"/places/{home_tree['drawer'].public_id}/edit", {"name": "Tool drawer", "parent": garage.public_id}
    )
    assert response.status_code == 302
    drawer = Location.objects.get(pk=home_tree["drawer"].pk)
    assert (drawer.name, drawer.parent_id) == ("Tool drawer", garage.pk)


def test_two_places_of_one_name_in_one_parent_are_refused_in_any_case(alice, home_tree):
    with pytest.raises(ValidationError, match="already have a place called drawer in Kitchen"):
        locations.location_create(owner=alice, name="drawer", parent=home_tree["kitchen"])
    with pytest.raises(ValidationError, match="at the top level"):
        locations.location_create(owner=alice, name="HOME")
    # Another kitchen may have its own drawer.
    locations.location_create(owner=alice, name="Drawer", parent=home_tree["home"])


def test_a_stranger_cannot_nest_a_place_under_alices(carol, home_tree):
    response = client_for(carol).post("/places/", {"name": "Mine", "parent": home_tree["home"].public_id})
    assert response.status_code == 400  # not among carol's choices
    assert not Location.objects.filter(owner=carol).exists()
    with pytest.raises(ValidationError):
        locations.location_create(owner=carol, name="Mine", parent=home_tree["home"])


def test_blank_and_overlong_names_are_refused_with_words(alice):
    assert client_for(alice).post("/places/", {"name": "   "}).status_code == 400
    response = client_for(alice).post("/places/", {"name": "x" * 81})
    assert response.status_code == 400
    assert b"at most 80 characters" in response.content.lower()
    assert not Location.objects.exists()


def test_the_place_page_lists_things_in_it_and_in_places_inside_with_a_breadcrumb(alice, home_tree):
    kettle = services.twin_create(owner=alice, name="Kettle")
    spoon = services.twin_create(owner=alice, name="Spoon")
    services.twin_create(owner=alice, name="Elsewhere")
    locations.thing_place(twin=kettle, location=home_tree["kitchen"])
    locations.thing_place(twin=spoon, location=home_tree["drawer"])
    page = client_for(alice).get(f"/places/{home_tree['kitchen'].public_id}/")
    assert page.status_code == 200
    assert [row["twin"].name for row in page.context["things"]] == ["Kettle", "Spoon"]
    assert [p.name for p in page.context["path"]] == ["Home", "Kitchen"]
    html = page.content.decode()
    assert "Elsewhere" not in html
    assert 'data-testid="breadcrumb"' in html and "in Drawer" in html
    assert "<svg" in html  # the printable QR of its move page
    home = client_for(alice).get(f"/places/{home_tree['home'].public_id}/")
    assert [row["twin"].name for row in home.context["things"]] == ["Kettle", "Spoon"]


def test_deleting_a_place_says_and_does_what_happens_to_what_it_holds(alice, home_tree):
    spoon = services.twin_create(owner=alice, name="Spoon")
    locations.thing_place(twin=spoon, location=home_tree["kitchen"])
    client = client_for(alice)
    confirm = client.get(f"/places/{home_tree['kitchen'].public_id}/delete")
    assert "the 1 thing in it will move to Home" in confirm.content.decode()
    assert "the 1 place in it will move to Home" in confirm.content.decode()
    assert client.post(f"/places/{home_tree['kitchen'].public_id}/delete").status_code == 302
    assert Placement.objects.get(twin=spoon).location_id == home_tree["home"].pk
    assert Location.objects.get(pk=home_tree["drawer"].pk).parent_id == home_tree["home"].pk
    # At the top: the things have no place, the places go to the top level.
    confirm = client.get(f"/places/{home_tree['home'].public_id}/delete")
    assert "will have no place" in confirm.content.decode()
    client.post(f"/places/{home_tree['home'].public_id}/delete")
    assert not Placement.objects.filter(twin=spoon).exists()
    assert Location.objects.get(pk=home_tree["drawer"].pk).parent_id is None


def test_deleting_a_place_whose_inner_place_would_collide_is_refused_whole(alice, home_tree):
    locations.location_create(owner=alice, name="Drawer", parent=home_tree["home"])
    spoon = services.twin_create(owner=alice, name="Spoon")
    locations.thing_place(twin=spoon, location=home_tree["kitchen"])
    response = client_for(alice).post(f"/places/{home_tree['kitchen'].public_id}/delete")
    assert response.status_code == 400
    assert "rename one of them first" in response.content.decode()
    assert Location.objects.filter(pk=home_tree["kitchen"].pk).exists()
    assert Placement.objects.get(twin=spoon).location_id == home_tree["kitchen"].pk  # nothing half done


def test_a_thing_is_moved_from_its_page_and_only_into_its_owners_places(alice, carol, home_tree):
    kettle = services.twin_create(owner=alice, name="Kettle")
    client = client_for(alice)
    assert client.post(f"/things/{kettle.slug}/place", {"location": home_tree["drawer"].public_id}).status_code == 302
    page = client.get(f"/things/{kettle.slug}/").content.decode()
    assert 'data-testid="where"' in page and "Kitchen" in page and "Drawer" in page
    carols = locations.location_create(owner=carol, name="Carol's shed")
    assert client.post(f"/things/{kettle.slug}/place", {"location": carols.public_id}).status_code == 404
    assert Placement.objects.get(twin=kettle).location_id == home_tree["drawer"].pk
    assert client_for(carol).post(f"/things/{kettle.slug}/place", {"location": carols.public_id}).status_code == 404
    assert client.post(f"/things/{kettle.slug}/place", {"location": ""}).status_code == 302
    assert not Placement.objects.filter(twin=kettle).exists()


def test_cards_filter_by_place_includes_places_inside(alice, home_tree):
    kettle = services.twin_create(owner=alice, name="Kettle")
    spoon = services.twin_create(owner=alice, name="Spoon")
    services.twin_create(owner=alice, name="Loose")
    locations.thing_place(twin=kettle, location=home_tree["kitchen"])
    locations.thing_place(twin=spoon, location=home_tree["drawer"])
    client = client_for(alice)
    page = client.get("/things/", {"location": home_tree["kitchen"].public_id})
    assert [twin.name for twin in page.context["page"]] == ["Kettle", "Spoon"]
    assert 'data-testid="card-place"' in page.content.decode()
    page = client.get("/things/", {"location": "none"})
    assert [twin.name for twin in page.context["page"]] == ["Loose"]


def test_filtering_cards_by_a_strangers_place_is_a_400_with_words(alice, carol, home_tree):
    response = client_for(carol).get("/things/", {"location": home_tree["kitchen"].public_id})
    assert response.status_code == 400
    assert "No such place among yours" in response.content.decode()


def test_a_sold_thing_leaves_the_sellers_places_and_labels(alice, bob, home_tree, red):
    from inventory.labels import thing_set_labels
    from twins.transfer import offer_accept, offer_create

    kettle = services.twin_create(owner=alice, name="Kettle")
    locations.thing_place(twin=kettle, location=home_tree["kitchen"])
    thing_set_labels(twin=kettle, labels=[red])
    offer = offer_create(twin=kettle, seller=alice, redact_kinds=[])
    offer_accept(offer=offer, buyer=bob)
    assert not Placement.objects.filter(twin=kettle).exists()
    assert not red.twins.exists()
