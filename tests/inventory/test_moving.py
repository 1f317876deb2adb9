"""Moving things from a phone: a place's QR opens "move things here"; once started, scanning a thing's tag offers
"Move here" to its owner (and to no one else), until the move ends."""

import pytest
from django.conf import settings

from inventory import locations, moving
from inventory.models import Placement
from tags.models import Tag
from tests.conftest import client_for
from twins import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def kettle(alice):
    return services.twin_create(owner=alice, name="Kettle")


@pytest.fixture
def kettle_tag(kettle):
    return Tag.objects.create(twin=kettle)


def test_the_place_qr_carries_its_move_page_on_the_site_address(alice, home_tree):
    page = client_for(alice).get(f"/places/{home_tree['drawer'].public_id}/")
    assert page.context["move_url"] == f"{settings.SITE_URL}/places/{home_tree['drawer'].public_id}/move"


def test_opening_the_move_page_starts_nothing(alice, home_tree, kettle_tag):
    client = client_for(alice)
    page = client.get(f"/places/{home_tree['drawer'].public_id}/move")
    assert page.status_code == 200 and 'data-testid="move-start"' in page.content.decode()
    assert 'data-testid="scan-move"' not in client.get(f"/t/{kettle_tag.token}").content.decode()


def test_scanning_a_tag_while_moving_offers_move_here_and_moves_it(alice, home_tree, kettle, kettle_tag):
    client = client_for(alice)
    drawer = home_tree["drawer"]
    assert client.post(f"/places/{drawer.public_id}/move").status_code == 302
    scan = client.get(f"/t/{kettle_tag.token}").content.decode()
    assert 'data-testid="move-here"' in scan and "Move here: Drawer" in scan
    moved = client.post(f"/things/{kettle.slug}/place", {"location": drawer.public_id, "via": "scan"})
    assert moved.status_code == 302 and moved["Location"] == f"/places/{drawer.public_id}/move"
    assert Placement.objects.get(twin=kettle).location_id == drawer.pk
    again = client.get(f"/t/{kettle_tag.token}").content.decode()
    assert "Kettle is in Drawer" in again and 'data-testid="move-here"' not in again
    page = client.get(f"/places/{drawer.public_id}/move").content.decode()
    assert 'data-testid="moved-here"' in page and "Kettle" in page
    assert client.post("/places/move/end").status_code == 302
    assert 'data-testid="scan-move"' not in client.get(f"/t/{kettle_tag.token}").content.decode()


def test_a_move_ends_by_itself_after_its_time(alice, home_tree, kettle_tag):
    client = client_for(alice)
    client.post(f"/places/{home_tree['drawer'].public_id}/move")
    session = client.session
    move = session[moving.SESSION_KEY]
    move["until"] = "2000-01-01T00:00:00+00:00"
    session[moving.SESSION_KEY] = move
    session.save()
    assert 'data-testid="scan-move"' not in client.get(f"/t/{kettle_tag.token}").content.decode()


def test_a_finder_scanning_during_the_owners_move_sees_no_move(alice, carol, home_tree, kettle_tag):
    client_for(alice).post(f"/places/{home_tree['drawer'].public_id}/move")
    carol_client = client_for(carol)
    carol_client.post(f"/places/{home_tree['drawer'].public_id}/move")  # carol's 404: nothing started
    assert "move-here" not in carol_client.get(f"/t/{kettle_tag.token}").content.decode()


def test_a_deleted_place_ends_the_move(alice, home_tree, kettle_tag):
    client = client_for(alice)
    client.post(f"/places/{home_tree['drawer'].public_id}/move")
    locations.location_delete(location=home_tree["drawer"])
    assert 'data-testid="scan-move"' not in client.get(f"/t/{kettle_tag.token}").content.decode()
