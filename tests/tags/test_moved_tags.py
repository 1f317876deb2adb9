"""A twin that moved to another instance (issue 18; `twin.moved_to` is the new host's base URL): its tag URLs on the
old host answer 308 to the same path and query there, so printed stickers and programmed chips keep working and a
POST (a finder's message, a reading) is repeated there as it was. Nothing is recorded on the old host."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tags.models import Scan
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

NEW_HOST = "https://things.example.net"


@pytest.fixture
def moved(grinder, grinder_tag):
    grinder.moved_to = NEW_HOST
    grinder.save(update_fields=["moved_to"])
    return grinder_tag


@pytest.mark.parametrize("suffix", ["", "?nfc=1", "?picc_data=" + "0" * 32 + "&cmac=" + "0" * 16 + "&x=%C3%A9"])
def test_a_scan_of_a_moved_things_tag_is_a_308_to_the_same_url_on_the_new_host(anon_client, alice, moved, suffix):
    path = moved.get_absolute_url() + suffix
    for client in (anon_client, client_for(alice)):
        response = client.get(path)
        assert response.status_code == 308
        assert response["Location"] == NEW_HOST + path
    assert not Scan.objects.exists()


def test_the_sub_paths_of_a_moved_things_tag_are_308_too(anon_client, alice, moved):
    token = moved.token
    for name, method in (
        ("tag-message", "post"),
        ("tag-public-photo", "get"),
        ("tag-claim", "post"),
        ("tag-reading", "post"),
    ):
        path = reverse(name, args=[token])
        client = client_for(alice) if name in ("tag-claim", "tag-reading") else anon_client
        response = getattr(client, method)(
            path + "?from=sticker", {"message": "Found it"} if method == "post" else None
        )
        assert response.status_code == 308, name
        assert response["Location"] == f"{NEW_HOST}{path}?from=sticker", name


def test_a_trailing_slash_on_moved_to_is_not_doubled(anon_client, grinder, grinder_tag):
    grinder.moved_to = NEW_HOST + "/"
    grinder.save(update_fields=["moved_to"])
    assert anon_client.get(grinder_tag.get_absolute_url())["Location"] == NEW_HOST + grinder_tag.get_absolute_url()


def test_a_kept_public_page_is_dropped_when_the_thing_moves(anon_client, grinder, grinder_tag):
    assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200  # kept for the next finders now
    grinder.moved_to = NEW_HOST
    grinder.save(update_fields=["moved_to"])
    assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 308


def test_a_thing_that_has_not_moved_answers_as_before(anon_client, grinder_tag):
    assert grinder_tag.twin.moved_to == ""
    assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    assert anon_client.get(reverse("tag-public-photo", args=[grinder_tag.token])).status_code == 404


def test_the_tags_of_a_thing_still_arriving_here_answer_as_unknown_ones(anon_client, alice, grinder, grinder_tag):
    """On the destination, until the old host lets go (twins.not_live): the tag answers there, not here."""
    grinder.arriving = True
    grinder.save(update_fields=["arriving"])
    unknown = anon_client.get("/t/" + "A" * 43)
    for client in (anon_client, client_for(alice)):
        response = client.get(grinder_tag.get_absolute_url())
        assert response.status_code == 404 and response.content == unknown.content
    assert anon_client.post(reverse("tag-message", args=[grinder_tag.token]), {"message": "hi"}).status_code == 404
    assert client_for(alice).post(reverse("tag-reading", args=[grinder_tag.token]), {"value": "1"}).status_code == 404
    assert not Scan.objects.exists()


def test_the_old_host_forgets_the_nfc_keys_of_a_moved_things_tags_and_still_redirects_taps(anon_client, grinder, bob):
    from django.db import transaction

    from tags import nfc
    from tags.models import SunKeys, Tag
    from twins import events, services

    bike = services.twin_create(owner=bob, name="Bike")
    mine = Tag.objects.create(twin=grinder)
    other = Tag.objects.create(twin=bike)
    nfc.sun_provision(tags=[mine, other])
    grinder.moved_to = NEW_HOST
    grinder.save(update_fields=["moved_to"])
    with transaction.atomic():
        events.send(events.TwinMovedAway(twin_id=grinder.pk, owner_id=grinder.owner_id, moved_to=NEW_HOST))
    assert list(SunKeys.objects.values_list("tag_id", flat=True)) == [other.pk]
    tap = mine.get_absolute_url() + "?picc_data=" + "0" * 32 + "&cmac=" + "0" * 16
    response = anon_client.get(tap)
    assert response.status_code == 308 and response["Location"] == NEW_HOST + tap
